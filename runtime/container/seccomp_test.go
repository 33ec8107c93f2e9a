//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gossipod/gossipod/runtime/seccompprofile"
)

// needSeccomp stops a test that needs seccomp filters in this test binary
// (the seccomp build tag: make test sets it): a skip, except under CI=true,
// where it fails.
func needSeccomp(tb testing.TB) {
	tb.Helper()
	if seccompprofile.Enabled {
		return
	}
	why := "built without the seccomp tag (go test -tags seccomp; make test sets it)"
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %s", why)
	}
	tb.Skip(why)
}

// denyMkdir is a Localhost-style profile: everything allowed but mkdir.
var denyMkdir = &specs.LinuxSeccomp{
	DefaultAction: specs.ActAllow,
	Syscalls: []specs.LinuxSyscall{{
		Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno,
	}},
}

// RuntimeDefault refuses what the issue found reachable (a new user
// namespace) in the container's main process and in what exec runs in it;
// Unconfined lets it run; a Localhost profile denies what it says.
func TestSeccompProfiles(t *testing.T) {
	needSeccomp(t)
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "seccomp", Seccomp: SeccompProfile{RuntimeDefault: true}})
	for _, tc := range []struct {
		name     string
		profile  SeccompProfile
		script   string
		wantCode int
		wantOut  string
		mode     string // /proc/self/status Seccomp: 0 none, 2 filter
	}{
		{"RuntimeDefault refuses unshare -U", SeccompProfile{RuntimeDefault: true}, "unshare -U true", 1, "Operation not permitted", "2"},
		{"RuntimeDefault refuses unshare -m", SeccompProfile{RuntimeDefault: true}, "unshare -m true", 1, "Operation not permitted", "2"},
		{"RuntimeDefault runs ordinary programs", SeccompProfile{RuntimeDefault: true}, "mkdir /d && echo ok", 0, "ok", "2"},
		{"Unconfined runs unshare -U", SeccompProfile{}, "unshare -U true && echo ok", 0, "ok", "0"},
		{"Localhost denies mkdir", SeccompProfile{Localhost: denyMkdir}, "mkdir /d", 1, "Operation not permitted", "2"},
		{"Localhost allows the rest", SeccompProfile{Localhost: denyMkdir}, "touch /f && unshare -U true && echo ok", 0, "ok", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("c%d", sandboxSeq.Add(1))
			out := t.TempDir() + "/out"
			c := start(t, s, ContainerSpec{Name: name, StdoutPath: out, Seccomp: tc.profile,
				Args: []string{"sh", "-c", tc.script + "; rc=$?; grep '^Seccomp:' /proc/self/status; exit $rc"}})
			st := wait(t, c)
			got := readFile(t, out)
			if st.Code != tc.wantCode || !strings.Contains(got, tc.wantOut) {
				t.Errorf("%q: exit %d, output %q; want exit %d and %q", tc.script, st.Code, got, tc.wantCode, tc.wantOut)
			}
			if !strings.Contains(got, "Seccomp:\t"+tc.mode) {
				t.Errorf("seccomp mode: %q, want Seccomp: %s", got, tc.mode)
			}
			if err := c.Remove(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The pause got the pod's profile, and an exec'd process gets the
	// container's.
	if got := readFile(t, fmt.Sprintf("/proc/%d/status", s.Pid())); !strings.Contains(got, "Seccomp:\t2") {
		t.Errorf("pause not filtered: %q", got)
	}
	start(t, s, ContainerSpec{Name: "long", Args: []string{"sleep", "3600"}, Seccomp: SeccompProfile{RuntimeDefault: true}})
	if code, out := execOut(t, s, "long", "unshare", "-U", "true"); code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("exec of unshare -U under RuntimeDefault: exit %d, %q; want it refused", code, out)
	}
}

// An invalid profile fails the start with ErrInvalid, naming what is wrong,
// and leaves nothing behind.
func TestSeccompProfileInvalid(t *testing.T) {
	needSeccomp(t)
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "seccomp-bad"})
	bad := &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}
	ctx := context.Background()
	_, err := s.StartContainer(ctx, ContainerSpec{Name: "bad", LowerDirs: []string{lowerDir(t)},
		Args: []string{"true"}, Seccomp: SeccompProfile{Localhost: bad}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "SCMP_ACT_MAYBE") {
		t.Fatalf("StartContainer with an invalid profile: %v, want ErrInvalid naming the action", err)
	}
	// Nothing left behind: the name is free again.
	c := start(t, s, ContainerSpec{Name: "bad", Args: []string{"true"}})
	if st := wait(t, c); st.Code != 0 {
		t.Fatalf("exit %d after the refused start", st.Code)
	}
}
