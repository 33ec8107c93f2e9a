package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// withOut gives the pod's containers a hostPath volume at /out on a fresh
// directory of the test, which outlives the pod: what a container writes
// there while it is being stopped can be read after it is gone.
func withOut(t *testing.T, h *harness, p *api.Pod) string {
	t.Helper()
	dir := t.TempDir()
	h.r.cfg.AllowedHostPaths = []string{dir}
	p.Spec.Volumes = append(p.Spec.Volumes, api.Volume{Name: "out",
		VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: dir}}})
	for _, cs := range [][]api.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, api.VolumeMount{Name: "out", MountPath: "/out"})
		}
	}
	api.SetPodDefaults(p)
	return dir
}

func execHook(script string) *api.LifecycleHandler {
	return &api.LifecycleHandler{Exec: &api.ExecAction{Command: []string{"sh", "-c", script}}}
}

// deletePod asks for the pod's deletion with a grace period and returns
// when it was asked.
func deletePod(h *harness, p *api.Pod, grace int64) time.Time {
	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds = &now, &grace
	asked := time.Now()
	h.r.SyncPods([]*api.Pod{d})
	return asked
}

// termTrap is a container script that, on SIGTERM, writes to /out/term
// whether the preStop hook's mark /out/prestop was there already, then
// exits 0. It marks /out/trapped-app once its trap is set: the main
// process of a PID namespace ignores a SIGTERM it has no handler for, so
// a test stops it only after that (waitTrapped).
const termTrap = `trap 'if [ -f /out/prestop ]; then echo after > /out/term; else echo before > /out/term; fi; exit 0' TERM; ` +
	`touch /out/trapped-app; while :; do sleep 0.1; done`

// waitTrapped waits until the named containers have set their TERM traps.
func waitTrapped(t *testing.T, out string, names ...string) {
	t.Helper()
	for _, n := range names {
		waitUntilFor(t, 20*time.Second, n+"'s TERM trap", func() bool {
			_, err := os.Stat(filepath.Join(out, "trapped-"+n))
			return err == nil
		})
	}
}

// A postStart hook completes before its container counts as started and
// before the next container starts: the hook (slow, 2 s) writes a file;
// when the pod first shows the container running the file is there, and
// the next container, which reads it as it starts, finds it.
func TestRealPostStartHookOrdering(t *testing.T) {
	h := newRealHarness(t)
	first := sh("first", "exec sleep 3600")
	first.Lifecycle = &api.Lifecycle{PostStart: execHook("sleep 2; echo hooked > /shared/hook")}
	second := sh("second", "cat /shared/hook || echo missing; exec sleep 3600")
	p := busyboxPod("poststart", first, second)
	p.Spec.Volumes = []api.Volume{{Name: "shared", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].VolumeMounts = []api.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	}
	api.SetPodDefaults(p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	// The first update that shows "first" running: the hook has run.
	h.waitFor(uid, "first running", func(u PodUpdate) bool {
		return len(u.Status.ContainerStatuses) == 2 && u.Status.ContainerStatuses[0].State.Running != nil
	})
	if out, code := h.exec("poststart", "first", "cat", "/shared/hook"); code != 0 || out != "hooked\n" {
		t.Fatalf("first shown running before its postStart hook finished: cat /shared/hook = %d %q", code, out)
	}
	h.waitPhase(uid, api.PodRunning)
	waitUntilFor(t, 10*time.Second, "second's output", func() bool {
		return h.logs("poststart", "second", LogOptions{TailLines: -1}) != ""
	})
	if out := h.logs("poststart", "second", LogOptions{TailLines: -1}); out != "hooked\n" {
		t.Errorf("second started before first's postStart hook finished: it read %q", out)
	}
	for _, u := range h.historyOf(uid) {
		if cs := u.Status.ContainerStatuses; len(cs) == 2 && cs[1].State.Running != nil && cs[0].State.Running == nil {
			t.Errorf("second running before first: %s", describe(u))
		}
	}
}

// A failing postStart hook kills its container, with kubelet's events and
// waiting reason, and the container restarts per its restart policy.
func TestRealPostStartHookFailureRestarts(t *testing.T) {
	h := newRealHarness(t)
	// The hook fails once the container's TERM trap is set, so that the
	// kill's SIGTERM is not ignored (see termTrap).
	c := sh("app", "trap 'exit 0' TERM; touch /tmp/trapped; while :; do sleep 0.1; done")
	hook := "until [ -f /tmp/trapped ]; do sleep 0.1; done; echo no config >&2; exit 3"
	c.Lifecycle = &api.Lifecycle{PostStart: execHook(hook)}
	p := busyboxPod("badhook", c)
	grace := int64(5)
	p.Spec.TerminationGracePeriodSeconds = &grace
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	u := h.waitSeen(uid, "PostStartHookError", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "PostStartHookError"
	})
	w := u.Status.ContainerStatuses[0].State.Waiting
	wantMsg := `Exec lifecycle hook ([sh -c ` + hook + `]) for Container "app" in Pod "` + podFullName(p) +
		`" failed - error: command 'sh -c ` + hook + `' exited with 3: no config` + "\n" + `, message: "no config\n"`
	if w.Message != wantMsg {
		t.Errorf("waiting message:\n got %s\nwant %s", w.Message, wantMsg)
	}
	if last := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 0 && last.ExitCode != 143 {
		t.Errorf("the killed instance: %+v (want SIGTERM'd, trap exit 0)", last)
	}
	h.waitFor(uid, "restarts", func(u PodUpdate) bool { return u.Status.ContainerStatuses[0].RestartCount >= 2 })
	if !h.hasEvent(uid, "FailedPostStartHook", "PostStartHook failed") {
		t.Errorf("no FailedPostStartHook event: %v", h.eventReasons(uid))
	}
	if !h.hasEvent(uid, "Killing", "FailedPostStartHook") {
		t.Errorf("no Killing event: %v", h.eventReasons(uid))
	}
	for _, u := range h.historyOf(uid) {
		if u.Status.Phase == api.PodRunning && u.Status.ContainerStatuses[0].State.Running != nil {
			t.Fatalf("the container was shown running although its postStart hook always fails: %s", describe(u))
		}
	}
}

// A preStop hook runs before SIGTERM: the container's TERM trap sees
// what the hook did; the pod is gone long before its grace period ends.
func TestRealPreStopHookBeforeTERM(t *testing.T) {
	h := newRealHarness(t)
	c := sh("app", termTrap)
	c.Lifecycle = &api.Lifecycle{PreStop: execHook("sleep 1; touch /out/prestop")}
	p := busyboxPod("prestop", c)
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitTrapped(t, out, "app")

	asked := deletePod(h, p, 30)
	u := h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	took := time.Since(asked)
	if b, err := os.ReadFile(filepath.Join(out, "term")); err != nil || string(b) != "after\n" {
		t.Errorf("/out/term = %q, %v: want the TERM trap to run after the preStop hook", b, err)
	}
	if tm := u.Status.ContainerStatuses[0].State.Terminated; tm == nil || tm.ExitCode != 0 {
		t.Errorf("container should have exited 0 from its TERM trap: %s", describe(u))
	}
	if took > 20*time.Second {
		t.Errorf("deletion took %s: SIGTERM must follow the hook's end, not the grace period's", took)
	}
}

// The grace period is shared: a preStop hook longer than the grace period
// (a sleep hook of 60 s, run by the agent, under a 3 s grace period) is
// cut at its end, SIGTERM follows at once, and the container is killed
// after kubelet's 2 s minimum, whatever the hook is doing.
func TestRealPreStopSleepHookSharesGracePeriod(t *testing.T) {
	h := newRealHarness(t)
	c := sh("app", `trap 'date +%s > /out/term; echo after >> /out/term' TERM; touch /out/trapped-app; while :; do sleep 0.1; done`)
	c.Lifecycle = &api.Lifecycle{PreStop: &api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 60}}}
	p := busyboxPod("shared-grace", c)
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitTrapped(t, out, "app")

	asked := deletePod(h, p, 3)
	var termAt time.Time
	waitUntilFor(t, 30*time.Second, "the TERM trap", func() bool {
		if _, err := os.Stat(filepath.Join(out, "term")); err == nil {
			termAt = time.Now()
			return true
		}
		return false
	})
	u := h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	gone := time.Since(asked)
	if d := termAt.Sub(asked); d < 2900*time.Millisecond || d > 10*time.Second {
		t.Errorf("SIGTERM came %s after the deletion: want it at the end of the 3 s grace period, when the sleep hook is cut", d)
	}
	if gone > 20*time.Second {
		t.Errorf("pod removed %s after the deletion: the 60 s hook must not hold the stop", gone)
	}
	// The trap swallows SIGTERM, so SIGKILL ended the container.
	if tm := u.Status.ContainerStatuses[0].State.Terminated; tm == nil || tm.ExitCode != 137 {
		t.Errorf("want the container SIGKILLed after the grace period: %s", describe(u))
	}
}

// A sleep hook waits its seconds on the node: a preStop sleep of 2 s under
// a long grace period delays SIGTERM by 2 s, no more.
func TestRealPreStopSleepHook(t *testing.T) {
	h := newRealHarness(t)
	c := sh("app", termTrap)
	c.Lifecycle = &api.Lifecycle{PreStop: &api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 2}}}
	p := busyboxPod("sleep-hook", c)
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitTrapped(t, out, "app")

	asked := deletePod(h, p, 30)
	var termAt time.Time
	waitUntilFor(t, 30*time.Second, "the TERM trap", func() bool {
		if _, err := os.Stat(filepath.Join(out, "term")); err == nil {
			termAt = time.Now()
			return true
		}
		return false
	})
	h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	if d := termAt.Sub(asked); d < 1900*time.Millisecond || d > 15*time.Second {
		t.Errorf("SIGTERM came %s after the deletion: want about 2 s, after the sleep hook", d)
	}
}

// A failing preStop hook is reported, and the stop goes on.
func TestRealFailedPreStopHook(t *testing.T) {
	h := newRealHarness(t)
	c := sh("app", termTrap)
	c.Lifecycle = &api.Lifecycle{PreStop: execHook("exit 7")}
	p := busyboxPod("badprestop", c)
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitTrapped(t, out, "app")

	deletePod(h, p, 30)
	h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	if !h.hasEvent(uid, "FailedPreStopHook", "PreStopHook failed") {
		t.Errorf("no FailedPreStopHook event: %v", h.eventReasons(uid))
	}
	if b, err := os.ReadFile(filepath.Join(out, "term")); err != nil || strings.TrimSpace(string(b)) != "before" {
		t.Errorf("/out/term = %q, %v: the container must still get SIGTERM", b, err)
	}
}

// historyOf is every update of the pod so far.
func (h *harness) historyOf(uid string) []PodUpdate {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]PodUpdate(nil), h.history[uid]...)
}

// An httpGet preStop hook reaches the container's server (here a CGI
// script that marks the hook and records the request's User-Agent)
// before SIGTERM; its answer's status does not matter.
func TestRealPreStopHTTPGetHook(t *testing.T) {
	h := newRealHarness(t)
	script := `mkdir -p /srv/cgi-bin && cat > /srv/cgi-bin/drain <<'EOS'
#!/bin/sh
echo "$HTTP_USER_AGENT" > /out/ua
touch /out/prestop
echo "Status: 500 Internal Server Error"
echo "Content-Type: text/plain"
echo
echo draining
EOS
chmod +x /srv/cgi-bin/drain && httpd -p 8080 -h /srv && ` + termTrap
	c := sh("web", script)
	c.Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c.Lifecycle = &api.Lifecycle{PreStop: &api.LifecycleHandler{HTTPGet: &api.HTTPGetAction{Path: "/cgi-bin/drain", Port: intstr.FromString("http")}}}
	p := busyboxPod("httphook", c)
	out := withOut(t, h, p)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitUntilFor(t, 20*time.Second, "the server", func() bool {
		_, code := h.exec("httphook", "web", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/")
		return code == 0 || code == 1 // 1: 404 for /, the server answers
	})

	waitTrapped(t, out, "app")
	deletePod(h, p, 30)
	h.waitFor(uid, "removed", func(u PodUpdate) bool { return u.Removed })
	if b, err := os.ReadFile(filepath.Join(out, "term")); err != nil || string(b) != "after\n" {
		t.Errorf("/out/term = %q, %v: want the TERM trap after the httpGet hook", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "ua")); string(b) != lifecycleUserAgent+"\n" {
		t.Errorf("hook User-Agent %q, want %q", b, lifecycleUserAgent)
	}
	if h.hasEvent(uid, "FailedPreStopHook", "PreStopHook failed") {
		t.Errorf("a 500 answer is not a hook failure (kubelet's)")
	}
}
