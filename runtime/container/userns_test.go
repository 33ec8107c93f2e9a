//go:build linux

package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gossipod/gossipod/internal/testenv"
)

// usernsRoot makes the temporary directories above a test's Root
// searchable by others, as the agent's data dir is: the pod's root, an
// unprivileged user on the node, must reach its root filesystem.
func usernsRoot(tb testing.TB, root string) {
	tb.Helper()
	for d := filepath.Dir(root); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			tb.Fatal(err)
		}
	}
}

// A sandbox with a user namespace: its containers run as root in the pod
// (id -u is 0) over the mapped host IDs (uid_map shows the mapping), the
// image's files are root's in the pod, what a container writes in its
// root filesystem is owned by the mapped root on the node, and a second
// container joins the same namespace.
func TestSandboxUserNamespace(t *testing.T) {
	testenv.NeedRoot(t)
	m := newTestManager(t)
	usernsRoot(t, m.cfg.Root)
	u := &UserNamespace{HostUID: 7 << 16, HostGID: 7 << 16, Size: 1 << 16}
	s := newTestSandbox(t, m, SandboxSpec{Name: "userns", UserNamespace: u})
	start(t, s, ContainerSpec{Name: "a", Args: []string{"sh", "-c", "echo hi > /written; sleep 300"}})
	start(t, s, ContainerSpec{Name: "b", Args: []string{"sleep", "300"}})
	for _, tc := range []struct {
		container string
		args      []string
		want      string
	}{
		{"a", []string{"id", "-u"}, "0\n"},
		{"a", []string{"cat", "/proc/self/uid_map"}, "0 458752 65536"},
		{"a", []string{"cat", "/proc/self/gid_map"}, "0 458752 65536"},
		{"a", []string{"stat", "-c", "%u:%g", "/bin/sh"}, "0:0\n"},
		{"b", []string{"cat", "/proc/self/uid_map"}, "0 458752 65536"},
	} {
		code, out := execOut(t, s, tc.container, tc.args...)
		if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), strings.TrimSpace(tc.want)) {
			t.Errorf("%s: %v = %d %q, want %q", tc.container, tc.args, code, out, tc.want)
		}
	}
	// Both containers and the pause are in one user namespace.
	pauseNS, _ := os.Readlink(nsPath(s.Pid(), "user"))
	selfNS, _ := os.Readlink("/proc/self/ns/user")
	if pauseNS == selfNS {
		t.Errorf("the pause is in the host's user namespace %s", selfNS)
	}
	for _, name := range []string{"a", "b"} {
		c, err := s.Container(name)
		if err != nil {
			t.Fatal(err)
		}
		if ns, _ := os.Readlink(nsPath(c.Pid(), "user")); ns != pauseNS {
			t.Errorf("container %s is in user namespace %s, the pause in %s", name, ns, pauseNS)
		}
	}
	var st unix.Stat_t
	written := filepath.Join(containerUpper(containerDir(s.dir, "a")), "written")
	for deadline := time.Now().Add(10 * time.Second); unix.Stat(written, &st) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", written)
		}
	}
	if st.Uid != u.HostUID || st.Gid != u.HostGID {
		t.Errorf("a file the pod's root wrote is %d:%d on the node, want %d:%d", st.Uid, st.Gid, u.HostUID, u.HostGID)
	}
}

// A filesystem without idmapped mounts (ramfs) under the pod's files: the
// sandbox is refused with ErrUserNamespacesUnsupported naming it, and
// nothing is left of it.
func TestSandboxUserNamespaceUnsupported(t *testing.T) {
	testenv.NeedRoot(t)
	ramfs := t.TempDir()
	if err := unix.Mount("ramfs", ramfs, "ramfs", 0, ""); err != nil {
		t.Fatalf("mount ramfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(ramfs, unix.MNT_DETACH) })
	m := newTestManagerWith(t, func(c *Config) { c.IDMapPaths = []string{ramfs} })
	usernsRoot(t, m.cfg.Root)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := m.CreateSandbox(ctx, SandboxSpec{ID: "userns-ramfs", UserNamespace: &UserNamespace{HostUID: 1 << 16, HostGID: 1 << 16, Size: 1 << 16}})
	if !errors.Is(err, ErrUserNamespacesUnsupported) {
		t.Fatalf("CreateSandbox on ramfs = %v, want ErrUserNamespacesUnsupported", err)
	}
	for _, want := range []string{"the container runtime does not support user namespaces", ramfs, "ramfs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(m.sandboxDir("userns-ramfs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused sandbox's directory is left: %v", err)
	}
}

// The mappings are checked before anything is made.
func TestUserNamespaceValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    *UserNamespace
		ok   bool
	}{
		{"none", nil, true},
		{"a pod's range", &UserNamespace{HostUID: 1 << 16, HostGID: 1 << 16, Size: 1 << 16}, true},
		{"empty", &UserNamespace{HostUID: 1 << 16, HostGID: 1 << 16}, false},
		{"the host's root", &UserNamespace{HostUID: 0, HostGID: 1 << 16, Size: 1 << 16}, false},
		{"past the last ID", &UserNamespace{HostUID: 1<<32 - 1<<16, HostGID: 1 << 16, Size: 1 << 16}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.u.validate()
			if (err == nil) != tc.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

// An identity is checked against the namespace's IDs: user, primary
// group and every supplementary group.
func TestUserNamespaceCheckMapped(t *testing.T) {
	u := &UserNamespace{HostUID: 1 << 16, HostGID: 1 << 16, Size: 1 << 16}
	for _, tc := range []struct {
		name string
		u    *UserNamespace
		id   Identity
		want string // "" when mapped
	}{
		{"root", u, Identity{}, ""},
		{"nobody", u, Identity{UID: 65534, GID: 65534, AdditionalGroups: []int{65534}}, ""},
		{"user outside", u, Identity{UID: 70000}, "user 70000 is outside the pod's user namespace (hostUsers: false maps IDs 0 to 65535)"},
		{"group outside", u, Identity{UID: 1000, GID: 65536}, "group 65536 is outside"},
		{"supplementary group outside", u, Identity{UID: 1000, GID: 1000, AdditionalGroups: []int{1000, 1 << 20}}, "group 1048576 is outside"},
		{"the host's namespace maps everything", nil, Identity{UID: 70000, GID: 70000}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.u.checkMapped(tc.id)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrIDNotMapped)):
				t.Fatalf("error %v, want ErrIDNotMapped saying %q", err, tc.want)
			}
		})
	}
}
