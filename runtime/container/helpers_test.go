//go:build linux

package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
)

// TestMain doubles as libcontainer's re-exec: the test binary is what
// libcontainer runs as "<binary> init" inside each new container.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
	code := m.Run()
	shared.cleanup()
	os.Exit(code)
}

// needRoot skips a test that needs root and cgo (namespaces, cgroups,
// mounts) - except under CI=true, where a skipped runtime test would hide
// that nothing was tested, so it fails.
func needRoot(tb testing.TB) {
	tb.Helper()
	var why string
	switch {
	case runtime.GOOS != "linux":
		why = "containers need Linux"
	case !cgoEnabled:
		why = "built without cgo (libcontainer's nsenter)"
	case os.Geteuid() != 0:
		why = "needs root"
	default:
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %s", why)
	}
	tb.Skip(why)
}

// fixtureSet is what every test of the process builds once: the static
// pause binary and the busybox root filesystem (a read-only lower dir).
type fixtureSet struct {
	once     sync.Once
	dir      string
	pause    string
	busybox  string
	pauseErr error
	rootErr  error
}

var shared fixtureSet

func (s *fixtureSet) cleanup() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// fixtures returns the static pause binary and the busybox lower dir.
func fixtures(tb testing.TB) (pause, lower string) {
	tb.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "gossipod-container-test-")
		if err != nil {
			shared.pauseErr, shared.rootErr = err, err
			return
		}
		shared.dir = dir
		shared.pause, shared.pauseErr = buildPause(tb, dir)
		shared.busybox, shared.rootErr = buildBusyboxRootfs(filepath.Join(dir, "busybox"))
	})
	if shared.pauseErr != nil {
		tb.Fatalf("static pause binary: %v", shared.pauseErr)
	}
	if shared.rootErr != nil {
		if os.Getenv("CI") != "true" && os.IsNotExist(shared.rootErr) {
			tb.Skipf("busybox rootfs: %v (apt-get install busybox-static)", shared.rootErr)
		}
		tb.Fatalf("busybox rootfs: %v", shared.rootErr)
	}
	return shared.pause, shared.busybox
}

// staticFlags are the Makefile's: a static binary can run as /pause in an
// empty root filesystem.
var staticFlags = []string{"-tags", "osusergo,netgo,seccomp", "-ldflags", `-linkmode external -extldflags "-static"`}

// buildPause builds the gossipod binary statically, as `make build` does.
// When cmd/gossipod does not build at the moment (other packages are
// being changed alongside), it builds testdata/pause instead, which has
// the same two hooks, and says so.
//
// GOSSIPOD_TEST_PAUSE=/path/to/gossipod uses a binary built beforehand
// (make build) instead.
func buildPause(tb testing.TB, dir string) (string, error) {
	if p := os.Getenv("GOSSIPOD_TEST_PAUSE"); p != "" {
		return p, checkStaticBinary(p)
	}
	modRoot, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(modRoot)))
	out := filepath.Join(dir, "gossipod")
	build := func(pkg string) error {
		args := append([]string{"build"}, staticFlags...)
		args = append(args, "-o", out, pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	if err := build("./cmd/gossipod"); err != nil {
		tb.Logf("NOTE: using runtime/container/testdata/pause as the pause binary: %v", firstLines(err.Error(), 4))
		if err := build("./runtime/container/testdata/pause"); err != nil {
			return "", err
		}
	}
	if err := checkStaticBinary(out); err != nil {
		return "", err
	}
	return out, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// buildBusyboxRootfs makes an image-like lower dir from Debian's
// busybox-static: /bin/busybox, a link per applet, /www/index.html for
// httpd, and /bin/bad, an executable that is not a program.
func buildBusyboxRootfs(dir string) (string, error) {
	src := "/bin/busybox"
	if err := checkStaticBinary(src); err != nil {
		return "", err
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "www", "etc", "root", "tmp", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return "", err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		return "", err
	}
	list, err := exec.Command(src, "--list-full").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		link := filepath.Join(dir, applet)
		if applet == "bin/busybox" {
			continue
		}
		if err := os.Symlink("/bin/busybox", link); err != nil && !os.IsExist(err) {
			return "", err
		}
	}
	files := map[string]string{
		"www/index.html": "hello from the pod\n",
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":      "root:x:0:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/bad"), []byte("not a program\x00\x01\x02"), 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

var cgroupSeq atomic.Int64

// newTestManager returns a Manager on a fresh Root and a cgroup root of
// its own (tests share the machine), and on cleanup destroys whatever the
// test left and removes the cgroup root.
func newTestManager(tb testing.TB) *Manager {
	tb.Helper()
	return newTestManagerWith(tb, func(*Config) {})
}

// newTestManagerWith is newTestManager with a configuration changed by
// edit (after the test's Root, CgroupRoot and pause are set).
func newTestManagerWith(tb testing.TB, edit func(*Config)) *Manager {
	tb.Helper()
	needRoot(tb)
	pause, _ := fixtures(tb)
	cfg := DefaultConfig()
	cfg.Root = filepath.Join(tb.TempDir(), "containers")
	cfg.CgroupRoot = fmt.Sprintf("/gossipod-test-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	cfg.PauseBinary = pause
	cfg.Logger = nil
	edit(&cfg)
	m, err := NewManager(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ids, _ := m.Sandboxes()
		for _, id := range ids {
			if err := m.DestroySandbox(ctx, id); err != nil {
				tb.Errorf("cleanup: %v", err)
			}
		}
		cm, err := manager.New(&cgroups.Cgroup{Path: m.cfg.CgroupRoot, Resources: &cgroups.Resources{SkipDevices: true}})
		if err == nil {
			if err := cm.Destroy(); err != nil {
				tb.Errorf("cleanup: cgroup root: %v", err)
			}
		}
	})
	return m
}

// lowerDir returns the busybox root filesystem.
func lowerDir(tb testing.TB) string {
	_, lower := fixtures(tb)
	return lower
}

var sandboxSeq atomic.Int64

// newSandbox creates a sandbox with a unique ID.
func newTestSandbox(tb testing.TB, m *Manager, spec SandboxSpec) *Sandbox {
	tb.Helper()
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("pod-%d-%d", os.Getpid(), sandboxSeq.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := m.CreateSandbox(ctx, spec)
	if err != nil {
		tb.Fatalf("CreateSandbox: %v", err)
	}
	return s
}

// start starts a busybox container and fails the test if it does not.
func start(tb testing.TB, s *Sandbox, spec ContainerSpec) *Container {
	tb.Helper()
	if spec.LowerDirs == nil {
		spec.LowerDirs = []string{lowerDir(tb)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.StartContainer(ctx, spec)
	if err != nil {
		tb.Fatalf("StartContainer %s: %v", spec.Name, err)
	}
	return c
}

// wait waits for a container's exit, at most 30 s.
func wait(tb testing.TB, c *Container) ExitStatus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.Wait(ctx)
	if err != nil {
		tb.Fatalf("Wait %s: %v", c.Name(), err)
	}
	return st
}

// execOut runs a command in a container and returns its exit code and
// output (stdout and stderr).
func execOut(tb testing.TB, s *Sandbox, container string, args ...string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out lockedBuffer
	code, err := s.Exec(ctx, container, args, ExecIO{Stdout: &out, Stderr: &out})
	if err != nil {
		tb.Fatalf("Exec %s %q: %v", container, args, err)
	}
	return code, out.String()
}

// lockedBuffer is a bytes.Buffer that stdout and stderr copiers can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForOutput waits until a container's output file contains want.
func waitForOutput(tb testing.TB, c *Container, path, want string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if !c.Running() || time.Now().After(deadline) {
			tb.Fatalf("%s never wrote %q (running %v):\n%s", c.Name(), want, c.Running(), b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readFile returns a file's content, failing the test if it cannot.
func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// cgroupMounts lists every cgroup hierarchy's mount point on the host,
// read from mountinfo rather than from the code under test.
func cgroupMounts(tb testing.TB) []string {
	tb.Helper()
	ms, err := cgroups.GetCgroupMounts(true)
	if err != nil {
		tb.Fatal(err)
	}
	var dirs []string
	for _, m := range ms {
		dirs = append(dirs, m.Mountpoint)
	}
	if cgroups.IsCgroup2UnifiedMode() || cgroups.IsCgroup2HybridMode() {
		dirs = append(dirs, unifiedMountpoint())
	}
	return dirs
}

func unifiedMountpoint() string {
	if cgroups.IsCgroup2UnifiedMode() {
		return "/sys/fs/cgroup"
	}
	return "/sys/fs/cgroup/unified"
}

// assertNothingLeft checks that no trace of sandbox id remains: no
// process of pids, no mount under its directory, no cgroup directory
// under <CgroupRoot>/pod<ID> in any hierarchy, no directory.
func assertNothingLeft(tb testing.TB, m *Manager, id string, pids []int) {
	tb.Helper()
	for _, pid := range pids {
		gone := false
		for range 100 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
				gone = true
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !gone {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			tb.Errorf("process %d of sandbox %s still exists: %s", pid, id, stat)
		}
	}
	dir := m.sandboxDir(id)
	if mps, err := mountsUnder(dir); err != nil || len(mps) > 0 {
		tb.Errorf("mounts left under %s: %v (%v)", dir, mps, err)
	}
	for _, mnt := range cgroupMounts(tb) {
		p := filepath.Join(mnt, m.cfg.CgroupRoot, "pod"+id)
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			tb.Errorf("cgroup dir left: %s (%v)", p, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(dir)
		tb.Errorf("sandbox dir left: %s (%v) with %d entries", dir, err, len(entries))
	}
}

// podPids lists every process in the pod's cgroup tree (v1 memory or v2).
func podPids(tb testing.TB, m *Manager, id string) []int {
	tb.Helper()
	cm, err := m.podCgroupManager(id)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := cm.GetAllPids()
	if err != nil {
		tb.Fatal(err)
	}
	return pids
}
