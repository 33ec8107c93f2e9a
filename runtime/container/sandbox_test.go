//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Two containers of one pod see the pod's hostname and network (one
// serves on 127.0.0.1:8080, the other fetches from it), and each has its
// own PID 1 unless the PID namespace is shared, when PID 1 is the pause.
func TestPodSharesHostnameAndNetwork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sharePID bool
		// what each container sees as PID 1
		serverPID1, clientPID1 string
	}{
		{"own PID namespaces", false, "httpd -f -p 8080 -h /www", "sh -c"},
		{"shared PID namespace", true, "/pause", "/pause"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t)
			s := newTestSandbox(t, m, SandboxSpec{Name: "web-0", Hostname: "web-1", SharePID: tc.sharePID})
			start(t, s, ContainerSpec{Name: "server", Args: []string{"httpd", "-f", "-p", "8080", "-h", "/www"}})
			out := filepath.Join(t.TempDir(), "client.log")
			client := start(t, s, ContainerSpec{Name: "client", StdoutPath: out, Args: []string{"sh", "-c", `
				i=0
				until wget -q -O - http://127.0.0.1:8080/index.html; do
					i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.05
				done
				echo "host=$(hostname)"
				echo "pid1=$(tr '\000' ' ' < /proc/1/cmdline)"
			`}})
			st := wait(t, client)
			log := readFile(t, out)
			if st.Code != 0 {
				t.Fatalf("client exited %+v:\n%s", st, log)
			}
			if !strings.Contains(log, "hello from the pod") {
				t.Errorf("client did not get the page from the server over loopback:\n%s", log)
			}
			if !strings.Contains(log, "host=web-1\n") {
				t.Errorf("client's hostname is not the pod's:\n%s", log)
			}
			if !strings.Contains(log, "pid1="+tc.clientPID1) {
				t.Errorf("client's PID 1 is not %q:\n%s", tc.clientPID1, log)
			}
			if _, h := execOut(t, s, "server", "hostname"); h != "web-1\n" {
				t.Errorf("server's hostname = %q, want web-1", h)
			}
			if _, p := execOut(t, s, "server", "sh", "-c", `tr '\000' ' ' < /proc/1/cmdline`); !strings.HasPrefix(p, tc.serverPID1) {
				t.Errorf("server's PID 1 = %q, want %q", p, tc.serverPID1)
			}
			// The host's hostname is untouched.
			host, _ := os.Hostname()
			if host == "web-1" {
				t.Errorf("the host's hostname was changed")
			}
		})
	}
}

// A container's program starts with SIGHUP and SIGINT at their default
// action even when the agent runs with them ignored (started under nohup),
// both for its main process and for an exec: otherwise a shell's trap on
// HUP silently does nothing.
func TestContainerSignalsNotIgnoredWhenAgentIgnoresThem(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "sigs"})
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT)
	defer signal.Reset(syscall.SIGHUP, syscall.SIGINT)

	out := filepath.Join(t.TempDir(), "status.log")
	c := start(t, s, ContainerSpec{Name: "main", StdoutPath: out, Args: []string{"sh", "-c",
		`grep SigIgn /proc/self/status; exec sleep 3600`}})
	waitForOutput(t, c, out, "SigIgn")
	_, execStatus := execOut(t, s, "main", "grep", "SigIgn", "/proc/self/status")
	for name, status := range map[string]string{"main process": readFile(t, out), "exec": execStatus} {
		var mask uint64
		if _, err := fmt.Sscanf(strings.TrimSpace(status), "SigIgn: %x", &mask); err != nil {
			t.Fatalf("%s: parsing %q: %v", name, status, err)
		}
		for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
			if mask&(1<<(uint(sig)-1)) != 0 {
				t.Errorf("%s starts with %v ignored (SigIgn %016x)", name, sig, mask)
			}
		}
	}
}

// With a shared PID namespace one container sees the other's processes and
// can signal them (confd sending HUP to nginx); without, it sees neither.
func TestSharedPIDNamespaceSignals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sharePID bool
	}{
		{"shared", true},
		{"not shared", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t)
			s := newTestSandbox(t, m, SandboxSpec{Name: "nginx", SharePID: tc.sharePID})
			start(t, s, ContainerSpec{Name: "nginx", Args: []string{"sh", "-c",
				`trap 'echo reloaded >> /dev/shm/hup' HUP; touch /dev/shm/trapped; while :; do sleep 0.05; done`, "nginx-master"}})
			start(t, s, ContainerSpec{Name: "confd", Args: []string{"sleep", "3600"}})

			_, ps := execOut(t, s, "confd", "ps", "-o", "pid,args")
			sees := strings.Contains(ps, "nginx-master")
			if sees != tc.sharePID {
				t.Fatalf("confd sees nginx: %v, want %v; ps:\n%s", sees, tc.sharePID, ps)
			}
			// A HUP before the trap is set would end the shell instead
			// (seen under load): wait for its marker.
			trapDeadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(shmDir(s.dir), "trapped")); err == nil {
					break
				}
				if time.Now().After(trapDeadline) {
					t.Fatal("nginx did not set its HUP trap")
				}
				time.Sleep(20 * time.Millisecond)
			}
			code, out := execOut(t, s, "confd", "sh", "-c",
				`pid=$(ps -o pid,args | grep '[n]ginx-master' | awk '{print $1}'); [ -n "$pid" ] && kill -HUP $pid`)
			if (code == 0) != tc.sharePID {
				t.Fatalf("kill -HUP from confd: exit %d, want success %v: %s", code, tc.sharePID, out)
			}
			if !tc.sharePID {
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				if b, err := os.ReadFile(filepath.Join(shmDir(s.dir), "hup")); err == nil && strings.Contains(string(b), "reloaded") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("nginx did not get the HUP (no /dev/shm/hup)")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// Destroy leaves nothing: no process (pause, containers, a process forked
// by an exec), no mount, no cgroup in any hierarchy, no directory - for a
// running pod, a shared-PID pod, a pod whose containers exited, an
// adopted pod, and twice in a row.
func TestDestroyLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sharePID bool
		exited   bool // the containers exit before Destroy
		adopt    bool // destroyed by a new Manager on the same Root
	}{
		{name: "running"},
		{name: "shared PID", sharePID: true},
		{name: "containers exited", exited: true},
		{name: "adopted", adopt: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t)
			s := newTestSandbox(t, m, SandboxSpec{Name: "doomed", SharePID: tc.sharePID})
			args := []string{"sleep", "3600"}
			if tc.exited {
				args = []string{"true"}
			}
			var cs []*Container
			for _, n := range []string{"a", "b"} {
				cs = append(cs, start(t, s, ContainerSpec{Name: n, Args: args, StdoutPath: filepath.Join(t.TempDir(), n+".log")}))
			}
			if tc.exited {
				for _, c := range cs {
					wait(t, c)
				}
			} else {
				// A process outside any container's bookkeeping.
				if code, out := execOut(t, s, "a", "sh", "-c", "sleep 3600 >/dev/null 2>&1 &"); code != 0 {
					t.Fatalf("exec: %d %s", code, out)
				}
			}
			pids := append(podPids(t, m, s.ID()), s.Pid())
			if !tc.exited && len(pids) < 4 {
				t.Fatalf("expected pause, 2 containers and a background process in the pod cgroup, got %v", pids)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			target := s
			if tc.adopt {
				m2, err := NewManager(m.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if target, err = m2.Sandbox(s.ID()); err != nil {
					t.Fatal(err)
				}
			}
			if err := target.Destroy(ctx); err != nil {
				t.Fatalf("Destroy: %v", err)
			}
			assertNothingLeft(t, m, s.ID(), pids)
			if err := target.Destroy(ctx); err != nil {
				t.Errorf("second Destroy: %v", err)
			}
			if _, err := target.StartContainer(ctx, ContainerSpec{Name: "late", Args: args, LowerDirs: []string{lowerDir(t)}}); !errors.Is(err, ErrSandboxDestroyed) {
				t.Errorf("StartContainer after Destroy: %v, want ErrSandboxDestroyed", err)
			}
			if _, err := target.m.Sandbox(s.ID()); !errors.Is(err, ErrNotFound) {
				t.Errorf("Sandbox after Destroy: %v, want ErrNotFound", err)
			}
		})
	}
}

// What a crash in the middle of CreateSandbox leaves (a directory, a pod
// cgroup, a mounted shm, no pause) is listed by Sandboxes, is not
// loadable, and DestroySandbox removes it.
func TestDestroyHalfCreated(t *testing.T) {
	m := newTestManager(t)
	id := fmt.Sprintf("half-%d", os.Getpid())
	dir := m.sandboxDir(id)
	for _, d := range []string{dir, shmDir(dir), filepath.Join(containerUpper(containerDir(dir, "app")), "x")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.createPodCgroup(id); err != nil {
		t.Fatal(err)
	}
	if err := mountShm(shmDir(dir), 1<<20); err != nil {
		t.Fatal(err)
	}
	ids, err := m.Sandboxes()
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("Sandboxes = %v, %v; want [%s]", ids, err, id)
	}
	if _, err := m.Sandbox(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Sandbox(half-created) = %v, want ErrNotFound", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// While a CreateSandbox of the ID runs, DestroySandbox and another
	// CreateSandbox keep off.
	if err := m.reserve(id); err != nil {
		t.Fatal(err)
	}
	if err := m.DestroySandbox(ctx, id); !errors.Is(err, ErrBusy) {
		t.Errorf("DestroySandbox during CreateSandbox = %v, want ErrBusy", err)
	}
	if _, err := m.CreateSandbox(ctx, SandboxSpec{ID: id}); !errors.Is(err, ErrBusy) {
		t.Errorf("CreateSandbox during CreateSandbox = %v, want ErrBusy", err)
	}
	m.unreserve(id)
	if err := m.DestroySandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, m, id, nil)
	if err := m.DestroySandbox(ctx, id); err != nil {
		t.Errorf("DestroySandbox of nothing: %v", err)
	}
}

// A failing CreateSandbox rolls back everything it acquired.
func TestCreateSandboxRollback(t *testing.T) {
	m := newTestManager(t)
	// A pause binary that is no program: libcontainer's Run may succeed,
	// the exec fails.
	bad := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(bad, []byte("\x7fELF garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	m.cfg.PauseBinary = bad
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := fmt.Sprintf("rollback-%d", os.Getpid())
	if _, err := m.CreateSandbox(ctx, SandboxSpec{ID: id, Name: "x"}); err == nil {
		t.Fatal("CreateSandbox with a broken pause binary succeeded")
	} else {
		t.Logf("CreateSandbox: %v", err)
	}
	assertNothingLeft(t, m, id, nil)

	// The same ID works once the binary is right, and twice is ErrExists.
	pause, _ := fixtures(t)
	m.cfg.PauseBinary = pause
	if _, err := m.CreateSandbox(ctx, SandboxSpec{ID: id, Name: "x"}); err != nil {
		t.Fatalf("CreateSandbox after rollback: %v", err)
	}
	if _, err := m.CreateSandbox(ctx, SandboxSpec{ID: id, Name: "x"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateSandbox = %v, want ErrExists", err)
	}
	if _, err := m.CreateSandbox(ctx, SandboxSpec{ID: "../x"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CreateSandbox(../x) = %v, want ErrInvalid", err)
	}
}

// The pause reaps the zombies re-parented to it: with a shared PID
// namespace, an orphan that exits must not linger as a zombie.
func TestPauseReapsOrphans(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "reaper", SharePID: true})
	start(t, s, ContainerSpec{Name: "app", Args: []string{"sleep", "3600"}})
	// The exec'd shell exits at once; its child becomes an orphan of the
	// pod's PID 1 (the pause) and exits 0.2 s later.
	if code, out := execOut(t, s, "app", "sh", "-c", "(sleep 0.2; exit 0) >/dev/null 2>&1 &"); code != 0 {
		t.Fatalf("exec: %d %s", code, out)
	}
	// The orphan exits after 0.2 s; the pause must reap it: poll until the
	// pause has no child left and no process of the pod is a zombie.
	// (Zombies leave their cgroup, so the pause's children are read too.)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var zombies []string
		for _, pid := range podPids(t, m, s.ID()) {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err == nil && strings.Contains(string(stat), ") Z ") {
				zombies = append(zombies, string(stat))
			}
		}
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.Pid(), s.Pid()))
		for _, c := range strings.Fields(string(children)) {
			if stat, _ := os.ReadFile("/proc/" + c + "/stat"); strings.Contains(string(stat), ") Z ") {
				zombies = append(zombies, string(stat))
			}
		}
		if len(zombies) == 0 && len(strings.Fields(string(children))) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the orphan's exit, the pause still has children %q; zombies: %q", children, zombies)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// SIGTERM stops the pause cleanly, and Wait (also on an adopted copy)
	// sees it.
	m2, err := NewManager(m.cfg)
	if err != nil {
		t.Fatal(err)
	}
	adopted, err := m2.Sandbox(s.ID())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adoptedDone := make(chan ExitStatus, 1)
	go func() {
		st, err := adopted.Wait(ctx)
		if err != nil {
			t.Error(err)
		}
		adoptedDone <- st
	}()
	if err := unix.Kill(s.Pid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctx)
	if err != nil || st.Code != 0 || st.Signal != 0 {
		t.Errorf("pause after SIGTERM: %+v %v, want exit 0", st, err)
	}
	if st := <-adoptedDone; !st.Unknown {
		t.Errorf("adopted sandbox's Wait = %+v, want Unknown", st)
	}
	if s.Running() || adopted.Running() {
		t.Error("sandbox Running after the pause exited")
	}
}
