//go:build linux

package container

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSandboxStart measures CreateSandbox (pod cgroup, shm, pause
// running) and, apart, Destroy; and the pause process's resident memory,
// the fixed per-pod cost.
func BenchmarkSandboxStart(b *testing.B) {
	m := newTestManager(b)
	ctx := context.Background()
	var create, destroy time.Duration
	var rss int64
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		s, err := m.CreateSandbox(ctx, SandboxSpec{ID: fmt.Sprintf("bench-%d-%d", os.Getpid(), i), Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		create += time.Since(t0)
		b.StopTimer()
		rss += vmRSSKiB(b, s.Pid())
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

// perOp is the mean of n runs, in milliseconds.
func perOp(d time.Duration, n int) float64 {
	return float64(d.Microseconds()) / 1000 / float64(n)
}

// vmRSSKiB reads a process's resident set size.
func vmRSSKiB(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
