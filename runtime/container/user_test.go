package container

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeRoot makes a root filesystem with the given files (path → content).
func writeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1001:app:/home/app:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/:/bin/false\n"
	testGroup = "root:x:0:\n" +
		"app:x:1001:app\n" + // the user's own group: not a supplementary one
		"wheel:x:10:root,app\n" +
		"audio:x:29:app\n" +
		"nogroup:x:65534:\n"
)

func TestResolveIdentity(t *testing.T) {
	full := map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup}
	tests := []struct {
		name         string
		files        map[string]string
		user         string
		supplemental []int64
		strict       bool
		want         Identity
		wantErr      error
		wantMsg      string
	}{
		{name: "no USER is root with its groups", files: full, user: "",
			want: Identity{UID: 0, GID: 0, AdditionalGroups: []int{0, 10}}},
		{name: "a name", files: full, user: "app",
			want: Identity{UID: 1000, GID: 1001, AdditionalGroups: []int{1001, 10, 29}}},
		{name: "a uid takes its passwd group and name's groups", files: full, user: "1000",
			want: Identity{UID: 1000, GID: 1001, AdditionalGroups: []int{1001, 10, 29}}},
		{name: "an unknown uid gets gid 0", files: full, user: "4242",
			want: Identity{UID: 4242, GID: 0, AdditionalGroups: []int{0}}},
		{name: "uid:gid as is", files: full, user: "1000:50",
			want: Identity{UID: 1000, GID: 50, AdditionalGroups: []int{50, 10, 29}}},
		{name: "name:group", files: full, user: "app:wheel",
			want: Identity{UID: 1000, GID: 10, AdditionalGroups: []int{10, 29}}},
		{name: "uid:group", files: full, user: "4242:audio",
			want: Identity{UID: 4242, GID: 29, AdditionalGroups: []int{29}}},
		{name: "no passwd: a uid still works", files: map[string]string{}, user: "1000",
			want: Identity{UID: 1000, GID: 0, AdditionalGroups: []int{0}}},
		{name: "no passwd: a name does not", files: map[string]string{}, user: "app",
			wantErr: ErrNoUsersFound, wantMsg: `unable to resolve user "app" in the image: no users found`},
		{name: "unknown name", files: full, user: "ghost", wantErr: ErrNoUsersFound},
		{name: "unknown group", files: full, user: "app:ghosts", wantErr: ErrNoGroupsFound},
		{name: "too many colons", files: full, user: "a:b:c", wantMsg: "invalid USER value a:b:c"},
		{name: "uid out of range", files: full, user: "4294967296", wantMsg: "user id 4294967296 outside the range"},
		{name: "supplemental groups added after the image's", files: full, user: "app", supplemental: []int64{2000, 10},
			want: Identity{UID: 1000, GID: 1001, AdditionalGroups: []int{1001, 10, 29, 2000}}},
		{name: "Strict: no /etc/group memberships", files: full, user: "app", supplemental: []int64{2000}, strict: true,
			want: Identity{UID: 1000, GID: 1001, AdditionalGroups: []int{1001, 2000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeRoot(t, tt.files)
			got, err := resolveIdentity(root, tt.user, tt.supplemental, tt.strict)
			if tt.wantErr != nil || tt.wantMsg != "" {
				if err == nil {
					t.Fatalf("got %+v, want an error", got)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v is not %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q lacks %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// An image's /etc/passwd that links out of its root must not be read on
// the node.
func TestResolveIdentityLinkStaysInRoot(t *testing.T) {
	outside := writeRoot(t, map[string]string{"passwd": "evil:x:0:0::/:/bin/sh\n"})
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if id, err := resolveIdentity(root, "evil", nil, false); !errors.Is(err, ErrNoUsersFound) {
		t.Fatalf("resolved through a link out of the root: %+v, %v", id, err)
	}
	// An absolute link is the image's own path.
	os.Remove(filepath.Join(root, "etc/passwd"))
	os.WriteFile(filepath.Join(root, "etc/passwd.real"), []byte(testPasswd), 0o644)
	os.Symlink("/etc/passwd.real", filepath.Join(root, "etc/passwd"))
	if id, err := resolveIdentity(root, "app", nil, true); err != nil || id.UID != 1000 {
		t.Fatalf("absolute link inside the image: %+v, %v", id, err)
	}
}

// BenchmarkResolveIdentity is the cost resolving the USER adds to every
// container start: two small files read from the rootfs.
func BenchmarkResolveIdentity(b *testing.B) {
	root := b.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(testPasswd), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte(testGroup), 0o644)
	for b.Loop() {
		if _, err := resolveIdentity(root, "app", []int64{2000}, false); err != nil {
			b.Fatal(err)
		}
	}
}
