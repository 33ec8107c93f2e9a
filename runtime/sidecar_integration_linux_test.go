package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
)

// sidecar makes c a native sidecar (restartPolicy Always) of the test
// image.
func sidecar(c api.Container) api.Container {
	always := api.ContainerRestartPolicyAlways
	c.RestartPolicy = &always
	c.Image = testimage.Reference
	return c
}

func initC(c api.Container) api.Container {
	c.Image = testimage.Reference
	return c
}

// loop is a container script that runs until SIGTERM, on which it
// appends name to /out/stop (after delay seconds) and exits 0; it marks
// /out/trapped-<name> once its trap is set (see termTrap).
func loop(name, delay string) string {
	return `trap 'sleep ` + delay + `; echo ` + name + ` >> /out/stop; exit 0' TERM; touch /out/trapped-` + name + `; while :; do sleep 0.1; done`
}

func readOut(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func initStatus(u PodUpdate, name string) *api.ContainerStatus {
	for i := range u.Status.InitContainerStatuses {
		if u.Status.InitContainerStatuses[i].Name == name {
			return &u.Status.InitContainerStatuses[i]
		}
	}
	return nil
}

// Sidecars start in order with the init containers: the init container
// after a sidecar starts once the sidecar has started (its startup probe
// passed), not when it exits; the sidecar keeps running beside the app,
// shows started and ready in initContainerStatuses, and its readiness
// probe counts for the pod's readiness.
func TestRealSidecarOrdering(t *testing.T) {
	h := newRealHarness(t)
	proxy := sidecar(sh("proxy", `sleep 1; touch /tmp/up; echo proxy-up >> /out/order; `+loop("proxy", "0")))
	proxy.StartupProbe = &api.Probe{PeriodSeconds: 1, FailureThreshold: 30,
		ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"test", "-f", "/tmp/up"}}}}
	proxy.ReadinessProbe = &api.Probe{PeriodSeconds: 1,
		ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}}}
	p := busyboxPod("sidecars", sh("app", "echo app >> /out/order; "+loop("app", "0")))
	p.Spec.InitContainers = []api.Container{
		initC(sh("setup", "echo setup >> /out/order")),
		proxy,
		initC(sh("after", "test -f /out/order && echo after >> /out/order")),
	}
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	h.waitPhase(uid, api.PodRunning)
	waitUntilFor(t, 20*time.Second, "the app's line", func() bool { return readOut(t, out, "order") == "setup\nproxy-up\nafter\napp\n" })
	u := h.waitFor(uid, "proxy running and started", func(u PodUpdate) bool {
		s := initStatus(u, "proxy")
		return s != nil && s.State.Running != nil && s.Started != nil && *s.Started
	})
	if s := initStatus(u, "proxy"); s.Ready {
		t.Errorf("proxy ready while its readiness probe fails: %+v", s)
	}
	if c, pod, _ := podReady(u); !c || pod {
		t.Errorf("pod Ready must wait for the sidecar's readiness: app ready %v, pod Ready %v", c, pod)
	}
	if out, code := h.exec("sidecars", "proxy", "touch", "/tmp/ready"); code != 0 {
		t.Fatalf("touch /tmp/ready: %d %s", code, out)
	}
	u = h.waitFor(uid, "pod Ready", func(u PodUpdate) bool { _, pod, cr := podReady(u); return pod && cr })
	if s := initStatus(u, "proxy"); !s.Ready || s.State.Running == nil {
		t.Errorf("proxy: %+v", s)
	}
	for _, c := range u.Status.Conditions {
		if c.Type == api.PodInitialized && c.Status != api.ConditionTrue {
			t.Errorf("Initialized: %+v", c)
		}
	}
}

// A sidecar that exits is restarted with back-off whatever the pod's
// restart policy, beside the app containers, which keep running.
func TestRealSidecarRestart(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("flaky", sh("app", "trap 'exit 0' TERM; while :; do sleep 0.1; done"))
	p.Spec.RestartPolicy = api.RestartPolicyNever
	p.Spec.InitContainers = []api.Container{initC(sidecar(sh("flaky", "sleep 1; exit 3")))}
	api.SetPodDefaults(p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	u := h.waitFor(uid, "the sidecar restarted twice", func(u PodUpdate) bool {
		s := initStatus(u, "flaky")
		return s != nil && s.RestartCount >= 2
	})
	if u.Status.Phase != api.PodRunning || u.Status.ContainerStatuses[0].State.Running == nil || u.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the app must keep running while its sidecar restarts: %s", describe(u))
	}
	if last := initStatus(u, "flaky").LastTerminationState.Terminated; last == nil || last.ExitCode != 3 {
		t.Errorf("sidecar's last termination: %+v", last)
	}
}

// A pod with restartPolicy Never completes when its app containers do,
// although its sidecar runs forever: the sidecar is then stopped, with
// SIGTERM (its trap exits 0), and the pod Succeeded.
func TestRealSidecarPodCompletes(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("job", sh("work", "until [ -f /out/trapped-logger ]; do sleep 0.1; done; sleep 1; echo done >> /out/stop"))
	p.Spec.RestartPolicy = api.RestartPolicyNever
	p.Spec.InitContainers = []api.Container{sidecar(sh("logger", loop("logger", "0")))}
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	u := h.waitPhase(uid, api.PodSucceeded)
	if got := readOut(t, out, "stop"); got != "done\nlogger\n" {
		t.Errorf("/out/stop = %q: want the work done, then the sidecar SIGTERMed", got)
	}
	if s := initStatus(u, "logger"); s == nil || s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
		t.Errorf("sidecar should have been stopped gracefully: %s", describe(u))
	}
	if w := u.Status.ContainerStatuses[0].State.Terminated; w == nil || w.Reason != "Completed" {
		t.Errorf("work: %s", describe(u))
	}
}

// At termination the app containers stop first, then the sidecars, in
// reverse order, each once the ones before it have exited.
func TestRealSidecarsStopInReverseOrder(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("ordered", sh("app", loop("app", "0.5")))
	p.Spec.InitContainers = []api.Container{
		sidecar(sh("first", loop("first", "0"))),
		sidecar(sh("second", loop("second", "0"))),
	}
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	h.waitFor(uid, "the app running", func(u PodUpdate) bool { return u.Status.ContainerStatuses[0].State.Running != nil })
	waitTrapped(t, out, "app", "first", "second")

	deletePod(h, p, 20)
	h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	if got := readOut(t, out, "stop"); got != "app\nsecond\nfirst\n" {
		t.Errorf("stop order %q, want app, second, first", got)
	}
}

// A sidecar whose postStart hook fails is killed and restarted, under a
// pod whose restart policy is Never; the init container after it waits.
func TestRealSidecarPostStartHookFailure(t *testing.T) {
	h := newRealHarness(t)
	proxy := sidecar(sh("proxy", "trap 'exit 0' TERM; touch /tmp/trapped; while :; do sleep 0.1; done"))
	proxy.Lifecycle = &api.Lifecycle{PostStart: execHook("until [ -f /tmp/trapped ]; do sleep 0.1; done; exit 1")}
	p := busyboxPod("badside", sh("app", "exec sleep 3600"))
	p.Spec.RestartPolicy = api.RestartPolicyNever
	p.Spec.InitContainers = []api.Container{proxy, initC(sh("next", "true"))}
	api.SetPodDefaults(p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	h.waitFor(uid, "the sidecar restarted", func(u PodUpdate) bool {
		s := initStatus(u, "proxy")
		return s != nil && s.RestartCount >= 1
	})
	h.waitSeen(uid, "PostStartHookError", func(u PodUpdate) bool {
		w := initStatus(u, "proxy").State.Waiting
		return w != nil && w.Reason == "PostStartHookError"
	})
	if !h.hasEvent(uid, "FailedPostStartHook", "PostStartHook failed") {
		t.Errorf("no FailedPostStartHook event: %v", h.eventReasons(uid))
	}
	for _, u := range h.historyOf(uid) {
		if s := initStatus(u, "next"); s != nil && (s.State.Running != nil || s.State.Terminated != nil) {
			t.Fatalf("the init container after a sidecar whose postStart fails started: %s", describe(u))
		}
	}
}
