package runtime

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
)

// The integration tests run the real thing: the image store, libcontainer
// sandboxes and containers, cgroups and mounts, as root. They skip where
// they cannot run, except under CI=true, where a skip would hide that
// nothing was tested.

// needRoot skips (or, under CI=true, fails) a test that needs root on
// Linux with cgo.
func needRoot(tb testing.TB) {
	tb.Helper()
	var why string
	switch {
	case os.Geteuid() != 0:
		why = "needs root (namespaces, cgroups, mounts)"
	case os.Getenv("CGO_ENABLED") == "0":
		why = "built without cgo (libcontainer's nsenter)"
	default:
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %s", why)
	}
	tb.Skip(why)
}

// fixtureSet is built once per test binary: a static pause binary and the
// test image archive (localhost/busybox:latest).
type fixtureSet struct {
	once  sync.Once
	dir   string
	pause string
	image string
	err   error
}

var fixtures fixtureSet

func (f *fixtureSet) cleanup() {
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// get returns the pause binary and the image archive, building them on
// first use.
func (f *fixtureSet) get(tb testing.TB) (pause, imageTar string) {
	tb.Helper()
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "gossipod-runtime-test-")
		if f.err != nil {
			return
		}
		f.image = filepath.Join(f.dir, "busybox.tar")
		if f.err = testimage.Build(f.image); f.err != nil {
			return
		}
		f.pause, f.err = buildPause(f.dir)
	})
	if f.err != nil {
		if os.Getenv("CI") != "true" && strings.Contains(f.err.Error(), testimage.ErrNoBusybox.Error()) {
			tb.Skipf("test image: %v", f.err)
		}
		tb.Fatalf("fixtures: %v", f.err)
	}
	return f.pause, f.image
}

// buildPause builds a statically linked pause binary (the container
// package's stand-in, which has the same hooks as gossipod's main), as
// `make build` links gossipod.
func buildPause(dir string) (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	out := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-tags", "osusergo,netgo,seccomp",
		"-ldflags", `-linkmode external -extldflags "-static"`, "-o", out, "./runtime/container/testdata/pause")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %v\n%s", err, b)
	}
	return out, nil
}

var cgroupSeq atomic.Int64

// realBackoff keeps restarts quick in the tests.
var realBackoff = backoffPolicy{Initial: 200 * time.Millisecond, Max: time.Second, Reset: time.Minute}

// newRealHarness is a harness on the real image store and container
// manager, in a fresh Root and cgroup root, with the test image loaded.
// Its cleanup removes every pod and checks that nothing is left.
func newRealHarness(t testing.TB) *harness {
	t.Helper()
	return newRealHarnessWith(t, nil)
}

// newRealHarnessWith is newRealHarness with a change to the runtime's
// configuration (nil for none).
func newRealHarnessWith(t testing.TB, change func(*Config)) *harness {
	t.Helper()
	needRoot(t)
	pause, imageTar := fixtures.get(t)
	root := t.TempDir()
	cgroupRoot := fmt.Sprintf("/gossipod-rt-test-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	h := &harness{t: t, root: root, timeout: 30 * time.Second}
	h.build = func() (*Runtime, error) {
		cfg := DefaultConfig()
		cfg.Root = root
		cfg.NodeName = "node-1"
		cfg.PauseBinary = pause
		cfg.CgroupRoot = cgroupRoot
		cfg.Logger = testLogger(t)
		if change != nil {
			change(&cfg)
		}
		return New(cfg)
	}
	h.start()
	h.r.backoff = realBackoff
	t.Cleanup(func() {
		// Whatever Runtime runs at the end (a test may restart it) removes
		// every pod, then stops.
		h.r.SyncPods(nil)
		waitUntilFor(t, time.Minute, "every pod removed", func() bool {
			h.r.mu.Lock()
			defer h.r.mu.Unlock()
			return len(h.r.workers) == 0
		})
		h.stop()
		removeCgroupRoot(cgroupRoot)
	})
	f, err := os.Open(imageTar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := h.r.LoadImage(f); err != nil {
		t.Fatal(err)
	}
	return h
}

// removeCgroupRoot removes the (empty) cgroup root of a test from every
// hierarchy.
func removeCgroupRoot(root string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + root)
	more, _ := filepath.Glob("/sys/fs/cgroup" + root)
	for _, d := range append(dirs, more...) {
		os.Remove(d)
	}
}

// busyboxPod is a defaulted pod running the test image, one container per
// name → command.
func busyboxPod(name string, containers ...api.Container) *api.Pod {
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default",
			UID: types.UID(fmt.Sprintf("11111111-2222-3333-4444-%012d", uidSeq.Add(1)))},
		Spec: api.PodSpec{NodeName: "node-1", Containers: containers},
	}
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].Image = testimage.Reference
	}
	api.SetPodDefaults(p)
	return p
}

func sh(name, script string) api.Container {
	return api.Container{Name: name, Command: []string{"sh", "-c", script}}
}

// exec runs a command in a container of a pod and returns its output and
// exit code.
func (h *harness) exec(pod, container string, cmd ...string) (string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code, err := h.r.Exec(ctx, "default", pod, container, cmd, ExecIO{Stdout: &out, Stderr: &errb})
	if err != nil {
		h.t.Fatalf("exec %v in %s/%s: %v", cmd, pod, container, err)
	}
	return out.String() + errb.String(), code
}

// logs returns a container's log.
func (h *harness) logs(pod, container string, opts LogOptions) string {
	h.t.Helper()
	var b bytes.Buffer
	if err := h.r.Logs(context.Background(), "default", pod, container, opts, &b); err != nil {
		h.t.Fatalf("logs %s/%s: %v", pod, container, err)
	}
	return b.String()
}

// pidOf is the host PID of a running container's main process.
func (h *harness) pidOf(pod, container string) int {
	h.t.Helper()
	w := h.r.findWorker("default", pod)
	if w == nil || w.snapshot().sandbox == nil {
		h.t.Fatalf("pod %s has no sandbox", pod)
	}
	c, err := w.snapshot().sandbox.Container(container)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.Pid()
}

func waitUntilFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
