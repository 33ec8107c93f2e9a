package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// Containers of one pod share hostname and network: one serves on
// localhost:8080, the other fetches from it; each has its own PID 1.
// With shareProcessNamespace, one signals the other (the seed's confd
// sending HUP to nginx) and the pause is PID 1.
func TestRealPodSharesHostnameAndNetwork(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("duo",
		sh("web", "mkdir -p /srv && echo hello-from-web > /srv/index.html && exec httpd -f -p 8080 -h /srv"),
		sh("client", "exec sleep 3600"))
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)

	for _, c := range []string{"web", "client"} {
		if out, code := h.exec("duo", c, "hostname"); code != 0 || strings.TrimSpace(out) != "duo" {
			t.Errorf("hostname in %s: %q (exit %d)", c, out, code)
		}
	}
	out, code := h.exec("duo", "client", "wget", "-q", "-O", "-", "http://localhost:8080/")
	if code != 0 || strings.TrimSpace(out) != "hello-from-web" {
		t.Errorf("client fetching from web over localhost: %q (exit %d)", out, code)
	}
	// Own PID namespaces: PID 1 is each container's own main process.
	if out, _ := h.exec("duo", "web", "cat", "/proc/1/comm"); strings.TrimSpace(out) != "httpd" {
		t.Errorf("PID 1 in web: %q", out)
	}
	if out, _ := h.exec("duo", "client", "cat", "/proc/1/comm"); strings.TrimSpace(out) != "sleep" {
		t.Errorf("PID 1 in client: %q", out)
	}
	if out, _ := h.exec("duo", "client", "ps", "-o", "args"); strings.Contains(out, "httpd") {
		t.Errorf("client sees web's processes:\n%s", out)
	}

	share := true
	q := busyboxPod("shared",
		sh("nginx", `trap 'echo reloaded' HUP; echo NGINXMARK started; while :; do sleep 0.1; done`),
		sh("confd", "exec sleep 3600"))
	q.Spec.ShareProcessNamespace = &share
	h.r.SyncPods([]*api.Pod{p, q})
	h.waitPhase(string(q.UID), api.PodRunning)
	if out, _ := h.exec("shared", "confd", "cat", "/proc/1/cmdline"); !strings.HasPrefix(out, "/pause") {
		t.Errorf("PID 1 with a shared PID namespace: %q, want the pause", out)
	}
	// The marker is logged once the trap is set: a HUP before it would
	// end the shell instead (seen under load).
	waitUntilFor(t, 10*time.Second, "nginx to set its HUP trap", func() bool {
		return strings.Contains(h.logs("shared", "nginx", LogOptions{TailLines: -1}), "NGINXMARK started")
	})
	if out, code := h.exec("shared", "confd", "sh", "-c",
		`kill -HUP $(ps -o pid,args | awk '/NGINX[M]ARK started/ {print $1}')`); code != 0 {
		t.Fatalf("confd sending HUP to nginx: exit %d: %s", code, out)
	}
	waitUntilFor(t, 10*time.Second, "nginx to log the reload", func() bool {
		return strings.Contains(h.logs("shared", "nginx", LogOptions{TailLines: -1}), "reloaded")
	})
}

// The seed's WAR example: an init container copies a file into an
// emptyDir, the app container, started only afterwards, serves it, and a
// sidecar reads the app's log file from a second, shared emptyDir.
func TestRealInitContainerAndSharedVolumes(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("javaweb",
		api.Container{Name: "tomcat", Command: []string{"sh", "-c",
			"test -f /app/sample.war && echo deployed sample.war >> /logs/app.log; " +
				"exec httpd -f -vv -p 8080 -h /app 2>> /logs/app.log"},
			VolumeMounts: []api.VolumeMount{{Name: "app", MountPath: "/app"}, {Name: "logs", MountPath: "/logs"}}},
		api.Container{Name: "logreader", Command: []string{"sh", "-c", "touch /logs/app.log; exec tail -F /logs/app.log"},
			VolumeMounts: []api.VolumeMount{{Name: "logs", MountPath: "/logs", ReadOnly: true}}},
	)
	p.Spec.InitContainers = []api.Container{{Name: "war", Image: p.Spec.Containers[0].Image,
		Command:      []string{"sh", "-c", "echo '<h1>sample war</h1>' > /tmp/sample.war && sleep 0.3 && cp /tmp/sample.war /app/"},
		VolumeMounts: []api.VolumeMount{{Name: "app", MountPath: "/app"}}}}
	p.Spec.Volumes = []api.Volume{
		{Name: "app", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}},
		{Name: "logs", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory"}}},
	}
	api.SetPodDefaults(p)
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitPhase(string(p.UID), api.PodRunning)

	initDone := u.Status.InitContainerStatuses[0].State.Terminated
	if initDone == nil || initDone.Reason != "Completed" {
		t.Fatalf("init container: %+v", u.Status.InitContainerStatuses[0].State)
	}
	for _, cs := range u.Status.ContainerStatuses {
		if cs.State.Running.StartedAt.Time.Before(initDone.FinishedAt.Time) {
			t.Errorf("%s started at %v, before the init container finished at %v", cs.Name, cs.State.Running.StartedAt, initDone.FinishedAt)
		}
	}
	out, code := h.exec("javaweb", "logreader", "wget", "-q", "-O", "-", "http://localhost:8080/sample.war")
	if code != 0 || strings.TrimSpace(out) != "<h1>sample war</h1>" {
		t.Errorf("serving the file the init container copied: %q (exit %d)", out, code)
	}
	waitUntilFor(t, 10*time.Second, "the sidecar to read the app's log", func() bool {
		l := h.logs("javaweb", "logreader", LogOptions{TailLines: -1})
		return strings.Contains(l, "deployed sample.war") && strings.Contains(l, "sample.war")
	})
	// readOnly is honoured.
	if out, code := h.exec("javaweb", "logreader", "sh", "-c", "echo x > /logs/x"); code == 0 {
		t.Errorf("wrote to a readOnly mount: %q", out)
	}
	// The Memory emptyDir is a tmpfs of the pod.
	mounts, err := mountsUnder(h.r.podDir(string(p.UID)))
	if err != nil || len(mounts) != 1 || !strings.HasSuffix(mounts[0], "/volumes/logs") {
		t.Errorf("mounts under the pod's dir: %v (%v)", mounts, err)
	}
}

// A container that exceeds its memory limit is OOMKilled and restarted
// under restartPolicy Always, its restartCount counting up.
func TestRealOOMKilledAndRestarted(t *testing.T) {
	h := newRealHarness(t)
	c := sh("hog", "echo start; head -c 200m /dev/zero | tail")
	c.Resources.Limits = api.ResourceList{api.ResourceMemory: resource.MustParse("32Mi")}
	p := busyboxPod("hog", c)
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitFor(string(p.UID), "two restarts", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount >= 2
	})
	cs := u.Status.ContainerStatuses[0]
	var last *api.ContainerStateTerminated
	if cs.State.Terminated != nil {
		last = cs.State.Terminated
	} else {
		last = cs.LastTerminationState.Terminated
	}
	if last == nil || last.Reason != "OOMKilled" || last.ExitCode != 137 {
		t.Errorf("last termination %+v, want OOMKilled 137", last)
	}
	if u.Status.Phase != api.PodRunning {
		t.Errorf("phase %s", u.Status.Phase)
	}
	h.waitSeen(string(p.UID), "CrashLoopBackOff", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCrashLoopBackOff
	})
}

// Deleting a pod leaves no process, mount, cgroup or directory of it.
func TestRealDeletionLeavesNothing(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("gone",
		sh("a", "exec sleep 3600"),
		sh("b", "trap 'exit 0' TERM; echo TRAPSET; while :; do sleep 0.1; done"),
	)
	p.Spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "mem", MountPath: "/mem"}}
	p.Spec.Volumes = []api.Volume{{Name: "mem", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory"}}}}
	api.SetPodDefaults(p)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	pids := []int{h.pidOf("gone", "a"), h.pidOf("gone", "b")}
	// A TERM before the trap is set would end b with 143 (seen under load).
	waitUntilFor(t, 10*time.Second, "b to set its TERM trap", func() bool {
		return strings.Contains(h.logs("gone", "b", LogOptions{TailLines: -1}), "TRAPSET")
	})

	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	grace := int64(2)
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds = &now, &grace
	h.r.SyncPods([]*api.Pod{d})
	u := h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if b := u.Status.ContainerStatuses[1].State.Terminated; b == nil || b.ExitCode != 0 {
		t.Errorf("b should have exited 0 on SIGTERM: %+v", u.Status.ContainerStatuses[1].State)
	}
	assertPodGone(t, h, string(p.UID), pids)
}

// assertPodGone checks that nothing of the pod is left on the node.
func assertPodGone(t *testing.T, h *harness, uid string, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("process %d of the pod still exists", pid)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cgroup")
	for _, f := range procs {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), uid) {
			t.Errorf("%s: a process is still in a cgroup of the pod", f)
		}
	}
	// This thread's view: libcontainer may have left the main thread in a
	// container's mount namespace.
	if b, err := os.ReadFile("/proc/thread-self/mountinfo"); err != nil || strings.Contains(string(b), uid) {
		t.Errorf("a mount of the pod is left (%v):\n%s", err, grepLines(string(b), uid))
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/*/pod" + uid)
	more, _ := filepath.Glob("/sys/fs/cgroup/*/pod" + uid)
	if left := append(cgs, more...); len(left) > 0 {
		t.Errorf("cgroups of the pod are left: %v", left)
	}
	for _, dir := range []string{h.r.podDir(uid), filepath.Join(h.r.cfg.containersDir(), uid)} {
		assertNoDir(t, dir)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Killing and restarting the agent does not restart the pod's containers:
// a new Runtime on the same Root re-adopts them (same PIDs, same restart
// counts), and a pod that is no longer bound is removed first.
func TestRealAdoptionAfterAgentRestart(t *testing.T) {
	h := newRealHarness(t)
	keep := busyboxPod("keep", sh("a", "exec sleep 3600"), sh("b", "echo hello; exec sleep 3600"))
	drop := busyboxPod("drop", sh("a", "exec sleep 3600"))
	h.r.SyncPods([]*api.Pod{keep, drop})
	before := h.waitPhase(string(keep.UID), api.PodRunning)
	h.waitPhase(string(drop.UID), api.PodRunning)
	pids := map[string]int{"a": h.pidOf("keep", "a"), "b": h.pidOf("keep", "b")}
	dropPids := []int{h.pidOf("drop", "a")}

	h.restart() // the agent stops (pods stay) and a new one starts on the same Root
	for name, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			t.Fatalf("container %s (pid %d) did not survive the agent: %v", name, pid, err)
		}
	}
	h.r.SyncPods([]*api.Pod{keep}) // drop is no longer bound here
	after := h.waitPhase(string(keep.UID), api.PodRunning)
	for i, cs := range after.Status.ContainerStatuses {
		if cs.RestartCount != 0 || cs.ContainerID != before.Status.ContainerStatuses[i].ContainerID {
			t.Errorf("%s after re-adoption: restartCount %d, id %s (was %s)", cs.Name, cs.RestartCount, cs.ContainerID,
				before.Status.ContainerStatuses[i].ContainerID)
		}
		if !cs.State.Running.StartedAt.Time.Equal(before.Status.ContainerStatuses[i].State.Running.StartedAt.Time) {
			t.Errorf("%s startedAt changed", cs.Name)
		}
	}
	for name, pid := range pids {
		if got := h.pidOf("keep", name); got != pid {
			t.Errorf("container %s: pid %d after re-adoption, was %d", name, got, pid)
		}
	}
	for _, r := range h.eventReasons(string(keep.UID)) {
		if r == eventCreated || r == eventStarted || r == eventKilling {
			t.Errorf("event %s after re-adoption", r)
		}
	}
	if got := h.logs("keep", "b", LogOptions{TailLines: -1}); got != "hello\n" {
		t.Errorf("log after re-adoption: %q", got)
	}
	waitUntilFor(t, 30*time.Second, "the unbound pod removed", func() bool {
		_, err := os.Stat(h.r.podDir(string(drop.UID)))
		return err != nil
	})
	assertPodGone(t, h, string(drop.UID), dropPids)

	// An adopted container that dies: its exit code cannot be known.
	if err := syscall.Kill(pids["a"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	u := h.waitFor(string(keep.UID), "a restarted", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if lt := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.Reason != "ContainerStatusUnknown" || lt.ExitCode != 137 {
		t.Errorf("adopted container's end: %+v, want ContainerStatusUnknown 137", lt)
	}
}

// Logs with tail, previous and follow; Exec with exit codes.
func TestRealLogsAndExec(t *testing.T) {
	h := newRealHarness(t)
	p := busyboxPod("talk",
		sh("talker", `for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; sleep 2; echo late; exit 3`))
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	waitUntilFor(t, 10*time.Second, "output", func() bool {
		return strings.Contains(h.logs("talk", "", LogOptions{TailLines: -1}), "err")
	})
	if got := h.logs("talk", "talker", LogOptions{TailLines: 2}); got != "line5\nerr\n" {
		t.Errorf("tail 2: %q", got)
	}
	// Follow streams until the instance exits.
	var b bytes.Buffer
	start := time.Now()
	if err := h.r.Logs(context.Background(), "default", "talk", "talker", LogOptions{Follow: true, TailLines: 0}, &b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "late\n" || time.Since(start) > 10*time.Second {
		t.Errorf("follow: %q after %v", b.String(), time.Since(start))
	}
	u := h.waitFor(string(p.UID), "restarted", func(u PodUpdate) bool {
		return u.Status.ContainerStatuses[0].RestartCount == 1
	})
	if lt := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
		t.Errorf("last state %+v", lt)
	}
	if got := h.logs("talk", "talker", LogOptions{Previous: true, TailLines: -1}); got != "line1\nline2\nline3\nline4\nline5\nerr\nlate\n" {
		t.Errorf("previous: %q", got)
	}

	if out, code := h.exec("talk", "talker", "sh", "-c", "echo out; echo oops >&2; exit 7"); code != 7 || !strings.Contains(out, "out") || !strings.Contains(out, "oops") {
		t.Errorf("exec: %q exit %d", out, code)
	}

	// Errors in Kubernetes' words.
	never := busyboxPod("waiting", sh("w", "true"))
	never.Spec.Containers[0].Image = "localhost/absent:1"
	never.Spec.Containers[0].ImagePullPolicy = api.PullNever
	h.r.SyncPods([]*api.Pod{p, never})
	h.waitFor(string(never.UID), "ErrImageNeverPull", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImageNeverPull"
	})
	err := h.r.Logs(context.Background(), "default", "waiting", "", LogOptions{TailLines: -1}, io.Discard)
	if !errors.Is(err, ErrContainerNotStarted) || err.Error() != `container "w" in pod "waiting" is waiting to start: ErrImageNeverPull` {
		t.Errorf("logs of a waiting container: %v", err)
	}
	err = h.r.Logs(context.Background(), "default", "waiting", "w", LogOptions{Previous: true}, io.Discard)
	if !errors.Is(err, ErrNoPreviousLogs) || err.Error() != `previous terminated container "w" in pod "waiting" not found` {
		t.Errorf("previous logs of a container never restarted: %v", err)
	}
	if _, err := h.r.Exec(context.Background(), "default", "waiting", "w", []string{"true"}, ExecIO{Stdout: io.Discard, Stderr: io.Discard}); !errors.Is(err, ErrContainerNotRunning) {
		t.Errorf("exec into a waiting container: %v", err)
	}
}

// TestRealLeftoverContainerIsReplaced: a container instance the runtime has
// no record of (its agent died between starting it and recording it) is
// killed and replaced when the runtime starts that container, instead of
// failing with "already exists" forever (found by e2e: a leader killed in a
// rollout while an init container started).
func TestRealLeftoverContainerIsReplaced(t *testing.T) {
	h := newRealHarness(t)
	ctx := context.Background()
	img, ok := h.r.images.Get("localhost/busybox:latest")
	if !ok {
		t.Fatal("test image not loaded")
	}
	sb, err := h.r.sandbox.CreateSandbox(ctx, sandboxSpec{ID: "leftover-0000", Name: "leftover", Namespace: "default", Hostname: "leftover", ShmSizeBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Destroy(context.Background())
	spec := containerSpec{Name: "c", LowerDirs: img.LayerDirs(), Args: []string{"sleep", "3600"}, StdoutPath: filepath.Join(t.TempDir(), "c.log")}
	first, err := sb.StartContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	second, err := sb.StartContainer(ctx, spec)
	if err != nil {
		t.Fatalf("starting over a leftover instance: %v", err)
	}
	if second.Pid() == first.Pid() {
		t.Fatalf("the leftover instance (pid %d) was not replaced", first.Pid())
	}
	waitUntilFor(t, 10*time.Second, "the leftover process gone", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", first.Pid()))
		return err != nil
	})

	// A start cut off half-way: the container's directory exists, nothing
	// else (no record, no libcontainer state) — it cannot even be loaded.
	halfDir := filepath.Join(h.root, "containers", "leftover-0000", "containers", "half")
	if err := os.MkdirAll(halfDir, 0o700); err != nil {
		t.Fatal(err)
	}
	half := spec
	half.Name = "half"
	if _, err := sb.StartContainer(ctx, half); err != nil {
		t.Fatalf("starting over a half-created container: %v", err)
	}
}
