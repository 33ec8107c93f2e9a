package runtime

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

func TestPodStartsAndRuns(t *testing.T) {
	h := newHarness(t)
	p := testPod("web", "a", "b")
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitPhase(string(p.UID), api.PodRunning)
	if u.Status.StartTime == nil {
		t.Error("startTime not set")
	}
	for _, cs := range u.Status.ContainerStatuses {
		if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started {
			t.Errorf("%s: want running, ready, started: %+v", cs.Name, cs)
		}
		if !strings.HasPrefix(cs.ContainerID, "gossipod://") || cs.ImageID == "" || cs.Image != "busybox:1.36" {
			t.Errorf("%s: containerID %q imageID %q image %q", cs.Name, cs.ContainerID, cs.ImageID, cs.Image)
		}
	}
	for _, c := range u.Status.Conditions {
		if c.Status != api.ConditionTrue {
			t.Errorf("condition %s = %s", c.Type, c.Status)
		}
		if c.Type == api.PodScheduled {
			t.Error("the runtime must not report PodScheduled")
		}
	}
	sb := h.rt.sandbox(string(p.UID))
	if sb.spec.Hostname != "web" || sb.spec.SharePID {
		t.Errorf("sandbox spec %+v", sb.spec)
	}
	// Identical events are folded into one with a count.
	want := []string{eventPulled, eventCreated, eventStarted, eventCreated, eventStarted}
	if got := h.eventReasons(string(p.UID)); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if ev := h.eventsOf(string(p.UID))[0]; ev.Count != 2 || ev.Message != `Container image "busybox:1.36" already present on machine` {
		t.Errorf("Pulled event %q count %d", ev.Message, ev.Count)
	}
	for _, e := range h.eventsOf(string(p.UID)) {
		if e.Source.Component != "kubelet" || e.Source.Host != "node-1" || e.InvolvedObject.UID != p.UID {
			t.Errorf("event source/object: %+v", e)
		}
	}
	if got := h.r.Used(); got.Pods != 1 {
		t.Errorf("Used = %+v", got)
	}
}

func TestSyncPodsUnchangedIsCheap(t *testing.T) {
	h := newHarness(t)
	p := testPod("web", "a")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	time.Sleep(20 * time.Millisecond)
	h.mu.Lock()
	before := h.updates[string(p.UID)]
	h.mu.Unlock()
	for range 50 {
		q := p.DeepCopy()
		q.ResourceVersion = "42" // a status write bumps it; the spec is the same
		h.r.SyncPods([]*api.Pod{q})
	}
	time.Sleep(50 * time.Millisecond)
	h.mu.Lock()
	after := h.updates[string(p.UID)]
	h.mu.Unlock()
	if after != before {
		t.Errorf("unchanged SyncPods produced %d updates", after-before)
	}
	if n := h.rt.createdCount(); n != 1 {
		t.Errorf("%d sandboxes created", n)
	}
}

func TestHostnameAndSharePID(t *testing.T) {
	h := newHarness(t)
	p := testPod("web", "a")
	p.Spec.Hostname = "custom"
	share := true
	p.Spec.ShareProcessNamespace = &share
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	if sb := h.rt.sandbox(string(p.UID)); sb.spec.Hostname != "custom" || !sb.spec.SharePID {
		t.Errorf("sandbox spec %+v", sb.spec)
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	h := newHarness(t)
	p := testPod("crash", "c")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)

	// First exit: restarted at once (kubelet's back-off starts after it).
	h.container(string(p.UID), "c", 0).exit(exitStatus{Code: 1})
	h.container(string(p.UID), "c", 1)
	u := h.waitFor(string(p.UID), "restartCount 1", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 1 && u.Status.ContainerStatuses[0].State.Running != nil
	})
	last := u.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 1 || last.Reason != "Error" {
		t.Fatalf("lastTerminationState %+v", last)
	}

	// Second exit: back-off of Initial, shown as CrashLoopBackOff.
	h.container(string(p.UID), "c", 1).exit(exitStatus{Code: 2})
	u = h.waitFor(string(p.UID), "CrashLoopBackOff", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCrashLoopBackOff
	})
	cs := u.Status.ContainerStatuses[0]
	wantMsg := "back-off 50ms restarting failed container=c pod=crash_default(" + string(p.UID) + ")"
	if cs.State.Waiting.Message != wantMsg {
		t.Errorf("message %q, want %q", cs.State.Waiting.Message, wantMsg)
	}
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 || cs.RestartCount != 1 {
		t.Errorf("while backing off: %+v", cs)
	}
	if u.Status.Phase != api.PodRunning {
		t.Errorf("phase %s during CrashLoopBackOff under Always", u.Status.Phase)
	}
	if !slices.Contains(h.eventReasons(string(p.UID)), eventBackOff) {
		t.Error("no BackOff event")
	}
	// ...and then restarted with the back-off doubled for next time.
	h.container(string(p.UID), "c", 2).exit(exitStatus{Code: 3})
	u = h.waitFor(string(p.UID), "back-off 100ms", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && strings.HasPrefix(w.Message, "back-off 100ms")
	})
	h.container(string(p.UID), "c", 3)
	h.waitFor(string(p.UID), "restartCount 3", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 3
	})
}

func TestOOMKilled(t *testing.T) {
	h := newHarness(t)
	p := testPod("oom", "hog")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "hog", 0).exit(exitStatus{Code: 137, Signal: 9, OOMKilled: true})
	u := h.waitFor(string(p.UID), "restart after OOM", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.LastTerminationState.Terminated != nil
	})
	if lt := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt.Reason != "OOMKilled" || lt.ExitCode != 137 {
		t.Errorf("last state %+v", lt)
	}
}

func TestRestartPolicyNeverAndOnFailure(t *testing.T) {
	h := newHarness(t)
	never := testPod("never", "a", "b")
	never.Spec.RestartPolicy = api.RestartPolicyNever
	onf := testPod("onfailure", "a")
	onf.Spec.RestartPolicy = api.RestartPolicyOnFailure
	h.r.SyncPods([]*api.Pod{never, onf})
	h.waitPhase(string(never.UID), api.PodRunning)
	h.waitPhase(string(onf.UID), api.PodRunning)

	h.container(string(never.UID), "a", 0).exit(exitStatus{Code: 0})
	u := h.waitFor(string(never.UID), "a completed", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].State.Terminated != nil
	})
	if u.Status.Phase != api.PodRunning {
		t.Errorf("phase %s with b still running", u.Status.Phase)
	}
	h.container(string(never.UID), "b", 0).exit(exitStatus{Code: 3})
	u = h.waitPhase(string(never.UID), api.PodFailed)
	if t0 := u.Status.ContainerStatuses[0].State.Terminated; t0.Reason != "Completed" {
		t.Errorf("a: %+v", t0)
	}
	if t1 := u.Status.ContainerStatuses[1].State.Terminated; t1.Reason != "Error" || t1.ExitCode != 3 {
		t.Errorf("b: %+v", t1)
	}
	// A finished pod releases its sandbox and its resources.
	waitUntil(t, "sandbox destroyed", func() bool { return h.rt.sandbox(string(never.UID)) == nil })
	if got := h.r.Used(); got.Pods != 1 {
		t.Errorf("Used = %+v, want only the OnFailure pod", got)
	}

	// OnFailure: a failure restarts, a success ends the pod.
	h.container(string(onf.UID), "a", 0).exit(exitStatus{Code: 1})
	h.container(string(onf.UID), "a", 1).exit(exitStatus{Code: 0})
	u = h.waitPhase(string(onf.UID), api.PodSucceeded)
	if cs := u.Status.ContainerStatuses[0]; cs.RestartCount != 1 {
		t.Errorf("restartCount %d", cs.RestartCount)
	}
	for _, c := range u.Status.Conditions {
		if c.Type == api.PodReady && (c.Status != api.ConditionFalse || c.Reason != "PodCompleted") {
			t.Errorf("Ready of a succeeded pod: %+v", c)
		}
	}
}

func TestInitContainersRunInOrder(t *testing.T) {
	h := newHarness(t)
	p := withInit(testPod("war", "app", "sidecar"), "init1", "init2")
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitFor(string(p.UID), "init1 running", func(u PodUpdate) bool {
		return len(u.Status.InitContainerStatuses) == 2 && u.Status.InitContainerStatuses[0].State.Running != nil
	})
	if u.Status.Phase != api.PodPending {
		t.Errorf("phase %s while initializing", u.Status.Phase)
	}
	if w := u.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != reasonPodInitializing {
		t.Errorf("app container while initializing: %+v", u.Status.ContainerStatuses[0].State)
	}
	if w := u.Status.InitContainerStatuses[1].State.Waiting; w == nil || w.Reason != reasonPodInitializing {
		t.Errorf("init2 while init1 runs: %+v", u.Status.InitContainerStatuses[1].State)
	}
	cond := conditionOf(u.Status, api.PodInitialized)
	if cond.Status != api.ConditionFalse || cond.Message != "containers with incomplete status: [init1 init2]" {
		t.Errorf("Initialized: %+v", cond)
	}
	h.container(string(p.UID), "init1", 0).exit(exitStatus{Code: 0})
	h.container(string(p.UID), "init2", 0).exit(exitStatus{Code: 0})
	u = h.waitPhase(string(p.UID), api.PodRunning)
	// Init containers one after the other, then the app containers
	// (started together, in any order).
	got := h.rt.sandbox(string(p.UID)).startOrder()
	if len(got) != 4 || !slices.Equal(got[:2], []string{"init1", "init2"}) || !slices.Contains(got[2:], "app") || !slices.Contains(got[2:], "sidecar") {
		t.Errorf("start order %v", got)
	}
	if cond := conditionOf(u.Status, api.PodInitialized); cond.Status != api.ConditionTrue {
		t.Errorf("Initialized: %+v", cond)
	}
	for _, ics := range u.Status.InitContainerStatuses {
		if ics.State.Terminated == nil || ics.State.Terminated.Reason != "Completed" || !ics.Ready {
			t.Errorf("init status %+v", ics)
		}
	}
}

func TestFailedInitContainer(t *testing.T) {
	h := newHarness(t)
	retry := withInit(testPod("retry", "app"), "init")
	never := withInit(testPod("never", "app"), "init")
	never.Spec.RestartPolicy = api.RestartPolicyNever
	h.r.SyncPods([]*api.Pod{retry, never})

	h.container(string(never.UID), "init", 0).exit(exitStatus{Code: 1})
	u := h.waitPhase(string(never.UID), api.PodFailed)
	if w := u.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != reasonPodInitializing {
		t.Errorf("app of a pod whose init failed: %+v", u.Status.ContainerStatuses[0].State)
	}

	h.container(string(retry.UID), "init", 0).exit(exitStatus{Code: 1})
	h.container(string(retry.UID), "init", 1).exit(exitStatus{Code: 1})
	u = h.waitFor(string(retry.UID), "init back-off", func(u PodUpdate) bool {
		w := u.Status.InitContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCrashLoopBackOff
	})
	if u.Status.Phase != api.PodPending {
		t.Errorf("phase %s while init backs off", u.Status.Phase)
	}
	h.container(string(retry.UID), "init", 2).exit(exitStatus{Code: 0})
	h.waitPhase(string(retry.UID), api.PodRunning)
}

func TestImagePullErrors(t *testing.T) {
	h := newHarness(t)
	p := testPod("img", "a")
	p.Spec.Containers[0].Image = "registry.example:5000/missing:1"
	p.Spec.Containers[0].ImagePullPolicy = api.PullIfNotPresent
	n := testPod("never", "a")
	n.Spec.Containers[0].Image = "localhost/absent:1"
	n.Spec.Containers[0].ImagePullPolicy = api.PullNever
	h.r.SyncPods([]*api.Pod{p, n})

	h.waitSeen(string(p.UID), "ErrImagePull", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImagePull"
	})
	u := h.waitFor(string(p.UID), "ImagePullBackOff", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonImagePullBackOff
	})
	if w := u.Status.ContainerStatuses[0].State.Waiting; w.Message != `Back-off pulling image "registry.example:5000/missing:1"` {
		t.Errorf("message %q", w.Message)
	}
	if u.Status.Phase != api.PodPending {
		t.Errorf("phase %s", u.Status.Phase)
	}
	reasons := h.eventReasons(string(p.UID))
	for _, want := range []string{eventPulling, eventFailed, eventBackOff} {
		if !slices.Contains(reasons, want) {
			t.Errorf("no %s event in %v", want, reasons)
		}
	}
	// The registry gets the image: the next try after the back-off works.
	h.images.mu.Lock()
	h.images.registry["registry.example:5000/missing:1"] = busyboxImage("registry.example:5000/missing:1")
	h.images.mu.Unlock()
	h.waitPhase(string(p.UID), api.PodRunning)

	u = h.waitFor(string(n.UID), "ErrImageNeverPull", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImageNeverPull"
	})
	if w := u.Status.ContainerStatuses[0].State.Waiting; w.Message != `Container image "localhost/absent:1" is not present with pull policy of Never` {
		t.Errorf("message %q", w.Message)
	}
	// Loading the image starts the pod at once.
	if _, err := h.r.LoadImage(strings.NewReader("localhost/absent:1")); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(string(n.UID), api.PodRunning)
}

func TestStartErrorBacksOff(t *testing.T) {
	h := newHarness(t)
	h.rt.mu.Lock()
	h.rt.startErr["bad"] = errFake
	h.rt.mu.Unlock()
	p := testPod("bad", "bad")
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitFor(string(p.UID), "CreateContainerError", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCreateContainerError
	})
	if !strings.Contains(u.Status.ContainerStatuses[0].State.Waiting.Message, "fake failure") {
		t.Errorf("message %q", u.Status.ContainerStatuses[0].State.Waiting.Message)
	}
	h.rt.mu.Lock()
	delete(h.rt.startErr, "bad")
	h.rt.mu.Unlock()
	u = h.waitPhase(string(p.UID), api.PodRunning)
	if u.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Error("a start that failed counted as a restart")
	}
}

func TestGracefulDeletion(t *testing.T) {
	h := newHarness(t)
	p := testPod("del", "a", "stubborn")
	grace := int64(0)
	p.Spec.TerminationGracePeriodSeconds = &grace
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "stubborn", 0).ignoreTerm = true

	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	g := int64(1)
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds = &now, &g
	start := time.Now()
	h.r.SyncPods([]*api.Pod{d})
	u := h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	took := time.Since(start)
	if took < 900*time.Millisecond {
		t.Errorf("removed after %v: the stubborn container did not get its grace period", took)
	}
	if cs := u.Status.ContainerStatuses[0].State.Terminated; cs == nil || cs.ExitCode != 143 {
		t.Errorf("a (SIGTERM): %+v", u.Status.ContainerStatuses[0].State)
	}
	if cs := u.Status.ContainerStatuses[1].State.Terminated; cs == nil || cs.ExitCode != 137 {
		t.Errorf("stubborn (SIGKILL): %+v", u.Status.ContainerStatuses[1].State)
	}
	if !slices.Contains(h.eventReasons(string(p.UID)), eventKilling) {
		t.Error("no Killing event")
	}
	if h.rt.sandbox(string(p.UID)) != nil {
		t.Error("sandbox left")
	}
	assertNoDir(t, h.r.podDir(string(p.UID)))
	if got := h.r.Used(); got.Pods != 0 {
		t.Errorf("Used after removal = %+v", got)
	}
	// Still listed (not yet confirmed): nothing starts again.
	h.r.SyncPods([]*api.Pod{d})
	time.Sleep(30 * time.Millisecond)
	if h.rt.sandbox(string(p.UID)) != nil || h.rt.createdCount() != 1 {
		t.Error("a deleted pod was started again")
	}
	h.r.SyncPods(nil)
	waitUntil(t, "worker forgotten", func() bool { return h.r.findWorker("default", "del") == nil })
}

func TestOrphanKilledAtOnce(t *testing.T) {
	h := newHarness(t)
	p := testPod("gone", "stubborn")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "stubborn", 0).ignoreTerm = true // 30 s grace: must not be waited for
	start := time.Now()
	h.r.SyncPods(nil)
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("orphan removal took %v", took)
	}
	assertNoDir(t, h.r.podDir(string(p.UID)))
}

func TestDeletionInterruptsGracefulStopWhenOrphaned(t *testing.T) {
	h := newHarness(t)
	p := testPod("slow", "stubborn")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "stubborn", 0).ignoreTerm = true
	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	d.DeletionTimestamp = &now // grace: the pod's 30 s
	h.r.SyncPods([]*api.Pod{d})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	h.r.SyncPods(nil) // force: gone from the node
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("removal took %v after the pod left the set", took)
	}
}

func TestSandboxDeathRestartsPod(t *testing.T) {
	h := newHarness(t)
	p := withInit(testPod("sbx", "app"), "init")
	h.r.SyncPods([]*api.Pod{p})
	h.container(string(p.UID), "init", 0).exit(exitStatus{Code: 0})
	h.waitPhase(string(p.UID), api.PodRunning)
	first := h.rt.sandbox(string(p.UID))
	first.kill()
	// A new sandbox: init runs again, then the app, restarts counted.
	waitUntil(t, "new sandbox", func() bool { s := h.rt.sandbox(string(p.UID)); return s != nil && s != first })
	h.container(string(p.UID), "init", 1).exit(exitStatus{Code: 0})
	h.container(string(p.UID), "app", 1)
	u := h.waitFor(string(p.UID), "app restarted", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 1 && u.Status.ContainerStatuses[0].State.Running != nil
	})
	if !slices.Contains(h.eventReasons(string(p.UID)), eventSandboxChanged) {
		t.Error("no SandboxChanged event")
	}
	if lt := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 {
		t.Errorf("last state %+v", lt)
	}
}

func TestImageUpdateRestartsContainer(t *testing.T) {
	h := newHarness(t)
	h.images.add("busybox:1.37")
	p := testPod("upd", "a", "b")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	q := p.DeepCopy()
	q.Spec.Containers[0].Image = "busybox:1.37"
	h.r.SyncPods([]*api.Pod{q})
	h.container(string(p.UID), "a", 1)
	u := h.waitFor(string(p.UID), "a restarted with the new image", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Running != nil && cs.Image == "busybox:1.37"
	})
	if u.Status.ContainerStatuses[1].RestartCount != 0 {
		t.Error("b was restarted too")
	}
}

func conditionOf(s api.PodStatus, t api.PodConditionType) api.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return api.PodCondition{}
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func assertNoDir(t testing.TB, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists (%v)", dir, err)
	}
}

// TestShorterGraceInterruptsGracefulStop: a second deletion with a shorter
// grace period cuts the graceful stop in progress short.
func TestShorterGraceInterruptsGracefulStop(t *testing.T) {
	h := newHarness(t)
	p := testPod("del2", "stubborn")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "stubborn", 0).ignoreTerm = true

	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	long := int64(60)
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds = &now, &long
	h.r.SyncPods([]*api.Pod{d})
	time.Sleep(100 * time.Millisecond) // the graceful stop is under way

	shorter := d.DeepCopy()
	one := int64(1)
	shorter.DeletionGracePeriodSeconds = &one
	start := time.Now()
	h.r.SyncPods([]*api.Pod{shorter})
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("removed %v after the shorter deletion: the 60 s grace was not cut short", took)
	}
	h.r.SyncPods(nil)
	waitUntil(t, "worker forgotten", func() bool { return h.r.findWorker("default", "del2") == nil })
}
