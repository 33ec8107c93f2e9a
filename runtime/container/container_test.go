//go:build linux

package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// A container that allocates past its memory limit is OOM-killed and says
// so; the limits land in the cgroup files.
func TestMemoryLimitOOMKilled(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "hog"})
	for _, tc := range []struct {
		name    string
		limit   int64
		args    []string
		wantOOM bool
	}{
		// busybox tail keeps the last "line" of /dev/zero - all of it.
		{"over the limit", 32 << 20, []string{"sh", "-c", "head -c 200m /dev/zero | tail"}, true},
		{"under the limit", 32 << 20, []string{"sh", "-c", "head -c 4m /dev/zero | tail >/dev/null"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, s, ContainerSpec{Name: "hog", MemoryLimitBytes: tc.limit, Args: tc.args})
			st := wait(t, c)
			if st.OOMKilled != tc.wantOOM {
				t.Errorf("OOMKilled = %v, want %v (%+v)", st.OOMKilled, tc.wantOOM, st)
			}
			if tc.wantOOM && st.Code != 137 {
				t.Errorf("exit code %d, want 137 (the pipeline's tail was SIGKILLed)", st.Code)
			}
			if !tc.wantOOM && st.Code != 0 {
				t.Errorf("exit code %d, want 0", st.Code)
			}
			if err := c.Remove(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// CPU limit -> CFS quota over a 100 ms period, request -> shares (weight
// on v2), memory limit -> memory.limit_in_bytes / memory.max.
func TestCgroupLimitFiles(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "limits"})
	start(t, s, ContainerSpec{Name: "app", Args: []string{"sleep", "3600"},
		MilliCPULimit: 250, MilliCPURequest: 500, MemoryLimitBytes: 64 << 20})
	leaf := m.containerCgroupPath(s.ID(), "app")
	if cgroups.IsCgroup2UnifiedMode() {
		dir := filepath.Join("/sys/fs/cgroup", leaf)
		for file, want := range map[string]string{
			"cpu.max":    "25000 100000",
			"memory.max": strconv.Itoa(64 << 20),
			"cpu.weight": strconv.FormatUint(cgroups.ConvertCPUSharesToCgroupV2Value(512), 10),
		} {
			if got := strings.TrimSpace(readFile(t, filepath.Join(dir, file))); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		return
	}
	for _, tc := range []struct{ subsystem, file, want string }{
		{"cpu", "cpu.cfs_quota_us", "25000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "512"},
		{"memory", "memory.limit_in_bytes", strconv.Itoa(64 << 20)},
	} {
		mnt, err := cgroups.FindCgroupMountpoint("", tc.subsystem)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(readFile(t, filepath.Join(mnt, leaf, tc.file))); got != tc.want {
			t.Errorf("%s/%s = %q, want %q", tc.subsystem, tc.file, got, tc.want)
		}
	}
}

// Volumes are bind-mounted, read-only ones refuse writes; /dev/shm is the
// pod's, shared by its containers.
func TestVolumesAndShm(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "vols"})
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "config.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.log")
	c := start(t, s, ContainerSpec{Name: "app", StdoutPath: out,
		Mounts: []Mount{{Source: rw, Destination: "/data"}, {Source: ro, Destination: "/config", ReadOnly: true}},
		Args: []string{"sh", "-c", `
			echo written > /data/out.txt || exit 1
			cat /config/config.txt || exit 2
			if echo x > /config/new 2>/dev/null; then exit 3; fi
			echo shared > /dev/shm/from-app
			sleep 3600`}})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readFile(t, out), "from the host") {
		if !c.Running() || time.Now().After(deadline) {
			st, _ := c.Wait(context.Background())
			t.Fatalf("container: %+v, output:\n%s", st, readFile(t, out))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := readFile(t, filepath.Join(rw, "out.txt")); got != "written\n" {
		t.Errorf("rw volume on the host has %q", got)
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); !os.IsNotExist(err) {
		t.Errorf("a file appeared in the read-only volume: %v", err)
	}
	// The other container of the pod reads what app wrote to /dev/shm.
	start(t, s, ContainerSpec{Name: "reader", Args: []string{"sleep", "3600"}})
	var got string
	for range 100 {
		if _, got = execOut(t, s, "reader", "cat", "/dev/shm/from-app"); got == "shared\n" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got != "shared\n" {
		t.Errorf("reader's /dev/shm/from-app = %q, want shared", got)
	}
	if _, err := os.Stat(filepath.Join(shmDir(s.dir), "from-app")); err != nil {
		t.Errorf("not in the pod's shm tmpfs: %v", err)
	}
	if code, _ := execOut(t, s, "reader", "sh", "-c", "grep -q ' /dev/shm tmpfs ' /proc/mounts"); code != 0 {
		t.Errorf("/dev/shm is not the tmpfs in the container")
	}
}

// Exit codes and signals are reported as Kubernetes reports them.
func TestExitStatus(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "exits"})
	for _, tc := range []struct {
		name   string
		args   []string
		signal os.Signal // sent after start
		want   ExitStatus
	}{
		{"exit code", []string{"sh", "-c", "exit 3"}, nil, ExitStatus{Code: 3}},
		{"success", []string{"true"}, nil, ExitStatus{Code: 0}},
		{"SIGKILL", []string{"sleep", "3600"}, unix.SIGKILL, ExitStatus{Code: 137, Signal: 9}},
		{"SIGTERM handled by a shell trap", []string{"sh", "-c", "trap 'exit 143' TERM; echo ready; while :; do sleep 0.05; done"}, unix.SIGTERM, ExitStatus{Code: 143}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			out := filepath.Join(t.TempDir(), "out.log")
			c := start(t, s, ContainerSpec{Name: "exits", Args: tc.args, StdoutPath: out})
			if strings.Contains(strings.Join(tc.args, " "), "echo ready") {
				// A signal sent before the trap is set is dropped: PID 1
				// without a handler ignores it.
				waitForOutput(t, c, out, "ready")
			}
			if tc.signal != nil {
				if err := c.Signal(tc.signal); err != nil {
					t.Fatal(err)
				}
			}
			st := wait(t, c)
			if st.Code != tc.want.Code || st.Signal != tc.want.Signal || st.OOMKilled || st.Unknown {
				t.Errorf("status %+v, want %+v", st, tc.want)
			}
			if st.FinishedAt.Before(c.StartedAt()) || c.StartedAt().Before(before.Add(-time.Second)) {
				t.Errorf("StartedAt %v, FinishedAt %v", c.StartedAt(), st.FinishedAt)
			}
			if c.Running() {
				t.Error("Running after exit")
			}
			if err := c.Signal(unix.SIGTERM); !errors.Is(err, ErrNotRunning) {
				t.Errorf("Signal after exit: %v, want ErrNotRunning", err)
			}
			if err := c.Remove(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Stop sends SIGTERM, and SIGKILL after the grace period to a container
// that ignores it (sleep as PID 1 has no handler, so SIGTERM is ignored).
func TestStopGrace(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "stop"})
	for _, tc := range []struct {
		name    string
		args    []string
		grace   time.Duration
		want    ExitStatus
		minTime time.Duration
		maxTime time.Duration
	}{
		{"ignores SIGTERM", []string{"sleep", "3600"}, 500 * time.Millisecond, ExitStatus{Code: 137, Signal: 9}, 500 * time.Millisecond, 5 * time.Second},
		{"exits on SIGTERM", []string{"sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done"}, 10 * time.Second, ExitStatus{Code: 0}, 0, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.log")
			c := start(t, s, ContainerSpec{Name: "stop", Args: tc.args, StdoutPath: out})
			if strings.Contains(strings.Join(tc.args, " "), "echo ready") {
				waitForOutput(t, c, out, "ready")
			}
			t0 := time.Now()
			st, err := c.Stop(context.Background(), tc.grace)
			took := time.Since(t0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Code != tc.want.Code || st.Signal != tc.want.Signal {
				t.Errorf("status %+v, want %+v", st, tc.want)
			}
			if took < tc.minTime || took > tc.maxTime {
				t.Errorf("Stop took %v, want between %v and %v", took, tc.minTime, tc.maxTime)
			}
			if err := c.Remove(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A start that fails leaves nothing of the container behind, and the name
// can be used again.
func TestStartContainerFailures(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "fails"})
	start(t, s, ContainerSpec{Name: "dup", Args: []string{"sleep", "3600"}})
	for _, tc := range []struct {
		name    string
		spec    ContainerSpec
		wantErr error // nil: any error
	}{
		{"no such program", ContainerSpec{Name: "app", Args: []string{"/nonexistent"}}, nil},
		{"exec fails after Run", ContainerSpec{Name: "app", Args: []string{"/bin/bad"}}, ErrNotStarted},
		{"name taken", ContainerSpec{Name: "dup", Args: []string{"true"}}, ErrExists},
		{"bad name", ContainerSpec{Name: "Bad_Name", Args: []string{"true"}}, ErrInvalid},
		{"reserved name", ContainerSpec{Name: "_pause", Args: []string{"true"}}, ErrInvalid},
		{"no layers", ContainerSpec{Name: "app", Args: []string{"true"}, LowerDirs: []string{}}, ErrInvalid},
		{"relative mount", ContainerSpec{Name: "app", Args: []string{"true"}, Mounts: []Mount{{Source: "data", Destination: "/data"}}}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			if spec.LowerDirs == nil {
				spec.LowerDirs = []string{lowerDir(t)}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := s.StartContainer(ctx, spec)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("StartContainer = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), s.ID()) {
				t.Errorf("error does not name the sandbox: %v", err)
			}
			if spec.Name != "app" {
				return
			}
			if _, err := os.Stat(containerDir(s.dir, "app")); !os.IsNotExist(err) {
				t.Errorf("container dir left: %v", err)
			}
			if _, err := os.Stat(filepath.Join(stateRoot(s.dir), "app")); !os.IsNotExist(err) {
				t.Errorf("libcontainer state left: %v", err)
			}
			for _, mnt := range cgroupMounts(t) {
				if _, err := os.Stat(filepath.Join(mnt, m.containerCgroupPath(s.ID(), "app"))); !os.IsNotExist(err) {
					t.Errorf("container cgroup left in %s", mnt)
				}
			}
			c := start(t, s, ContainerSpec{Name: "app", Args: []string{"true"}})
			wait(t, c)
			if err := c.Remove(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Remove takes the container's state, cgroup, overlay and directory, and
// only them: the sandbox and its other containers go on.
func TestRemoveContainer(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "rm"})
	keep := start(t, s, ContainerSpec{Name: "keep", Args: []string{"sleep", "3600"}})
	c := start(t, s, ContainerSpec{Name: "gone", Args: []string{"sleep", "3600"}, Attempt: 3})
	if c.Attempt() != 3 {
		t.Errorf("Attempt = %d", c.Attempt())
	}
	ctx := context.Background()
	if err := c.Remove(ctx); err != nil { // running: killed first
		t.Fatal(err)
	}
	if _, err := os.Stat(containerDir(s.dir, "gone")); !os.IsNotExist(err) {
		t.Errorf("dir left: %v", err)
	}
	if mps, _ := mountsUnder(containerDir(s.dir, "gone")); len(mps) > 0 {
		t.Errorf("mounts left: %v", mps)
	}
	for _, mnt := range cgroupMounts(t) {
		if _, err := os.Stat(filepath.Join(mnt, m.containerCgroupPath(s.ID(), "gone"))); !os.IsNotExist(err) {
			t.Errorf("cgroup left in %s", mnt)
		}
	}
	if _, err := s.Container("gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Container after Remove: %v, want ErrNotFound", err)
	}
	if err := c.Remove(ctx); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if names, _ := s.Containers(); len(names) != 1 || names[0] != "keep" {
		t.Errorf("Containers = %v, want [keep]", names)
	}
	if !keep.Running() || !s.Running() {
		t.Error("the other container or the pause stopped")
	}
}
