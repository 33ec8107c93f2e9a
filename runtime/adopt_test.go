package runtime

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// An agent restart: the new Runtime re-adopts the running containers of
// the pods still bound here (no restart, same instances, same counts),
// destroys what belongs to the others before starting new pods, and
// reports a container that died meanwhile as ContainerStatusUnknown.
func TestAdoptionAfterRestart(t *testing.T) {
	h := newHarness(t)
	keep := testPod("keep", "a", "b")
	gone := testPod("gone", "a")
	h.r.SyncPods([]*api.Pod{keep, gone})
	h.waitPhase(string(keep.UID), api.PodRunning)
	h.waitPhase(string(gone.UID), api.PodRunning)
	a0 := h.container(string(keep.UID), "a", 0)
	h.container(string(keep.UID), "a", 0).exit(exitStatus{Code: 1}) // one restart before the agent stops
	a1 := h.container(string(keep.UID), "a", 1)
	b0 := h.container(string(keep.UID), "b", 0)
	h.waitFor(string(keep.UID), "a restarted", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 1 && u.Status.ContainerStatuses[0].State.Running != nil
	})
	h.mu.Lock()
	before := h.latest[string(keep.UID)]
	h.mu.Unlock()
	_ = a0

	h.restart()
	// While the agent was down, b died; its exit code is lost with it.
	b0.unknown = true
	b0.exit(exitStatus{Code: 0})

	fresh := testPod("fresh", "a")
	h.rt.mu.Lock()
	var freshStartedBeforeCleanup bool
	h.rt.onStart = func(c *fakeContainer) {
		h.rt.mu.Lock()
		defer h.rt.mu.Unlock()
		if c.sb.spec.ID == string(fresh.UID) && !slices.Contains(h.rt.destroyed, string(gone.UID)) {
			freshStartedBeforeCleanup = true
		}
	}
	h.rt.mu.Unlock()
	h.r.SyncPods([]*api.Pod{keep, fresh})

	u := h.waitFor(string(keep.UID), "b restarted", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[1].RestartCount == 1 && u.Status.ContainerStatuses[1].State.Running != nil
	})
	a := u.Status.ContainerStatuses[0]
	if a.RestartCount != 1 || a.ContainerID != before.Status.ContainerStatuses[0].ContainerID || a.State.Running == nil {
		t.Errorf("a after re-adoption: %+v", a)
	}
	if h.container(string(keep.UID), "a", 1) != a1 {
		t.Error("a was restarted by the re-adoption")
	}
	if lt := u.Status.ContainerStatuses[1].LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" || lt.ExitCode != 137 {
		t.Errorf("b's end while the agent was down: %+v", lt)
	}
	if u.Status.StartTime == nil || !u.Status.StartTime.Time.Equal(before.Status.StartTime.Time) {
		t.Errorf("startTime %v, was %v", u.Status.StartTime, before.Status.StartTime)
	}
	h.waitPhase(string(fresh.UID), api.PodRunning)
	if freshStartedBeforeCleanup {
		t.Error("a new pod started before the pods that are gone were removed")
	}
	if h.rt.sandbox(string(gone.UID)) != nil {
		t.Error("the sandbox of a pod no longer bound here survived the restart")
	}
	assertNoDir(t, h.r.podDir(string(gone.UID)))
	if h.rt.createdCount() != 3 {
		t.Errorf("%d sandboxes created, want 3 (keep, gone, fresh)", h.rt.createdCount())
	}
}

// A record whose sandbox is gone (the node rebooted): the containers are
// reported ContainerStatusUnknown and the pod starts again in a new
// sandbox; under Never it fails instead.
func TestAdoptionWithoutSandbox(t *testing.T) {
	h := newHarness(t)
	always := testPod("always", "a")
	never := testPod("never", "a")
	never.Spec.RestartPolicy = api.RestartPolicyNever
	h.r.SyncPods([]*api.Pod{always, never})
	h.waitPhase(string(always.UID), api.PodRunning)
	h.waitPhase(string(never.UID), api.PodRunning)
	h.stop()
	for _, uid := range []string{string(always.UID), string(never.UID)} {
		h.rt.sandbox(uid).Destroy(context.Background()) // "reboot"
	}
	h.start()
	h.r.SyncPods([]*api.Pod{always, never})
	u := h.waitFor(string(always.UID), "restarted", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 1 && u.Status.ContainerStatuses[0].State.Running != nil
	})
	if lt := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" {
		t.Errorf("last state %+v", lt)
	}
	u = h.waitPhase(string(never.UID), api.PodFailed)
	if st := u.Status.ContainerStatuses[0].State.Terminated; st == nil || st.Reason != "ContainerStatusUnknown" || st.ExitCode != 137 {
		t.Errorf("never: %+v", u.Status.ContainerStatuses[0].State)
	}
}

// A pod that reaches this node already finished, with no record here, is
// not run again and its status is left alone.
func TestFinishedPodIsNotRunAgain(t *testing.T) {
	h := newHarness(t)
	p := testPod("done", "a")
	p.Status.Phase = api.PodSucceeded
	h.r.SyncPods([]*api.Pod{p})
	time.Sleep(50 * time.Millisecond)
	if h.rt.createdCount() != 0 {
		t.Error("a finished pod was started")
	}
	h.mu.Lock()
	n := h.updates[string(p.UID)]
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("%d updates for a finished pod", n)
	}
	if got := h.r.Used(); got.Pods != 0 {
		t.Errorf("a finished pod counts in Used: %+v", got)
	}
	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	d.DeletionTimestamp = &now
	h.r.SyncPods([]*api.Pod{d})
	u := h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if u.Status.Phase != api.PodSucceeded {
		t.Errorf("final status %s", u.Status.Phase)
	}
}

func TestPodBoundElsewhereIsIgnored(t *testing.T) {
	h := newHarness(t)
	p := testPod("other", "a")
	p.Spec.NodeName = "node-2"
	h.r.SyncPods([]*api.Pod{p})
	time.Sleep(30 * time.Millisecond)
	if h.rt.createdCount() != 0 {
		t.Error("a pod bound to another node was started")
	}
}

func TestRecordSurvivesAndIsAtomic(t *testing.T) {
	h := newHarness(t)
	p := testPod("rec", "a")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	waitUntil(t, "record written", func() bool {
		st, err := readRecord(h.r.podDir(string(p.UID)) + "/" + recordFile)
		return err == nil && len(st.Containers) == 1 && st.Containers[0].Running
	})
	entries, err := os.ReadDir(h.r.podDir(string(p.UID)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != recordFile && !e.IsDir() {
			t.Errorf("stray file %s next to the record", e.Name())
		}
	}
}

// Updates of one pod that pile up while nobody reads are sent once, with
// the latest status and every event.
func TestUpdateQueueCoalesces(t *testing.T) {
	q := newUpdateQueue()
	ev := func(r string) []api.Event { return []api.Event{{Reason: r}} }
	q.push(PodUpdate{UID: "a", Status: api.PodStatus{Phase: api.PodPending}, Events: ev("Pulled")})
	q.push(PodUpdate{UID: "b", Status: api.PodStatus{Phase: api.PodPending}})
	q.push(PodUpdate{UID: "a", Status: api.PodStatus{Phase: api.PodRunning}, Events: ev("Started")})
	q.push(PodUpdate{UID: "a", Removed: true, Status: api.PodStatus{Phase: api.PodSucceeded}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { q.run(ctx) })
	u1, u2 := <-q.out, <-q.out
	cancel()
	wg.Wait()
	if u1.UID != "a" || u1.Status.Phase != api.PodSucceeded || !u1.Removed || len(u1.Events) != 2 {
		t.Errorf("first update %+v", u1)
	}
	if u2.UID != "b" {
		t.Errorf("second update %+v", u2)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil {
		t.Error("no NodeName accepted")
	}
	c.NodeName = "n1"
	if err := c.Validate(); err != nil {
		t.Errorf("defaults with a node name: %v", err)
	}
	bad := Config{Root: "rel:ative", LogMaxBytes: 10}
	err := bad.Validate()
	for _, want := range []string{"Root", "NodeName", "LogMaxBytes", "SeccompProfileRoot"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}
