package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The allocator hands each pod 65536 host IDs of its own, at a multiple
// of 65536 above the host's (kubelet's ranges), lowest free first; the
// same pod gets the same range again; a released range is reused; a
// restarted agent's adoption keeps the recorded ranges out of new pods'
// reach and refuses one that is not a range of the node or is another
// pod's.
func TestUsernsAllocator(t *testing.T) {
	a := newUsernsAllocator()
	alloc := func(uid string) uint32 {
		t.Helper()
		u, err := a.allocate(uid)
		if err != nil {
			t.Fatalf("allocate %s: %v", uid, err)
		}
		if len(u.UIDMappings) != 1 || u.UIDMappings[0] != u.GIDMappings[0] ||
			u.UIDMappings[0].ContainerID != 0 || u.UIDMappings[0].Length != 65536 {
			t.Fatalf("allocate %s = %+v, want one 0 → host 65536-ID mapping, the same for gids", uid, u)
		}
		return u.hostUID()
	}
	for _, step := range []struct {
		op, uid string
		want    uint32
	}{
		{"allocate", "a", 65536},
		{"allocate", "b", 131072},
		{"allocate", "a", 65536}, // the same pod, the same range
		{"allocate", "c", 196608},
		{"release", "b", 0},
		{"release", "b", 0}, // twice is harmless
		{"allocate", "d", 131072},
		{"allocate", "e", 262144},
		{"release", "a", 0},
		{"allocate", "f", 65536},
	} {
		switch step.op {
		case "allocate":
			if got := alloc(step.uid); got != step.want {
				t.Errorf("allocate %s = %d, want %d", step.uid, got, step.want)
			}
		case "release":
			a.release(step.uid)
		}
	}

	// Adoption: the recorded ranges are taken, whatever their order.
	b := newUsernsAllocator()
	if err := b.adopt("x", newUserNamespace(2)); err != nil {
		t.Fatal(err)
	}
	if err := b.adopt("x", newUserNamespace(2)); err != nil {
		t.Errorf("adopting the same range twice: %v", err)
	}
	for _, tc := range []struct {
		name string
		uid  string
		u    *userNamespace
	}{
		{"another pod's range", "y", newUserNamespace(2)},
		{"a second range for the pod", "x", newUserNamespace(3)},
		{"the host's IDs", "y", newUserNamespace(0)},
		{"past the last range", "y", newUserNamespace(usernsRanges + 1)},
		{"not at a multiple of 65536", "y", &userNamespace{UIDMappings: []idMapping{{HostID: 70000, Length: 65536}}, GIDMappings: []idMapping{{HostID: 70000, Length: 65536}}}},
		{"uids and gids apart", "y", &userNamespace{UIDMappings: newUserNamespace(4).UIDMappings, GIDMappings: newUserNamespace(5).GIDMappings}},
		{"a short range", "y", &userNamespace{UIDMappings: []idMapping{{HostID: 65536 * 4, Length: 1000}}, GIDMappings: []idMapping{{HostID: 65536 * 4, Length: 1000}}}},
		{"no mapping", "y", &userNamespace{}},
	} {
		if err := b.adopt(tc.uid, tc.u); err == nil {
			t.Errorf("adopt %s: %s accepted", tc.uid, tc.name)
		}
	}
	if got, _ := b.allocate("z"); got.hostUID() != 65536 {
		t.Errorf("first allocation after adoption = %d, want 65536", got.hostUID())
	}
	if got, _ := b.allocate("w"); got.hostUID() != 3*65536 {
		t.Errorf("second allocation after adoption = %d, want %d (x holds %d)", got.hostUID(), 3*65536, 2*65536)
	}

	// Exhaustion is kubelet's error.
	c := newUsernsAllocator()
	for i := range usernsRanges {
		if _, err := c.allocate(fmt.Sprint(i)); err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
	}
	if _, err := c.allocate("one-too-many"); !errors.Is(err, errUsernsExhausted) {
		t.Errorf("allocation past the last range: %v, want %v", err, errUsernsExhausted)
	}
	c.release("7")
	if u, err := c.allocate("one-too-many"); err != nil || u.hostUID() != 8*65536 {
		t.Errorf("after a release: %v, %v; want the released range at %d", u, err, 8*65536)
	}
}

// The record's form is kubelet's (and the CRI's) mapping.
func TestUserNamespaceRecord(t *testing.T) {
	b, err := json.Marshal(newUserNamespace(3))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"uidMappings":[{"hostId":196608,"containerId":0,"length":65536}],"gidMappings":[{"hostId":196608,"containerId":0,"length":65536}]}`
	if string(b) != want {
		t.Errorf("record = %s, want %s", b, want)
	}
}

// MakeSearchable creates a missing directory 0711 and adds others' search
// permission to an existing one, and only that.
func TestMakeSearchable(t *testing.T) {
	base := t.TempDir()
	for _, tc := range []struct {
		name string
		mode os.FileMode // 0: missing
		want os.FileMode
	}{
		{"missing", 0, 0o711},
		{"private", 0o700, 0o701},
		{"open", 0o755, 0o755},
		{"group only", 0o750, 0o751},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(base, tc.name, "dir")
			if tc.mode != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := MakeSearchable(dir); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want&^umask() {
				t.Errorf("mode %#o, want %#o", got, tc.want&^umask())
			}
		})
	}
}

// umask is the process's umask, which MkdirAll's mode goes through.
func umask() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}
