//go:build linux

package container

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A new Manager on the same Root (the agent restarted) finds the sandbox
// and its containers running, can exec into them and start more, and Wait
// on an adopted container reports Unknown (or OOMKilled) once it dies.
func TestReadoptAfterRestart(t *testing.T) {
	m1 := newTestManager(t)
	s1 := newTestSandbox(t, m1, SandboxSpec{Name: "survivor", Hostname: "survivor"})
	out := filepath.Join(t.TempDir(), "app.log")
	c1 := start(t, s1, ContainerSpec{Name: "app", Attempt: 2, StdoutPath: out,
		Args: []string{"sh", "-c", "while :; do echo tick; sleep 0.05; done"}})
	hog := start(t, s1, ContainerSpec{Name: "hog", MemoryLimitBytes: 32 << 20,
		Args: []string{"sh", "-c", "sleep 1; head -c 200m /dev/zero | tail"}})

	// The agent restarts: a new Manager, nothing shared but Root.
	m2, err := NewManager(m1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := m2.Sandboxes()
	if err != nil || !slices.Contains(ids, s1.ID()) {
		t.Fatalf("Sandboxes = %v, %v", ids, err)
	}
	s2, err := m2.Sandbox(s1.ID())
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Running() || s2.Pid() != s1.Pid() || s2.NetNSPath() != s1.NetNSPath() || s2.Hostname() != "survivor" {
		t.Fatalf("adopted sandbox: running %v pid %d (want %d) netns %s", s2.Running(), s2.Pid(), s1.Pid(), s2.NetNSPath())
	}
	names, err := s2.Containers()
	if err != nil || !slices.Equal(names, []string{"app", "hog"}) {
		t.Fatalf("Containers = %v, %v", names, err)
	}
	c2, err := s2.Container("app")
	if err != nil {
		t.Fatal(err)
	}
	if !c2.Running() || c2.Pid() != c1.Pid() || c2.Attempt() != 2 || !c2.Adopted() || !c2.StartedAt().Equal(c1.StartedAt()) {
		t.Fatalf("adopted container: running %v pid %d/%d attempt %d adopted %v started %v/%v",
			c2.Running(), c2.Pid(), c1.Pid(), c2.Attempt(), c2.Adopted(), c2.StartedAt(), c1.StartedAt())
	}
	h2, err := s2.Container("hog")
	if err != nil {
		t.Fatal(err)
	}
	if !h2.Running() || !hog.Running() {
		t.Fatal("hog is not running when adopted (it should get OOM-killed only after 1 s)")
	}
	if code, o := execOut(t, s2, "app", "sh", "-c", "echo $PATH; hostname"); code != 0 || !strings.HasSuffix(o, "survivor\n") {
		t.Errorf("exec in adopted container: %d %q", code, o)
	}
	// Output keeps going to the file, written by the container itself.
	size := len(readFile(t, out))
	time.Sleep(200 * time.Millisecond)
	if len(readFile(t, out)) <= size {
		t.Error("the container's output file stopped growing")
	}
	// A container started in the adopted sandbox joins its namespaces.
	late := start(t, s2, ContainerSpec{Name: "late", Args: []string{"sleep", "3600"}})
	if _, h := execOut(t, s2, "late", "hostname"); h != "survivor\n" {
		t.Errorf("late container's hostname %q", h)
	}
	if !late.Running() || late.Adopted() {
		t.Error("late container: not running, or adopted")
	}

	// Killed from outside: an adopted container's exit status is unknown.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waited := make(chan ExitStatus, 1)
	go func() {
		st, err := c2.Wait(ctx)
		if err != nil {
			t.Error(err)
		}
		waited <- st
	}()
	time.Sleep(100 * time.Millisecond) // let Wait block on the pidfd
	if err := unix.Kill(c2.Pid(), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-waited:
		if !st.Unknown || st.Code != 137 || st.OOMKilled {
			t.Errorf("adopted Wait = %+v, want Unknown with code 137", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait on the adopted container did not return after the kill")
	}
	if c2.Running() {
		t.Error("adopted container still Running after the kill")
	}

	// OOM-killed while adopted: the cgroup tells.
	st, err := h2.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.OOMKilled || st.Code != 137 {
		t.Errorf("adopted OOM-killed container: %+v, want OOMKilled 137", st)
	}

	// Wait with a context that ends returns the context's error.
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	l2, err := NewManager(m1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := l2.Sandbox(s1.ID())
	if err != nil {
		t.Fatal(err)
	}
	lc, err := ls.Container("late")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Wait(sctx); err != context.DeadlineExceeded {
		t.Errorf("Wait on a running adopted container with a short context = %v", err)
	}
}

// A container's environment, which may hold Secrets' values, is kept on the
// sandbox's private tmpfs, never in its directory on disk; an agent that
// restarts still execs with it, and it goes with the container.
func TestEnvironmentKeptOffDisk(t *testing.T) {
	const marker = "env-marker-4c1e0b"
	m1 := newTestManager(t)
	s1 := newTestSandbox(t, m1, SandboxSpec{Name: "envs", Hostname: "envs"})
	start(t, s1, ContainerSpec{Name: "app", Args: []string{"sleep", "3600"}, Env: []string{"DB_PASSWORD=" + marker}})

	meta := readFile(t, containerMetaPath(containerDir(s1.dir, "app")))
	if strings.Contains(meta, marker) {
		t.Fatalf("meta.json on disk holds the environment: %s", meta)
	}
	envFile := containerEnvPath(s1.dir, "app")
	if !strings.Contains(readFile(t, envFile), marker) {
		t.Fatalf("%s lacks the environment", envFile)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(envFile, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("%s: file system type %#x (%v), want tmpfs", envFile, fs.Type, err)
	}

	m2, err := NewManager(m1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := m2.Sandbox(s1.ID())
	if err != nil {
		t.Fatal(err)
	}
	if code, out := execOut(t, s2, "app", "sh", "-c", "echo $DB_PASSWORD"); code != 0 || out != marker+"\n" {
		t.Fatalf("exec in the adopted container: %d %q, want its environment", code, out)
	}
	if err := s2.RemoveContainer(context.Background(), "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Fatalf("%s after the container's removal: %v", envFile, err)
	}
}
