package runtime

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// BenchmarkProbe100Containers measures what probing costs a node: 100
// containers, each with a probe every second (periodSeconds 1, kubelet's
// jitter on the first), against a local server, until b.N probes have run.
// It reports the CPU time (user + system, of the whole test process,
// server included) per probe, the worker goroutines, and how often the pod
// workers were woken (0: a healthy pod costs its probes and nothing else).
//
//	go test -run '^$' -bench BenchmarkProbe100Containers -benchtime 500x ./runtime
func BenchmarkProbe100Containers(b *testing.B) {
	for _, kind := range []string{"httpGet", "tcpSocket"} {
		b.Run(kind, func(b *testing.B) {
			var served atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
				if s == http.StateClosed || s == http.StateHijacked {
					served.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			port := srv.Listener.Addr().(*net.TCPAddr).Port
			probe := &api.Probe{PeriodSeconds: 1}
			if kind == "httpGet" {
				probe.HTTPGet = &api.HTTPGetAction{Port: intstr.FromInt(port)}
			} else {
				probe.TCPSocket = &api.TCPSocketAction{Port: intstr.FromInt(port)}
			}
			setTestProbeDefaults(probe)

			before := goruntime.NumGoroutine()
			var pokes atomic.Int64
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			const containers = 100
			cpu0, wall0 := cpuTime(b), time.Now()
			b.ResetTimer()
			for range containers {
				cp := &containerProbes{poke: func() { pokes.Add(1) }, readinessNow: make(chan struct{}, 1)}
				cp.has[readiness], cp.results[readiness] = true, resultSuccess
				pw := &probeWorker{typ: readiness, probe: probe, timing: timingOf(probe, time.Second),
					target: newProbeTarget(nil, &api.Container{Name: "app"}, "127.0.0.1"), set: cp,
					startedAt: time.Now(), log: testLogger(b), lastResult: resultSuccess, resultRun: 1}
				pw.timing.jitter = true
				wg.Go(func() { pw.run(ctx, nil) })
			}
			workers := goruntime.NumGoroutine() - before
			for served.Load() < int64(b.N) {
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
			cancel()
			wg.Wait()
			n := served.Load()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/probe")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			b.ReportMetric(float64(workers), "goroutines")
			b.ReportMetric(float64(pokes.Load())/float64(n), "wakeups/probe")
			eventuallyGoroutines(b, before)
		})
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// eventuallyGoroutines fails if the goroutines do not come back to n: the
// workers and their connections are all gone once stopped.
func eventuallyGoroutines(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			tb.Fatalf("%d goroutines left, %d before:\n%s", goruntime.NumGoroutine(), n, buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
