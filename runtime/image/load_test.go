package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/gossipod/gossipod/internal/testimage"
)

func TestLoadDockerArchive(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	refs := loadArchive(t, s)
	if !slices.Equal(refs, []string{testimage.Reference}) {
		t.Fatalf("Load = %v, want [%s]", refs, testimage.Reference)
	}
	img, ok := s.Get(testimage.Reference)
	if !ok {
		t.Fatal("Get after Load: not found")
	}
	want, _ := busyboxImage(t).ConfigName()
	if img.ID != want.String() {
		t.Errorf("ID %s, want the config digest %s", img.ID, want)
	}
	if !slices.Equal(img.Config.Cmd, []string{"sh"}) || img.RepoDigest != "" {
		t.Errorf("Cmd %v RepoDigest %q; want [sh] and none", img.Config.Cmd, img.RepoDigest)
	}
	dirs := img.LayerDirs()
	if len(dirs) != 1 {
		t.Fatalf("LayerDirs = %v, want one", dirs)
	}
	if fi, err := os.Stat(filepath.Join(dirs[0], "bin/busybox")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox: %v %v", fi, err)
	}
	for _, a := range []string{"bin/sh", "usr/bin/wget", "sbin/ip", "usr/bin/["} {
		if target, err := os.Readlink(filepath.Join(dirs[0], a)); err != nil || target != "/bin/busybox" {
			t.Errorf("%s -> %q (%v)", a, target, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "etc/passwd")); err != nil || !strings.Contains(string(b), "nobody:x:65534") {
		t.Errorf("etc/passwd: %q %v", b, err)
	}
	list := s.List()
	if len(list) != 1 || list[0].Reference != testimage.Reference || list[0].ID != img.ID || list[0].Size < 1<<20 || list[0].Created.IsZero() {
		t.Errorf("List = %+v", list)
	}
	// Any spelling of the name, and the ID, find it.
	for _, ref := range []string{"localhost/busybox", img.ID} {
		if got, ok := s.Get(ref); !ok || got.ID != img.ID {
			t.Errorf("Get(%q) = %v, %v", ref, got, ok)
		}
	}
}

// TestLoadTwice: re-reading a docker archive yields another manifest
// digest, but the image is keyed by its config, so nothing is unpacked
// again.
func TestLoadTwice(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	loadArchive(t, s)
	first, _ := s.Get(testimage.Reference)
	loadArchive(t, s)
	second, _ := s.Get(testimage.Reference)
	if first.ID != second.ID || s.layers.unpacks.Load() != 1 || len(s.List()) != 1 {
		t.Errorf("IDs %s %s, unpacks %d, list %v; want one image unpacked once", first.ID, second.ID, s.layers.unpacks.Load(), s.List())
	}
}

func TestLoadGzippedArchive(t *testing.T) {
	needRoot(t)
	raw, err := os.ReadFile(busyboxArchive(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	refs, err := newStore(t).Load(&buf)
	if err != nil || !slices.Equal(refs, []string{testimage.Reference}) {
		t.Fatalf("Load(gzip) = %v, %v", refs, err)
	}
}

// ociLayoutTar writes img as an OCI image layout (annotated with
// annotations) and returns it as a tar stream.
func ociLayoutTar(t *testing.T, annotations map[string]string) io.Reader {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(busyboxImage(t), layout.WithAnnotations(annotations)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return &buf
}

func TestLoadOCILayout(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name        string
		annotations map[string]string
		wantRef     string // "" means: loaded by ID
	}{
		{"full reference in ref.name", map[string]string{annotationRefName: "localhost/busybox:oci"}, "localhost/busybox:oci"},
		{"containerd's name wins", map[string]string{annotationContainerdName: "docker.io/library/busybox:1", annotationRefName: "1"}, "docker.io/library/busybox:1"},
		{"short name is normalised", map[string]string{annotationRefName: "busybox:2"}, "docker.io/library/busybox:2"},
		{"bare tag names no repository", map[string]string{annotationRefName: "latest"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			refs, err := s.Load(ociLayoutTar(t, tc.annotations))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := busyboxImage(t).ConfigName()
			want := tc.wantRef
			if want == "" {
				want = id.String()
			}
			if !slices.Equal(refs, []string{want}) {
				t.Fatalf("Load = %v, want [%s]", refs, want)
			}
			img, ok := s.Get(want)
			if !ok || img.ID != id.String() || len(img.LayerDirs()) != 1 {
				t.Fatalf("Get(%s) = %+v, %v", want, img, ok)
			}
		})
	}
}

// TestLoadOCIAndDockerShareLayers: the same image through both archive
// formats is one image with one unpacked layer.
func TestLoadOCIAndDockerShareLayers(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	loadArchive(t, s)
	if _, err := s.Load(ociLayoutTar(t, map[string]string{annotationRefName: "localhost/busybox:oci"})); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Get(testimage.Reference)
	b, _ := s.Get("localhost/busybox:oci")
	if a.ID != b.ID || s.layers.unpacks.Load() != 1 {
		t.Errorf("IDs %s %s, unpacks %d; want one image, one unpack", a.ID, b.ID, s.layers.unpacks.Load())
	}
}

func TestLoadRejects(t *testing.T) {
	needRoot(t)
	notImage := tarOf(t, file("hello.txt", "hi"))
	evilOCI := tarOf(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", "{}"), file("../escape", "x"))
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty input", nil},
		{"not a tar", []byte("this is not an archive")},
		{"a tar of something else", notImage},
		{"OCI layout with a path escape", evilOCI},
		{"OCI layout listing nothing", tarOf(t, file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), file("index.json", `{"schemaVersion":2,"manifests":[]}`))},
		{"docker archive with a broken manifest.json", tarOf(t, file("manifest.json", "[{"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			refs, err := s.Load(bytes.NewReader(tc.in))
			if !errors.Is(err, ErrBadArchive) {
				t.Fatalf("Load = %v, %v; want ErrBadArchive", refs, err)
			}
			if left, _ := os.ReadDir(s.tmp); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(s.tmp), "..", "escape")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the archive wrote outside the store")
			}
		})
	}
}
