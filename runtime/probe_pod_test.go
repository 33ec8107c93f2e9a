package runtime

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// probeUnitForTests makes a probe's second 10 ms in the fake-runtime tests.
const probeUnitForTests = 10 * time.Millisecond

func execProbe(cmd string) *api.Probe {
	p := &api.Probe{ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: []string{cmd}}}, PeriodSeconds: 1}
	setTestProbeDefaults(p)
	return p
}

func podReady(u PodUpdate) (container, pod, containersReady bool) {
	for _, cs := range u.Status.ContainerStatuses {
		container = cs.Ready
	}
	for _, c := range u.Status.Conditions {
		switch c.Type {
		case api.PodReady:
			pod = c.Status == api.ConditionTrue
		case api.ContainersReady:
			containersReady = c.Status == api.ConditionTrue
		}
	}
	return
}

func (h *harness) hasEvent(uid, reason, message string) bool {
	for _, e := range h.eventsOf(uid) {
		if e.Reason == reason && e.Message == message {
			return true
		}
	}
	return false
}

// A readiness probe keeps a running container, and its pod, not Ready
// until it passes, and takes them out of Ready when it fails again.
func TestReadinessProbeDrivesReady(t *testing.T) {
	h := newHarness(t)
	h.r.probeUnit = probeUnitForTests
	var healthy atomic.Bool
	h.rt.onExec = func(container string, args []string) int {
		if healthy.Load() {
			return 0
		}
		return 1
	}
	p := testPod("web", "app")
	p.Spec.Containers[0].ReadinessProbe = execProbe("check")
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	h.waitPhase(uid, api.PodRunning)
	eventually(t, 5*time.Second, "a readiness failure event", func() bool {
		return h.hasEvent(uid, "Unhealthy", "Readiness probe failed: ")
	})
	u := h.waitFor(uid, "running", func(u PodUpdate) bool { return u.Status.Phase == api.PodRunning })
	if c, pod, cr := podReady(u); c || pod || cr {
		t.Fatalf("ready while the readiness probe fails: container %v, Ready %v, ContainersReady %v", c, pod, cr)
	}
	if cs := u.Status.ContainerStatuses[0]; cs.Started == nil || !*cs.Started {
		t.Errorf("started = %v without a startup probe", cs.Started)
	}
	healthy.Store(true)
	h.waitFor(uid, "Ready", func(u PodUpdate) bool { c, pod, cr := podReady(u); return c && pod && cr })
	healthy.Store(false)
	u = h.waitFor(uid, "not Ready again", func(u PodUpdate) bool { _, pod, _ := podReady(u); return !pod })
	if cond := api.GetPodCondition(&api.Pod{Status: u.Status}, api.PodReady); cond.Reason != "ContainersNotReady" ||
		cond.Message != "containers with unready status: [app]" {
		t.Errorf("Ready condition: %+v", cond)
	}
	if u.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Error("a readiness failure restarted the container")
	}
}

// A liveness probe that fails failureThreshold times in a row kills the
// container, which restarts per the restart policy, with kubelet's
// events; the probe's terminationGracePeriodSeconds bounds the kill.
func TestLivenessProbeRestarts(t *testing.T) {
	h := newHarness(t)
	h.r.probeUnit = probeUnitForTests
	// The first instance fails its first 3 probes (its failureThreshold),
	// then every probe passes.
	var calls atomic.Int32
	h.rt.onExec = func(container string, args []string) int {
		if calls.Add(1) <= 3 {
			return 1
		}
		return 0
	}
	p := testPod("web", "app")
	p.Spec.Containers[0].LivenessProbe = execProbe("check")
	grace := int64(0)
	p.Spec.Containers[0].LivenessProbe.TerminationGracePeriodSeconds = &grace
	uid := string(p.UID)
	// Deaf to SIGTERM: only the probe's 0 s grace (not the pod's 30 s)
	// ends it quickly.
	h.rt.onStart = func(c *fakeContainer) { c.ignoreTerm = true }
	h.r.SyncPods([]*api.Pod{p})

	h.waitFor(uid, "a restart", func(u PodUpdate) bool { return u.Status.ContainerStatuses[0].RestartCount >= 1 })
	if !h.hasEvent(uid, "Killing", "Container app failed liveness probe, will be restarted") {
		t.Errorf("no Killing event in kubelet's words: %v", h.eventsOf(uid))
	}
	if !h.hasEvent(uid, "Unhealthy", "Liveness probe failed: ") {
		t.Errorf("no Unhealthy event: %v", h.eventReasons(uid))
	}
	u := h.waitFor(uid, "running again", func(u PodUpdate) bool { return u.Status.ContainerStatuses[0].State.Running != nil })
	last := u.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 {
		t.Errorf("last termination: %+v", last)
	}
	// Healthy now: after 10 passing probes it still runs, not restarted.
	eventually(t, 5*time.Second, "10 passing probes", func() bool { return calls.Load() >= 13 })
	u = h.waitFor(uid, "running", func(u PodUpdate) bool { return true })
	if n := u.Status.ContainerStatuses[0].RestartCount; n != 1 || u.Status.ContainerStatuses[0].State.Running == nil {
		t.Errorf("healthy container: restarts %d, %s", n, describe(u))
	}
}

// Under restartPolicy Never a liveness failure ends the pod.
func TestLivenessProbeNeverRestartPolicy(t *testing.T) {
	h := newHarness(t)
	h.r.probeUnit = probeUnitForTests
	h.rt.onExec = func(string, []string) int { return 1 }
	p := testPod("job", "app")
	p.Spec.RestartPolicy = api.RestartPolicyNever
	p.Spec.Containers[0].LivenessProbe = execProbe("check")
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodFailed)
	if !h.hasEvent(uid, "Killing", "Container app failed liveness probe") {
		t.Errorf("events: %v", h.eventsOf(uid))
	}
}

// A startup probe holds readiness and liveness back; once it passes, the
// container is started and (without a readiness probe) ready.
func TestStartupProbeGates(t *testing.T) {
	h := newHarness(t)
	h.r.probeUnit = probeUnitForTests
	var up atomic.Bool
	var livenessCalls, startupCalls atomic.Int32
	h.rt.onExec = func(container string, args []string) int {
		switch args[0] {
		case "live":
			livenessCalls.Add(1)
			return 0
		case "start":
			startupCalls.Add(1)
			if up.Load() {
				return 0
			}
		}
		return 1
	}
	p := testPod("web", "app")
	p.Spec.Containers[0].StartupProbe = execProbe("start")
	p.Spec.Containers[0].StartupProbe.FailureThreshold = 1000
	p.Spec.Containers[0].LivenessProbe = execProbe("live")
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	eventually(t, 5*time.Second, "5 failed startup probes", func() bool { return startupCalls.Load() >= 5 })
	u := h.waitFor(uid, "running", func(PodUpdate) bool { return true })
	if cs := u.Status.ContainerStatuses[0]; *cs.Started || cs.Ready || livenessCalls.Load() != 0 {
		t.Fatalf("before startup: started %v ready %v, %d liveness probes", *cs.Started, cs.Ready, livenessCalls.Load())
	}
	up.Store(true)
	h.waitFor(uid, "started and ready", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return *cs.Started && cs.Ready
	})
	eventually(t, 5*time.Second, "liveness probes", func() bool { return livenessCalls.Load() > 0 })
	for _, e := range h.eventsOf(uid) {
		if strings.HasPrefix(e.Message, "Liveness") {
			t.Errorf("unexpected event %q", e.Message)
		}
	}
}

// After an agent restart the re-adopted container is probed afresh by the
// new Runtime, and is Ready again once its readiness probe passes,
// without a restart.
func TestProbesAfterAdoption(t *testing.T) {
	h := newHarness(t)
	h.r.probeUnit = probeUnitForTests
	var calls atomic.Int32
	h.rt.onExec = func(string, []string) int { calls.Add(1); return 0 }
	p := testPod("web", "app")
	p.Spec.Containers[0].ReadinessProbe = execProbe("check")
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitFor(uid, "Ready", func(u PodUpdate) bool { _, pod, _ := podReady(u); return pod })

	h.restart() // Run returned once the old workers had stopped
	h.r.probeUnit = probeUnitForTests
	stopped := calls.Load()
	h.r.SyncPods([]*api.Pod{p})
	eventually(t, 5*time.Second, "probes of the re-adopted container", func() bool { return calls.Load() >= stopped+3 })
	u := h.waitFor(uid, "Ready after re-adoption", func(u PodUpdate) bool { _, pod, _ := podReady(u); return pod })
	if n := u.Status.ContainerStatuses[0].RestartCount; n != 0 {
		t.Errorf("restartCount %d after re-adoption", n)
	}
}
