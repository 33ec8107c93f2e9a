package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/gossipod/gossipod/internal/testenv"
	"github.com/gossipod/gossipod/runtime"
)

// BenchmarkHealthzUnderForkBomb measures how fast an agent answers
// GET /healthz (HTTPS, kept-alive, as admin) and forks a process
// (/bin/true, as the agent does for CNI plugins and image tools) while a
// fork bomb runs beside it in a pids cgroup limited to the default per-pod
// limit (runtime.DefaultPodPidsLimit), the way a pod's cgroup is, compared
// with no bomb. The bomb forks sleepers until the kernel refuses, then is
// restarted at once, so forks keep failing at the limit for the whole
// measurement. It reports p50 and p99 of both, in milliseconds.
func BenchmarkHealthzUnderForkBomb(b *testing.B) {
	testenv.NeedRoot(b)
	agents, stop := startAgents(b, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(b, agents, 30*time.Second)
	a := agents[0]
	cl := adminHTTPClient(b, a)
	url := "https://" + a.apiListener.Addr().String() + "/healthz"

	for _, bomb := range []bool{false, true} {
		name := "bomb=none"
		if bomb {
			name = fmt.Sprintf("bomb=pids.max%d", runtime.DefaultPodPidsLimit)
		}
		b.Run(name, func(b *testing.B) {
			if bomb {
				defer startForkBomb(b, runtime.DefaultPodPidsLimit)()
			}
			healthz := make([]time.Duration, 0, b.N)
			forks := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				resp, err := cl.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("/healthz: %s", resp.Status)
				}
				healthz = append(healthz, time.Since(start))
				start = time.Now()
				if err := exec.Command("/bin/true").Run(); err != nil {
					b.Fatalf("the agent cannot fork beside the bomb: %v", err)
				}
				forks = append(forks, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(percentileMS(healthz, 50), "healthz-p50-ms")
			b.ReportMetric(percentileMS(healthz, 99), "healthz-p99-ms")
			b.ReportMetric(percentileMS(forks, 50), "fork-p50-ms")
			b.ReportMetric(percentileMS(forks, 99), "fork-p99-ms")
		})
	}
}

// percentileMS returns the p-th percentile of ds in milliseconds.
func percentileMS(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}

// startForkBomb starts a fork bomb in a pids cgroup of its own with
// pids.max = limit, restarted whenever it dies of a refused fork; the
// returned func stops it and removes the cgroup. The bomb moves itself
// into the cgroup before it forks anything.
func startForkBomb(tb testing.TB, limit int64) func() {
	tb.Helper()
	dir := pidsCgroupDir(tb, fmt.Sprintf("gossipod-bench-forkbomb-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		tb.Fatal(err)
	}
	script := fmt.Sprintf(`echo $$ > %s/cgroup.procs || exit 1
exec sh -c 'while :; do sleep 1000 & done' 2>/dev/null`, dir)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_ = exec.Command("/bin/sh", "-c", script).Run() // ends when a fork is refused
			select {
			case <-ctx.Done():
			case <-time.After(time.Millisecond):
			}
		}
	}()
	// The bomb is at its limit before the measurement starts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "pids.current"))
		if n, _ := strconv.ParseInt(string(trimNL(b)), 10, 64); n >= limit {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			tb.Fatalf("fork bomb did not reach %d processes in 30s: %s", limit, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() {
		cancel()
		wg.Wait()
		if err := killAll(dir); err != nil {
			tb.Error(err)
		}
		if err := os.Remove(dir); err != nil {
			tb.Errorf("remove %s: %v", dir, err)
		}
	}
}

// pidsCgroupDir is name's directory in the pids hierarchy (v1) or the
// unified one (v2).
func pidsCgroupDir(tb testing.TB, name string) string {
	tb.Helper()
	if cgroups.IsCgroup2UnifiedMode() {
		return filepath.Join("/sys/fs/cgroup", name)
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "pids")
	if err != nil {
		tb.Fatalf("no pids cgroup: %v", err)
	}
	return filepath.Join(mnt, name)
}

// killAll SIGKILLs every process of the cgroup until it is empty.
func killAll(dir string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids, err := cgroups.GetPids(dir)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in %s", len(pids), dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
