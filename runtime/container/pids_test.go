//go:build linux

package container

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
)

// podPidsDir is the pod's cgroup directory in the pids hierarchy, found
// from the host's mounts rather than from the code under test.
func podPidsDir(tb testing.TB, m *Manager, id string) string {
	tb.Helper()
	if cgroups.IsCgroup2UnifiedMode() {
		return filepath.Join("/sys/fs/cgroup", m.cfg.CgroupRoot, "pod"+id)
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "pids")
	if err != nil {
		tb.Fatalf("no pids cgroup hierarchy: %v", err)
	}
	return filepath.Join(mnt, m.cfg.CgroupRoot, "pod"+id)
}

// readCgroupFile reads one value of a cgroup file, trimmed.
func readCgroupFile(tb testing.TB, dir, name string) string {
	tb.Helper()
	return strings.TrimSpace(readFile(tb, filepath.Join(dir, name)))
}

// The pod cgroup's pids.max is PodPidsLimit before any process of the pod
// runs, and "max" when the manager is told to set no per-pod limit.
func TestPodCgroupPidsMax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		want  string
	}{
		{"default", DefaultPodPidsLimit, strconv.Itoa(DefaultPodPidsLimit)},
		{"small", 64, "64"},
		{"no per-pod limit", -1, "max"},
		{"zero is no per-pod limit", 0, "max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManagerWith(t, func(c *Config) { c.PodPidsLimit = tc.limit })
			s := newTestSandbox(t, m, SandboxSpec{Name: "pids-0"})
			if got := readCgroupFile(t, podPidsDir(t, m, s.ID()), "pids.max"); got != tc.want {
				t.Errorf("pod cgroup pids.max = %q, want %q", got, tc.want)
			}
		})
	}
}

// The cgroup every pod lives under gets pids.max = PodsPidsLimit (the
// node's pid capacity minus --system-reserved pid=...) when the manager
// starts, "max" without one; a restarted manager with another limit
// rewrites it.
func TestCgroupRootPidsMax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		want  string
	}{
		{"none reserved", 0, "max"},
		{"reserved", 30000, "30000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManagerWith(t, func(c *Config) { c.PodsPidsLimit = tc.limit })
			dir := filepath.Dir(podPidsDir(t, m, "x"))
			if got := readCgroupFile(t, dir, "pids.max"); got != tc.want {
				t.Errorf("%s pids.max = %q, want %q", m.cfg.CgroupRoot, got, tc.want)
			}
			cfg := m.cfg
			cfg.PodsPidsLimit = 12345
			if _, err := NewManager(cfg); err != nil {
				t.Fatal(err)
			}
			if got := readCgroupFile(t, dir, "pids.max"); got != "12345" {
				t.Errorf("after a restart with another limit: pids.max = %q, want 12345", got)
			}
		})
	}
}

// The cgroup every pod lives under gets the memory limit PodsMemoryLimit
// (the node's allocatable memory when --system-reserved memory=... is
// set), unlimited without one; a restart without it lifts the limit.
func TestCgroupRootMemoryLimit(t *testing.T) {
	m := newTestManagerWith(t, func(c *Config) { c.PodsMemoryLimit = 3 << 30 })
	dir, file, unlimited := rootMemoryFile(t, m)
	if got := readCgroupFile(t, dir, file); got != strconv.Itoa(3<<30) {
		t.Errorf("%s %s = %q, want %d", m.cfg.CgroupRoot, file, got, 3<<30)
	}
	cfg := m.cfg
	cfg.PodsMemoryLimit = 0
	if _, err := NewManager(cfg); err != nil {
		t.Fatal(err)
	}
	if got := readCgroupFile(t, dir, file); !unlimited(got) {
		t.Errorf("after a restart without a limit: %s = %q, want unlimited", file, got)
	}
}

// rootMemoryFile is the cgroup root's memory limit file, found from the
// host's mounts, and how to tell "unlimited" in it.
func rootMemoryFile(tb testing.TB, m *Manager) (dir, file string, unlimited func(string) bool) {
	tb.Helper()
	if cgroups.IsCgroup2UnifiedMode() {
		return filepath.Join("/sys/fs/cgroup", m.cfg.CgroupRoot), "memory.max", func(s string) bool { return s == "max" }
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		tb.Fatalf("no memory cgroup hierarchy: %v", err)
	}
	// v1 reads back "unlimited" as the largest page-aligned value.
	return filepath.Join(mnt, m.cfg.CgroupRoot), "memory.limit_in_bytes", func(s string) bool {
		n, err := strconv.ParseUint(s, 10, 64)
		return err == nil && n >= 1<<62
	}
}

// forkBombLimit is the pods' pids.max in the fork-bomb test: small, so
// the bomb reaches it at once, large enough for a pause, a shell and an
// exec.
const forkBombLimit = 64

// forkBomb is a container that forks sleepers until fork fails: the
// pod's process count sits at its pids.max, held there by the sleepers.
// The forking shell is not the container's PID 1: busybox sh exits when a
// fork fails, and PID 1's exit would end the PID namespace and with it
// the bomb; PID 1 is a sleep that inherits the sleepers. (The classic
// `f(){ f|f& }; f` reaches the limit too, but its processes come and go,
// which makes "stays at the limit" a race to observe.) Its CPU is capped
// so that a machine running other tests beside it stays usable; the pids
// limit, not the CPU limit, is what keeps its processes in the pod.
var forkBomb = ContainerSpec{
	Name:          "bomb",
	Args:          []string{"sh", "-c", "(while :; do sleep 1000 & done) & exec sleep 3600"},
	MilliCPULimit: 500,
}

// A fork bomb in one pod stays inside the pod's pids limit: its pod's
// process count reaches the limit and never passes it, the kernel reports
// refused forks, a second pod on the node still starts and runs commands,
// and the node (this test process, standing in for the agent) still forks.
func TestForkBombStaysInsideItsPod(t *testing.T) {
	m := newTestManagerWith(t, func(c *Config) { c.PodPidsLimit = forkBombLimit })
	bombed := newTestSandbox(t, m, SandboxSpec{Name: "bomb-0"})
	bomb := start(t, bombed, forkBomb)
	dir := podPidsDir(t, m, bombed.ID())

	// Step 1: the bomb reaches the limit, and the kernel refuses forks.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, _ := strconv.Atoi(readCgroupFile(t, dir, "pids.current"))
		if cur > forkBombLimit {
			t.Fatalf("pids.current = %d, above pids.max %d", cur, forkBombLimit)
		}
		if cur == forkBombLimit && refusedForks(t, dir) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fork bomb did not reach the pod's limit in 30s: pids.current %d, pids.events %q",
				cur, readCgroupFile(t, dir, "pids.events"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Step 2: the node forks: a process of the agent's starts and exits.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/bin/sh", "-c", "echo node-ok").CombinedOutput(); err != nil || string(out) != "node-ok\n" {
		t.Fatalf("the node could not run a process beside the fork bomb: %v %q", err, out)
	}

	// Step 3: another pod starts and runs a command.
	other := newTestSandbox(t, m, SandboxSpec{Name: "other-0"})
	start(t, other, ContainerSpec{Name: "app", Args: []string{"sleep", "3600"}})
	if code, out := execOut(t, other, "app", "sh", "-c", "echo pod-ok"); code != 0 || out != "pod-ok\n" {
		t.Fatalf("a second pod beside the fork bomb: exit %d, %q", code, out)
	}

	// Step 4: the bomb is still at its limit, not past it.
	cur, _ := strconv.Atoi(readCgroupFile(t, dir, "pids.current"))
	if cur > forkBombLimit {
		t.Fatalf("pids.current = %d, above pids.max %d", cur, forkBombLimit)
	}
	if !bomb.Running() {
		t.Fatalf("the fork bomb's container died: it should hold its pod at the limit")
	}
}

// refusedForks reads how many forks the pids controller refused in the
// cgroup tree under dir: pids.events' "max", summed over the pod and its
// containers' cgroups, since kernels differ on which one counts the event
// (the cgroup whose limit was hit, or the one of the forking task).
func refusedForks(tb testing.TB, dir string) int {
	tb.Helper()
	total := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "pids.events" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "max "); ok {
				n, _ := strconv.Atoi(v)
				total += n
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}
