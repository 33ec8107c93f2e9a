package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unpackInto unpacks entries into a fresh layer directory.
func unpackInto(t *testing.T, entries ...entry) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, unpackLayer(bytes.NewReader(tarOf(t, entries...)), dir)
}

func lstat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (or Lstat: %v); want it absent", p, err)
	}
}

func TestUnpackLayer(t *testing.T) {
	needRoot(t)
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	outside := t.TempDir() // a directory a hostile layer aims at

	tests := []struct {
		name    string
		entries []entry
		wantErr error // errors.Is; nil: success, then check
		check   func(t *testing.T, dir string)
	}{{
		name: "regular file keeps mode, owner, mtime and content",
		entries: []entry{
			{name: "bin/tool", typ: tar.TypeReg, body: "#!x", mode: 0o4755, uid: 1000, gid: 2000, mtime: mtime},
		},
		check: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "bin/tool")
			st := lstat(t, p)
			if st.Mode&0o7777 != 0o4755 || st.Uid != 1000 || st.Gid != 2000 {
				t.Errorf("mode %o uid %d gid %d; want 4755 1000 2000", st.Mode&0o7777, st.Uid, st.Gid)
			}
			if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
				t.Errorf("mtime %v, want %v", got, mtime)
			}
			if b, _ := os.ReadFile(p); string(b) != "#!x" {
				t.Errorf("content %q", b)
			}
			// bin was not in the tar: created as a plain directory.
			if st := lstat(t, filepath.Join(dir, "bin")); st.Mode&0o7777 != 0o755 {
				t.Errorf("implicit parent mode %o, want 755", st.Mode&0o7777)
			}
		},
	}, {
		name: "directory mtime survives its children being written",
		entries: []entry{
			{name: "etc/", typ: tar.TypeDir, mode: 0o750, mtime: mtime},
			file("etc/a", "a"), file("etc/b", "b"),
		},
		check: func(t *testing.T, dir string) {
			st := lstat(t, filepath.Join(dir, "etc"))
			if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) || st.Mode&0o7777 != 0o750 {
				t.Errorf("etc: mtime %v mode %o; want %v 750", got, st.Mode&0o7777, mtime)
			}
		},
	}, {
		name:    "root entry sets the layer root's mode",
		entries: []entry{{name: "./", typ: tar.TypeDir, mode: 0o711}},
		check: func(t *testing.T, dir string) {
			if st := lstat(t, dir); st.Mode&0o7777 != 0o711 {
				t.Errorf("root mode %o, want 711", st.Mode&0o7777)
			}
		},
	}, {
		name:    "symlinks keep their target, even absolute or upward",
		entries: []entry{symlink("bin/sh", "/bin/busybox"), symlink("up", "../../etc/passwd")},
		check: func(t *testing.T, dir string) {
			if got := readLink(t, filepath.Join(dir, "bin/sh")); got != "/bin/busybox" {
				t.Errorf("bin/sh -> %q", got)
			}
			if got := readLink(t, filepath.Join(dir, "up")); got != "../../etc/passwd" {
				t.Errorf("up -> %q", got)
			}
		},
	}, {
		name:    "hard link shares the inode",
		entries: []entry{file("usr/bin/a", "same"), hardlink("usr/bin/b", "usr/bin/a"), hardlink("c", "/usr/bin/a")},
		check: func(t *testing.T, dir string) {
			a, b, c := lstat(t, filepath.Join(dir, "usr/bin/a")), lstat(t, filepath.Join(dir, "usr/bin/b")), lstat(t, filepath.Join(dir, "c"))
			if a.Ino != b.Ino || a.Ino != c.Ino || a.Nlink != 3 {
				t.Errorf("inodes %d %d %d nlink %d; want one inode, 3 links", a.Ino, b.Ino, c.Ino, a.Nlink)
			}
		},
	}, {
		name:    "hard link to a symlink links the symlink, not its target",
		entries: []entry{symlink("s", outside), hardlink("h", "s")},
		check: func(t *testing.T, dir string) {
			if got := readLink(t, filepath.Join(dir, "h")); got != outside {
				t.Errorf("h -> %q, want the symlink's target %q", got, outside)
			}
		},
	}, {
		name:    "absolute names stay inside the layer",
		entries: []entry{file("/etc/hostname", "inside")},
		check: func(t *testing.T, dir string) {
			if b, err := os.ReadFile(filepath.Join(dir, "etc/hostname")); err != nil || string(b) != "inside" {
				t.Errorf("etc/hostname: %q %v", b, err)
			}
		},
	}, {
		name:    "a later entry replaces an earlier one",
		entries: []entry{file("x", "old"), symlink("x", "target"), dir("d/"), file("d/f", "f"), file("d", "now a file")},
		check: func(t *testing.T, dir string) {
			if got := readLink(t, filepath.Join(dir, "x")); got != "target" {
				t.Errorf("x -> %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "d")); string(b) != "now a file" {
				t.Errorf("d = %q", b)
			}
		},
	}, {
		name:    "whiteout becomes a 0/0 character device",
		entries: []entry{dir("etc/"), file("etc/.wh.motd", "")},
		check: func(t *testing.T, dir string) {
			st := lstat(t, filepath.Join(dir, "etc/motd"))
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("etc/motd mode %o rdev %d; want a 0/0 char device", st.Mode, st.Rdev)
			}
			mustNotExist(t, filepath.Join(dir, "etc/.wh.motd"))
		},
	}, {
		name:    "opaque marker sets trusted.overlay.opaque, before or after its directory",
		entries: []entry{dir("a/"), file("a/.wh..wh..opq", ""), file("b/.wh..wh..opq", ""), {name: "b/", typ: tar.TypeDir, mode: 0o700}},
		check: func(t *testing.T, dir string) {
			for _, d := range []string{"a", "b"} {
				buf := make([]byte, 8)
				n, err := unix.Lgetxattr(filepath.Join(dir, d), "trusted.overlay.opaque", buf)
				if err != nil || string(buf[:n]) != "y" {
					t.Errorf("%s: opaque xattr %q, %v", d, buf[:n], err)
				}
				mustNotExist(t, filepath.Join(dir, d, whiteoutOpaque))
			}
			if st := lstat(t, filepath.Join(dir, "b")); st.Mode&0o7777 != 0o700 {
				t.Errorf("b mode %o, want 700", st.Mode&0o7777)
			}
		},
	}, {
		name:    "aufs metadata is skipped",
		entries: []entry{file(".wh..wh.plnk/123.456", ""), file(".wh..wh.aufs", "")},
		check: func(t *testing.T, dir string) {
			mustNotExist(t, filepath.Join(dir, ".wh..wh.aufs"))
		},
	}, {
		name: "xattrs are applied, overlayfs' own are not",
		entries: []entry{{name: "f", typ: tar.TypeReg, pax: map[string]string{
			"SCHILY.xattr.user.note":                "hi",
			"SCHILY.xattr.trusted.overlay.opaque":   "y",
			"SCHILY.xattr.trusted.overlay.redirect": "/etc",
		}}},
		check: func(t *testing.T, dir string) {
			buf := make([]byte, 16)
			p := filepath.Join(dir, "f")
			if n, err := unix.Lgetxattr(p, "user.note", buf); err != nil || string(buf[:n]) != "hi" {
				t.Errorf("user.note = %q, %v", buf[:n], err)
			}
			for _, a := range []string{"trusted.overlay.opaque", "trusted.overlay.redirect"} {
				if _, err := unix.Lgetxattr(p, a, buf); err == nil {
					t.Errorf("%s was set from the tar", a)
				}
			}
		},
	}, {
		name:    "fifo and device nodes",
		entries: []entry{{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600}, {name: "dev/null", typ: tar.TypeChar, mode: 0o666}},
		check: func(t *testing.T, dir string) {
			if st := lstat(t, filepath.Join(dir, "dev/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
				t.Errorf("fifo mode %o", st.Mode)
			}
			if st := lstat(t, filepath.Join(dir, "dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Mode&0o777 != 0o666 {
				t.Errorf("char dev mode %o", st.Mode)
			}
		},
	}, {
		name:    "dot-dot name is refused",
		entries: []entry{file("../evil", "x")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "dot-dot in the middle is refused",
		entries: []entry{file("a/../../evil", "x")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "writing through a symlink out of the layer is refused",
		entries: []entry{symlink("escape", outside), file("escape/pwned", "x")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "writing through a symlink inside the layer is refused too",
		entries: []entry{dir("real/"), symlink("alias", "real"), file("alias/f", "x")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "whiteout through a symlink is refused",
		entries: []entry{symlink("escape", outside), file("escape/.wh.victim", "")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "opaque marker through a symlink is refused",
		entries: []entry{symlink("escape", outside), file("escape/.wh..wh..opq", "")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "hard link out of the layer is refused",
		entries: []entry{hardlink("passwd", "../../etc/passwd")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "hard link to an absent file is refused",
		entries: []entry{hardlink("passwd", "/etc/passwd")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "hard link through a symlink is refused",
		entries: []entry{symlink("escape", "/etc"), hardlink("passwd", "escape/passwd")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "hard link to a directory is refused",
		entries: []entry{dir("d/"), hardlink("h", "d")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "whiteout of dot-dot is refused",
		entries: []entry{file("a/.wh..", "")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "a file as a parent directory is refused",
		entries: []entry{file("f", "x"), file("f/g", "y")},
		wantErr: ErrUnsafeLayer,
	}, {
		name:    "unknown entry types are refused",
		entries: []entry{{name: "weird", typ: tar.TypeCont}},
		wantErr: ErrUnsafeLayer,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := unpackInto(t, tc.entries...)
			if tc.wantErr != nil {
				t.Log(err)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				entries, _ := os.ReadDir(outside)
				if len(entries) != 0 {
					t.Fatalf("the layer wrote outside its directory: %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir)
		})
	}
}

func TestEnsureRejectsDigestMismatch(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	wrong := mustHash(t, "sha256:"+string(bytes.Repeat([]byte("ab"), 32)))
	_, err := s.layers.ensure(wrong, func() (io.ReadCloser, error) { return rc(tarOf(t, file("f", "x"))), nil })
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
	if s.layers.has(wrong) {
		t.Error("the mismatched layer was kept")
	}
	if left, _ := os.ReadDir(s.tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
