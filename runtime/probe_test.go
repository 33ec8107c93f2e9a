package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// scriptSandbox is a podSandbox whose Exec is a function (the rest is
// never called by the handlers).
type scriptSandbox struct {
	podSandbox
	exec func(ctx context.Context, args []string, stdio ExecIO) (int, error)
}

func (s *scriptSandbox) Exec(ctx context.Context, name string, args []string, stdio ExecIO) (int, error) {
	return s.exec(ctx, args, stdio)
}

// serverTarget is a probe target for a pod at the test server's address,
// with a container port named "http" on the server's port.
func serverTarget(t *testing.T, srv *httptest.Server) (*probeTarget, string, int32) {
	t.Helper()
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	c := &api.Container{Name: "app", Ports: []api.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	return newProbeTarget(nil, c, host), host, int32(port)
}

func httpProbe(port intstr.IntOrString, path string) *api.Probe {
	p := &api.Probe{ProbeHandler: api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Port: port, Path: path}}}
	setTestProbeDefaults(p)
	return p
}

// setTestProbeDefaults defaults a probe as the API server would.
func setTestProbeDefaults(p *api.Probe) {
	pod := &api.Pod{Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i", LivenessProbe: p}}}}
	api.SetPodDefaults(pod)
}

func TestHTTPGetProbe(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { seen.Store(r); fmt.Fprint(w, "fine") })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	target, _, port := serverTarget(t, srv)

	tests := []struct {
		name    string
		probe   *api.Probe
		outcome probeOutcome
		output  string // a prefix
	}{
		{"200 by port name", httpProbe(intstr.FromString("http"), "/ok"), outcomeSuccess, "fine"},
		{"200 by number", httpProbe(intstr.FromInt32(port), "/ok"), outcomeSuccess, "fine"},
		{"number as a string", httpProbe(intstr.FromString(strconv.Itoa(int(port))), "/ok"), outcomeSuccess, "fine"},
		{"500", httpProbe(intstr.FromString("http"), "/fail"), outcomeFailure, "HTTP probe failed with statuscode: 500"},
		{"404", httpProbe(intstr.FromString("http"), "/none"), outcomeFailure, "HTTP probe failed with statuscode: 404"},
		{"same-host redirect followed", httpProbe(intstr.FromString("http"), "/moved"), outcomeSuccess, "fine"},
		{"other-host redirect not followed", httpProbe(intstr.FromString("http"), "/away"), outcomeWarning, "Probe terminated redirects, Response body: "},
		{"redirect loop", httpProbe(intstr.FromString("http"), "/loop"), outcomeFailure, `Get "/loop": stopped after 10 redirects`},
		{"timeout", httpProbe(intstr.FromString("http"), "/slow"), outcomeFailure, "Get "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outcome, output, err := target.run(context.Background(), tt.probe, 300*time.Millisecond)
			if err != nil || outcome != tt.outcome || !strings.HasPrefix(output, tt.output) {
				t.Errorf("got %v %q %v, want %v %q…", outcome, output, err, tt.outcome, tt.output)
			}
		})
	}

	// kubelet's request: its User-Agent and Accept, the probe's headers,
	// Host from a Host header.
	p := httpProbe(intstr.FromString("http"), "/ok?x=1")
	p.HTTPGet.HTTPHeaders = []api.HTTPHeader{{Name: "Host", Value: "example.test"}, {Name: "X-Custom", Value: "a"}, {Name: "X-Custom", Value: "b"}}
	if outcome, _, err := target.run(context.Background(), p, time.Second); outcome != outcomeSuccess || err != nil {
		t.Fatalf("probe with headers: %v %v", outcome, err)
	}
	r := seen.Load()
	if ua := r.Header.Get("User-Agent"); ua != "kube-probe/1.37" {
		t.Errorf("User-Agent = %q", ua)
	}
	if r.Header.Get("Accept") != "*/*" || r.Host != "example.test" || strings.Join(r.Header.Values("X-Custom"), ",") != "a,b" || r.URL.RawQuery != "x=1" {
		t.Errorf("request: host %q, headers %v, query %q", r.Host, r.Header, r.URL.RawQuery)
	}
	p.HTTPGet.HTTPHeaders = []api.HTTPHeader{{Name: "User-Agent", Value: "mine"}, {Name: "Accept", Value: ""}}
	target.run(context.Background(), p, time.Second)
	if r := seen.Load(); r.Header.Get("User-Agent") != "mine" || r.Header.Get("Accept") != "" {
		t.Errorf("overridden headers: %v", r.Header)
	}

	// An unknown port name cannot be probed: an error, not a failure.
	if outcome, _, err := target.run(context.Background(), httpProbe(intstr.FromString("nope"), "/"), time.Second); err == nil || outcome != outcomeUnknown {
		t.Errorf("unknown port name: %v %v", outcome, err)
	}
}

func TestHTTPSProbeSkipsVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	target, _, _ := serverTarget(t, srv)
	p := httpProbe(intstr.FromString("http"), "/")
	p.HTTPGet.Scheme = api.URISchemeHTTPS
	if outcome, out, err := target.run(context.Background(), p, time.Second); outcome != outcomeSuccess || err != nil {
		t.Errorf("https probe of a self-signed server: %v %q %v", outcome, out, err)
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	c := &api.Container{Name: "app", Ports: []api.ContainerPort{{Name: "db", ContainerPort: int32(port)}}}
	target := newProbeTarget(nil, c, "127.0.0.1")
	p := &api.Probe{ProbeHandler: api.ProbeHandler{TCPSocket: &api.TCPSocketAction{Port: intstr.FromString("db")}}}
	if outcome, _, err := target.run(context.Background(), p, time.Second); outcome != outcomeSuccess || err != nil {
		t.Errorf("listening port: %v %v", outcome, err)
	}
	ln.Close()
	outcome, out, err := target.run(context.Background(), p, time.Second)
	if outcome != outcomeFailure || err != nil || !strings.Contains(out, "connection refused") {
		t.Errorf("closed port: %v %q %v", outcome, out, err)
	}
}

func TestExecProbe(t *testing.T) {
	sb := &scriptSandbox{exec: func(ctx context.Context, args []string, stdio ExecIO) (int, error) {
		switch args[0] {
		case "ok":
			fmt.Fprint(stdio.Stdout, "all good")
			return 0, nil
		case "bad":
			fmt.Fprint(stdio.Stderr, "cat: can't open '/tmp/healthy': No such file or directory\n")
			return 1, nil
		case "chatty":
			fmt.Fprint(stdio.Stdout, strings.Repeat("x", 20<<10))
			return 2, nil
		case "hang":
			<-ctx.Done()
			return -1, fmt.Errorf("exec: %w", ctx.Err())
		}
		return -1, fmt.Errorf("container app: %w", errNotRunning)
	}}
	target := newProbeTarget(sb, &api.Container{Name: "app"}, "")
	tests := []struct {
		cmd     []string
		outcome probeOutcome
		output  string
		err     bool
	}{
		{[]string{"ok"}, outcomeSuccess, "all good", false},
		{[]string{"bad"}, outcomeFailure, "cat: can't open '/tmp/healthy': No such file or directory\n", false},
		{[]string{"chatty"}, outcomeFailure, strings.Repeat("x", 10<<10), false},
		{[]string{"hang", "10"}, outcomeFailure, `command "hang 10" timed out`, false},
		{[]string{"gone"}, outcomeUnknown, "", true},
	}
	for _, tt := range tests {
		p := &api.Probe{ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: tt.cmd}}}
		outcome, out, err := target.run(context.Background(), p, 50*time.Millisecond)
		if outcome != tt.outcome || out != tt.output || (err != nil) != tt.err {
			t.Errorf("%v: got %v %q %v", tt.cmd, outcome, truncateForTest(out), err)
		}
	}
}

func truncateForTest(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func TestProbeUserAgentFollowsGoMod(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	// k8s.io/api v0.37.2 is Kubernetes 1.37.
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "k8s.io/api" {
			minor := strings.Split(strings.TrimPrefix(f[1], "v0."), ".")[0]
			if want := "kube-probe/1." + minor; probeUserAgent != want {
				t.Errorf("probeUserAgent = %q, but go.mod has k8s.io/api %s: want %q", probeUserAgent, f[1], want)
			}
			return
		}
	}
	t.Fatal("k8s.io/api not in go.mod")
}

// scriptedWorker is a probe worker on an exec probe whose results come
// from a list, and its containerProbes.
func scriptedWorker(t *testing.T, typ probeType, probe *api.Probe, results *[]int, hasStartup bool) (*probeWorker, *containerProbes, *atomic.Int32) {
	t.Helper()
	var mu sync.Mutex
	sb := &scriptSandbox{exec: func(ctx context.Context, args []string, stdio ExecIO) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(*results) == 0 {
			return -1, errors.New("script exhausted")
		}
		r := (*results)[0]
		*results = (*results)[1:]
		if r < 0 {
			return -1, errors.New("exec failed")
		}
		fmt.Fprintf(stdio.Stdout, "exit %d", r)
		return r, nil
	}}
	probe.Exec = &api.ExecAction{Command: []string{"check"}}
	setTestProbeDefaults(probe)
	pokes := &atomic.Int32{}
	cp := &containerProbes{poke: func() { pokes.Add(1) }, readinessNow: make(chan struct{}, 1)}
	cp.has[typ], cp.results[typ] = true, initialResult(typ)
	if hasStartup && typ != startup {
		cp.has[startup], cp.results[startup] = true, initialResult(startup)
	}
	pw := &probeWorker{typ: typ, probe: probe, timing: timingOf(probe, time.Millisecond),
		target: newProbeTarget(sb, &api.Container{Name: "app"}, ""), set: cp, startedAt: time.Now(), log: testLogger(t)}
	return pw, cp, pokes
}

// The worker's state machine, probe by probe: kubelet's thresholds,
// initial values, on-hold after a liveness failure, errors thrown away.
func TestProbeWorkerThresholds(t *testing.T) {
	ctx := context.Background()
	t.Run("readiness", func(t *testing.T) {
		// An erroring exec (-1) is tried again at once: the 0 after it is
		// that probe's result.
		script := []int{0, 0, 1, 1, 0, 1, 1, 1, -1, 0, 0}
		pw, cp, _ := scriptedWorker(t, readiness, &api.Probe{SuccessThreshold: 2, FailureThreshold: 3}, &script, false)
		if !cp.view().notReady {
			t.Fatal("ready before any probe")
		}
		// Each step: keep going, and whether the container is ready after.
		want := []bool{false, true, true, true, true, true, true, false, false, true}
		for i, w := range want {
			if !pw.doProbe(ctx) {
				t.Fatalf("probe %d: worker stopped", i)
			}
			if got := !cp.view().notReady; got != w {
				t.Fatalf("after probe %d: ready = %v, want %v", i, got, w)
			}
		}
	})
	t.Run("liveness holds after a failure", func(t *testing.T) {
		script := []int{1, 0, 1, 1, 1}
		pw, cp, _ := scriptedWorker(t, liveness, &api.Probe{FailureThreshold: 3}, &script, false)
		for i := range 4 {
			if !pw.doProbe(ctx) || cp.view().killing {
				t.Fatalf("probe %d: stopped or killing too early", i)
			}
		}
		if pw.doProbe(ctx) {
			t.Error("worker keeps probing a container it failed")
		}
		if v := cp.view(); !v.killing || v.failed != liveness {
			t.Errorf("view after 3 failures in a row: %+v", v)
		}
		ev := cp.takeEvents()
		if len(ev) != 4 || ev[0].message != "Liveness probe failed: exit 1" || ev[0].reason != "Unhealthy" || ev[0].typ != "Warning" {
			t.Errorf("events: %+v", ev)
		}
	})
	t.Run("startup gates liveness and readiness", func(t *testing.T) {
		script := []int{}
		live, cp, _ := scriptedWorker(t, liveness, &api.Probe{}, &script, true)
		cp.has[readiness], cp.results[readiness] = true, resultFailure
		if !live.doProbe(ctx) {
			t.Fatal("liveness stopped before startup")
		}
		if v := cp.view(); !v.notStarted || !v.notReady {
			t.Errorf("before startup: %+v", v)
		}
		startScript := []int{1, 0}
		start := &probeWorker{typ: startup, probe: live.probe, timing: live.timing,
			target: scriptedTargetFor(&startScript), set: cp, startedAt: time.Now(), log: live.log}
		if !start.doProbe(ctx) || !cp.view().notStarted {
			t.Fatal("one startup failure out of 3 changed the state")
		}
		if !start.doProbe(ctx) || cp.view().notStarted {
			t.Fatal("startup success did not start the container")
		}
		select {
		case <-cp.readinessNow:
		default:
			t.Error("startup success did not trigger the readiness probe")
		}
		if start.doProbe(ctx) {
			t.Error("startup worker keeps going after its success")
		}
		script = append(script, 0)
		if !live.doProbe(ctx) || len(script) != 0 {
			t.Error("liveness did not probe once started")
		}
	})
	t.Run("an error throws the result away", func(t *testing.T) {
		script := []int{-1, -1, -1}
		pw, cp, _ := scriptedWorker(t, readiness, &api.Probe{}, &script, false)
		if !pw.doProbe(ctx) || pw.resultRun != 0 || len(script) != 0 {
			t.Errorf("after an erroring probe (3 tries): run %d, script left %v", pw.resultRun, script)
		}
		if ev := cp.takeEvents(); len(ev) != 1 || ev[0].message != "Readiness probe errored and resulted in unknown state: exec failed" {
			t.Errorf("events: %+v", ev)
		}
	})
	t.Run("initial delay", func(t *testing.T) {
		script := []int{0}
		pw, cp, _ := scriptedWorker(t, readiness, &api.Probe{InitialDelaySeconds: 3600}, &script, false)
		pw.timing.initialDelay = time.Hour
		if !pw.doProbe(ctx) || len(script) != 1 || !cp.view().notReady {
			t.Error("probed during the initial delay")
		}
	})
	t.Run("deletion quiets liveness", func(t *testing.T) {
		script := []int{1, 1, 1}
		pw, cp, _ := scriptedWorker(t, liveness, &api.Probe{FailureThreshold: 1}, &script, false)
		cp.markDeleting()
		if pw.doProbe(ctx) || len(script) != 3 || cp.view().killing {
			t.Error("liveness probed a pod being deleted")
		}
	})
}

func scriptedTargetFor(results *[]int) *probeTarget {
	sb := &scriptSandbox{exec: func(ctx context.Context, args []string, stdio ExecIO) (int, error) {
		r := (*results)[0]
		*results = (*results)[1:]
		return r, nil
	}}
	return newProbeTarget(sb, &api.Container{Name: "app"}, "")
}

// A probe failing for long reports kubelet's burst of 25 events, then one
// per 5 minutes.
func TestProbeEventSpamFilter(t *testing.T) {
	var pokes int
	cp := &containerProbes{poke: func() { pokes++ }}
	kept := 0
	for i := range 100 {
		cp.event("Warning", "Unhealthy", "Readiness probe failed: %d", i)
		kept += len(cp.takeEvents())
	}
	if kept != probeEventBurst || pokes != probeEventBurst {
		t.Errorf("kept %d events, %d wake-ups; want %d", kept, pokes, probeEventBurst)
	}
	cp.refilled = cp.refilled.Add(-2*probeEventRefill - time.Second) // 10 minutes pass
	for range 5 {
		cp.event("Warning", "Unhealthy", "again")
	}
	if n := len(cp.takeEvents()); n != 2 {
		t.Errorf("after 10 minutes: %d events, want 2", n)
	}
}

// The worker goroutine probes on its period and stops with its context:
// no goroutine is left behind.
func TestProbeWorkerRunStops(t *testing.T) {
	var n atomic.Int32
	sb := &scriptSandbox{exec: func(ctx context.Context, args []string, stdio ExecIO) (int, error) {
		n.Add(1)
		return 0, nil
	}}
	p := &api.Probe{ProbeHandler: api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"ok"}}}, PeriodSeconds: 5}
	setTestProbeDefaults(p)
	cp := &containerProbes{poke: func() {}, readinessNow: make(chan struct{}, 1)}
	cp.has[readiness], cp.results[readiness] = true, resultFailure
	pw := &probeWorker{typ: readiness, probe: p, timing: timingOf(p, time.Millisecond),
		target: newProbeTarget(sb, &api.Container{Name: "app"}, ""), set: cp, startedAt: time.Now(), log: testLogger(t)}
	pw.timing.jitter = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pw.run(ctx, cp.readinessNow); close(done) }()
	eventually(t, 5*time.Second, "10 probes", func() bool { return n.Load() >= 10 })
	if cp.view().notReady {
		t.Error("not ready after passing probes")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not stop with its context")
	}
}

// eventually polls ok until it holds, failing the test after d.
func eventually(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
