package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/apparmor"
)

// harness runs a Runtime on the in-memory doubles and records every
// update it sends.
type harness struct {
	t      testing.TB
	r      *Runtime
	images *fakeImages
	rt     *fakeRuntime
	root   string
	stop   func()
	// build makes the Runtime: on the doubles, or the real one.
	build   func() (*Runtime, error)
	timeout time.Duration

	mu      sync.Mutex
	history map[string][]PodUpdate
	latest  map[string]PodUpdate
	events  map[string][]api.Event
	updates map[string]int
}

// testBackoff is short enough for tests to watch several restarts.
var testBackoff = backoffPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Reset: 10 * time.Second}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, images: newFakeImages(), rt: newFakeRuntime(), root: t.TempDir(), timeout: 5 * time.Second}
	h.images.add("busybox:1.36")
	h.build = func() (*Runtime, error) {
		cfg := DefaultConfig()
		cfg.AppArmor = apparmor.Host{} // fakes: never load a profile into this host's kernel
		cfg.Root = h.root
		cfg.NodeName = "node-1"
		cfg.Logger = testLogger(h.t)
		ctx, cancel := context.WithCancel(context.Background())
		return newRuntime(ctx, cancel, cfg, h.images, h.rt)
	}
	h.start()
	t.Cleanup(func() { h.stop() }) // the Runtime running at the end
	return h
}

// newHarnessAllowing is newHarness with hostPath volumes allowed under
// allowed, the agent's --allowed-host-paths.
func newHarnessAllowing(t testing.TB, allowed ...string) *harness {
	t.Helper()
	h := newHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.AllowedHostPaths = allowed
		}
		return r, err
	}
	h.start()
	return h
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// start (re)starts a Runtime on the harness's root and doubles, as an
// agent (re)starting on the same data dir.
func (h *harness) start() {
	h.t.Helper()
	r, err := h.build()
	if err != nil {
		h.t.Fatal(err)
	}
	r.backoff = testBackoff
	h.r = r
	h.mu.Lock()
	h.latest, h.events, h.updates = map[string]PodUpdate{}, map[string][]api.Event{}, map[string]int{}
	h.history = map[string][]PodUpdate{}
	h.mu.Unlock()
	runCtx, stopRun := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(runCtx) })
	wg.Go(func() {
		for {
			select {
			case u := <-r.Updates():
				h.mu.Lock()
				h.latest[u.UID] = u
				h.history[u.UID] = append(h.history[u.UID], u)
				h.events[u.UID] = append(h.events[u.UID], u.Events...)
				h.updates[u.UID]++
				h.mu.Unlock()
			case <-runCtx.Done():
				return
			}
		}
	})
	var once sync.Once
	h.stop = func() { once.Do(func() { stopRun(); wg.Wait() }) }
}

// restart stops the Runtime (pods stay) and starts a new one.
func (h *harness) restart() {
	h.stop()
	h.start()
}

// waitFor waits until the pod's latest update satisfies ok.
func (h *harness) waitFor(uid, what string, ok func(PodUpdate) bool) PodUpdate {
	h.t.Helper()
	deadline := time.Now().Add(h.timeout)
	for {
		h.mu.Lock()
		u, seen := h.latest[uid]
		h.mu.Unlock()
		if seen && ok(u) {
			return u
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; latest update: %s", what, describe(u))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitSeen waits until some update of the pod, not necessarily the
// latest, satisfied ok: for states that pass quickly.
func (h *harness) waitSeen(uid, what string, ok func(PodUpdate) bool) PodUpdate {
	h.t.Helper()
	deadline := time.Now().Add(h.timeout)
	for {
		h.mu.Lock()
		hist := h.history[uid]
		h.mu.Unlock()
		for _, u := range hist {
			if ok(u) {
				return u
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("never saw %s in %d updates", what, len(hist))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) waitPhase(uid string, phase api.PodPhase) PodUpdate {
	h.t.Helper()
	return h.waitFor(uid, "phase "+string(phase), func(u PodUpdate) bool { return u.Status.Phase == phase })
}

// eventReasons lists the reasons of the pod's events so far.
func (h *harness) eventReasons(uid string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events[uid] {
		out = append(out, e.Reason)
	}
	return out
}

func (h *harness) eventsOf(uid string) []api.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]api.Event(nil), h.events[uid]...)
}

// describe prints an update compactly for failure messages.
func describe(u PodUpdate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s removed=%v", u.Status.Phase, u.Removed)
	for _, list := range [][]api.ContainerStatus{u.Status.InitContainerStatuses, u.Status.ContainerStatuses} {
		for _, cs := range list {
			fmt.Fprintf(&b, " [%s restarts=%d %s]", cs.Name, cs.RestartCount, stateString(cs.State))
		}
	}
	return b.String()
}

func stateString(s api.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return "waiting:" + s.Waiting.Reason + ":" + s.Waiting.Message
	case s.Terminated != nil:
		return fmt.Sprintf("terminated:%s:%d", s.Terminated.Reason, s.Terminated.ExitCode)
	}
	return "none"
}

var uidSeq atomic.Int64

// testPod is a defaulted pod bound to node-1 with the named containers,
// all running busybox:1.36.
func testPod(name string, containers ...string) *api.Pod {
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default",
			UID: types.UID(fmt.Sprintf("00000000-0000-0000-0000-%012d", uidSeq.Add(1)))},
		Spec: api.PodSpec{NodeName: "node-1"},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: c, Image: "busybox:1.36"})
	}
	api.SetPodDefaults(p)
	return p
}

func withInit(p *api.Pod, names ...string) *api.Pod {
	for _, n := range names {
		p.Spec.InitContainers = append(p.Spec.InitContainers, api.Container{Name: n, Image: "busybox:1.36"})
	}
	api.SetPodDefaults(p)
	return p
}

// container waits for the named container of the pod's current sandbox to
// be started with the given attempt, and returns it.
func (h *harness) container(uid, name string, attempt int) *fakeContainer {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if sb := h.rt.sandbox(uid); sb != nil {
			if c := sb.container(name); c != nil && c.spec.Attempt == attempt {
				return c
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.t.Fatalf("container %s attempt %d of pod %s never started", name, attempt, uid)
	return nil
}
