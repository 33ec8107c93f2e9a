//go:build linux

package container

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSandboxStart measures CreateSandbox (pod cgroup, shm, pause
// running) and, apart, Destroy; and the pause process's memory once its Go
// runtime has settled, the fixed per-pod cost: VmRSS, and RssAnon, the
// part that is the pod's own (the binary's file pages are shared by every
// pause and the agent through the page cache).
func BenchmarkSandboxStart(b *testing.B) {
	m := newTestManager(b)
	ctx := context.Background()
	var create, destroy time.Duration
	var rss, anon int64
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		s, err := m.CreateSandbox(ctx, SandboxSpec{ID: fmt.Sprintf("bench-%d-%d", os.Getpid(), i), Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		create += time.Since(t0)
		b.StopTimer()
		r, a := settledMemoryKiB(b, s.Pid())
		rss, anon = rss+r, anon+a
		t1 := time.Now()
		if err := s.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
		destroy += time.Since(t1)
		b.StartTimer()
	}
	b.ReportMetric(perOp(create, b.N), "create-ms/op")
	b.ReportMetric(perOp(destroy, b.N), "destroy-ms/op")
	b.ReportMetric(float64(rss)/float64(b.N), "pause-RSS-KiB")
	b.ReportMetric(float64(anon)/float64(b.N), "pause-RssAnon-KiB")
}

// BenchmarkSandboxAndContainer measures a sandbox plus one running
// container (overlay rootfs, joined namespaces, cgroup limits), without
// a pod network: the runtime's share of "apply to Running".
func BenchmarkSandboxAndContainer(b *testing.B) {
	m := newTestManager(b)
	lower := lowerDir(b)
	ctx := context.Background()
	var total, ctr, destroy time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		s, err := m.CreateSandbox(ctx, SandboxSpec{ID: fmt.Sprintf("bench-%d-%d", os.Getpid(), i), Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.StartContainer(ctx, ContainerSpec{Name: "app", LowerDirs: []string{lower},
			Args: []string{"sleep", "3600"}, MemoryLimitBytes: 64 << 20, MilliCPULimit: 500}); err != nil {
			b.Fatal(err)
		}
		ctr += time.Since(t1)
		total += time.Since(t0)
		b.StopTimer()
		t2 := time.Now()
		if err := s.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
		destroy += time.Since(t2)
		b.StartTimer()
	}
	b.ReportMetric(perOp(total, b.N), "ms/op")
	b.ReportMetric(perOp(ctr, b.N), "container-ms/op")
	b.ReportMetric(perOp(destroy, b.N), "destroy-ms/op")
}

// BenchmarkPodStartSeccomp measures a pod's start (sandbox + one running
// container, no network) with seccomp off (Unconfined) and on
// (RuntimeDefault for the pause and the container, as the agent's default
// gives), alternating the two in every iteration so that the load of the
// machine weighs on both alike; it reports each one's p50 and p99, and
// the CPU time the pod's own processes used (runc's init before it execs
// the program, read from RUSAGE_CHILDREN once Destroy has reaped them),
// which the machine's load does not inflate. The difference is libseccomp
// compiling the filter in runc's init and the kernel loading it, twice
// (pause and container).
func BenchmarkPodStartSeccomp(b *testing.B) {
	needSeccomp(b)
	m := newTestManager(b)
	lower := lowerDir(b)
	ctx := context.Background()
	modes := []struct {
		name    string
		profile SeccompProfile
		times   []time.Duration
		cpu     time.Duration
	}{
		{name: "off", profile: SeccompProfile{}},
		{name: "on", profile: SeccompProfile{RuntimeDefault: true}},
	}
	b.ResetTimer()
	for i := range b.N {
		for j := range modes {
			mode := &modes[j]
			cpu0 := childrenCPU(b)
			t0 := time.Now()
			s, err := m.CreateSandbox(ctx, SandboxSpec{ID: fmt.Sprintf("bench-%d-%d-%s", os.Getpid(), i, mode.name),
				Name: "bench", Seccomp: mode.profile})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.StartContainer(ctx, ContainerSpec{Name: "app", LowerDirs: []string{lower},
				Args: []string{"sleep", "3600"}, MemoryLimitBytes: 64 << 20, Seccomp: mode.profile}); err != nil {
				b.Fatal(err)
			}
			mode.times = append(mode.times, time.Since(t0))
			b.StopTimer()
			if err := s.Destroy(ctx); err != nil {
				b.Fatal(err)
			}
			mode.cpu += childrenCPU(b) - cpu0
			b.StartTimer()
		}
	}
	for _, mode := range modes {
		b.ReportMetric(perOp(mode.cpu, b.N), "cpu-"+mode.name+"-ms")
		slices.Sort(mode.times)
		b.ReportMetric(msOf(quantile(mode.times, 0.50)), "p50-"+mode.name+"-ms")
		b.ReportMetric(msOf(quantile(mode.times, 0.99)), "p99-"+mode.name+"-ms")
	}
}

// BenchmarkPodStartUserns measures a pod's start (sandbox + one running
// container, no network) in the host's user namespace and in one of its
// own (hostUsers: false: the pause makes the namespace, the sandbox's
// filesystems are checked for idmapped mounts, the image's layer is
// mounted idmapped under the overlay), alternating the two in every
// iteration so that the machine's load weighs on both alike; it reports
// each one's p50 and p99.
func BenchmarkPodStartUserns(b *testing.B) {
	m := newTestManager(b)
	usernsRoot(b, m.cfg.Root)
	lower := lowerDir(b)
	ctx := context.Background()
	modes := []struct {
		name   string
		userns *UserNamespace
		times  []time.Duration
	}{
		{name: "host"},
		{name: "userns", userns: &UserNamespace{HostUID: 1 << 16, HostGID: 1 << 16, Size: 1 << 16}},
	}
	b.ResetTimer()
	for i := range b.N {
		for j := range modes {
			mode := &modes[j]
			t0 := time.Now()
			s, err := m.CreateSandbox(ctx, SandboxSpec{ID: fmt.Sprintf("bench-%d-%d-%s", os.Getpid(), i, mode.name),
				Name: "bench", UserNamespace: mode.userns})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.StartContainer(ctx, ContainerSpec{Name: "app", LowerDirs: []string{lower},
				Args: []string{"sleep", "3600"}, MemoryLimitBytes: 64 << 20}); err != nil {
				b.Fatal(err)
			}
			mode.times = append(mode.times, time.Since(t0))
			b.StopTimer()
			if err := s.Destroy(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	for _, mode := range modes {
		slices.Sort(mode.times)
		b.ReportMetric(msOf(quantile(mode.times, 0.50)), "p50-"+mode.name+"-ms")
		b.ReportMetric(msOf(quantile(mode.times, 0.99)), "p99-"+mode.name+"-ms")
	}
}

// childrenCPU is the user and system time of the reaped children of this
// process.
func childrenCPU(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// quantile is the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// perOp is the mean of n runs, in milliseconds.
func perOp(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(n)
}

// settledMemoryKiB returns a process's VmRSS and RssAnon once VmRSS has
// stopped changing (the pause's Go runtime is still starting when
// CreateSandbox returns).
func settledMemoryKiB(tb testing.TB, pid int) (rss, anon int64) {
	tb.Helper()
	stable := 0
	for i := 0; i < 100 && stable < 5; i++ {
		time.Sleep(20 * time.Millisecond)
		r, a := memoryKiB(tb, pid)
		if r == rss {
			stable++
		} else {
			stable = 0
		}
		rss, anon = r, a
	}
	return rss, anon
}

// memoryKiB reads VmRSS and RssAnon from /proc/<pid>/status.
func memoryKiB(tb testing.TB, pid int) (rss, anon int64) {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[0] != "VmRSS:" && f[0] != "RssAnon:") {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			tb.Fatal(err)
		}
		if f[0] == "VmRSS:" {
			rss = n
		} else {
			anon = n
		}
	}
	return rss, anon
}

// msOf is a duration in milliseconds.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
