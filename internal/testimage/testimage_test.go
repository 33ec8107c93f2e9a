package testimage

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// skipWithoutBusybox skips when the host cannot build the image, except
// under CI=true, where a skip would hide a broken pipeline.
func skipWithoutBusybox(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, ErrNoBusybox) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err.Error() + " (CI=true: refusing to skip)")
		}
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "busybox.tar")
	skipWithoutBusybox(t, Build(path))
	tag, _ := name.NewTag(Reference)
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("reading the archive back under %s: %v", Reference, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cf.Config.Cmd, []string{"sh"}) || cf.OS != "linux" || !slices.Contains(cf.Config.Env, Path) {
		t.Errorf("config: Cmd %v OS %s Env %v", cf.Config.Cmd, cf.OS, cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := strings.TrimSuffix(h.Name, "/")
		entries[n] = h
		if strings.HasPrefix(n, "etc/") {
			b, _ := io.ReadAll(tr)
			contents[n] = string(b)
		}
	}
	if h := entries["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Errorf("bin/busybox: %+v", h)
	}
	if h := entries["tmp"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode != 0o1777 {
		t.Errorf("tmp: %+v", h)
	}
	// Every applet the tests rely on is a symlink to /bin/busybox somewhere
	// on PATH.
	for _, a := range RequiredApplets {
		found := false
		for _, dir := range []string{"bin", "sbin", "usr/bin", "usr/sbin"} {
			if h := entries[dir+"/"+a]; h != nil && h.Typeflag == tar.TypeSymlink && h.Linkname == "/bin/busybox" {
				found = true
			}
		}
		if !found {
			t.Errorf("applet %q has no symlink on PATH", a)
		}
	}
	for file, want := range map[string][]string{
		"etc/passwd": {"root:x:0:0:", "nobody:x:65534:65534:"},
		"etc/group":  {"root:x:0:", "nobody:x:65534:"},
	} {
		for _, w := range want {
			if !strings.Contains(contents[file], w) {
				t.Errorf("%s = %q, lacks %q", file, contents[file], w)
			}
		}
	}
}

// TestReproducible: the same busybox gives the same image ID, so a rebuilt
// archive is the same image to every node.
func TestReproducible(t *testing.T) {
	a, err := Image()
	skipWithoutBusybox(t, err)
	b, err := Image()
	if err != nil {
		t.Fatal(err)
	}
	ida, _ := a.ConfigName()
	idb, _ := b.ConfigName()
	da, _ := a.Digest()
	db, _ := b.Digest()
	if ida != idb || da != db {
		t.Errorf("two builds differ: config %s vs %s, manifest %s vs %s", ida, idb, da, db)
	}
}

// TestWithUser: a variant written under its own name records the USER it
// was given, keeps the rest of the config and the test image's layers, and
// leaves the image it came from running as root.
func TestWithUser(t *testing.T) {
	base, err := Image()
	skipWithoutBusybox(t, err)
	for _, user := range []string{"1000", "1000:1000", "nobody"} {
		t.Run(user, func(t *testing.T) {
			img, err := WithUser(base, user)
			if err != nil {
				t.Fatal(err)
			}
			const ref = "localhost/busybox-user:test"
			path := filepath.Join(t.TempDir(), "user.tar")
			if err := Write(path, ref, img); err != nil {
				t.Fatal(err)
			}
			tag, _ := name.NewTag(ref)
			back, err := tarball.ImageFromPath(path, &tag)
			if err != nil {
				t.Fatalf("reading the archive back under %s: %v", ref, err)
			}
			cf, err := back.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Config.User != user || !slices.Equal(cf.Config.Cmd, []string{"sh"}) || !slices.Contains(cf.Config.Env, Path) {
				t.Errorf("config: User %q Cmd %v Env %v; want User %q over the test image's", cf.Config.User, cf.Config.Cmd, cf.Config.Env, user)
			}
			want, _ := base.Layers()
			got, err := back.Layers()
			if err != nil || len(got) != len(want) {
				t.Fatalf("layers: %d, %v; want the test image's %d", len(got), err, len(want))
			}
			for i := range got {
				dg, _ := got[i].Digest()
				dw, _ := want[i].Digest()
				if dg != dw {
					t.Errorf("layer %d is %s, want the test image's %s", i, dg, dw)
				}
			}
		})
	}
	if cf, err := base.ConfigFile(); err != nil || cf.Config.User != "" {
		t.Errorf("the test image's own User is %q (%v), want root's empty one", cf.Config.User, err)
	}
}
