package image

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts the layer dirs (bottom first, as LayerDirs gives
// them) read-only and returns the merged directory; unmounted at cleanup.
func mountOverlay(t *testing.T, layerDirs []string) string {
	t.Helper()
	lower := slices.Clone(layerDirs)
	slices.Reverse(lower) // overlayfs lists the top layer first
	merged := t.TempDir()
	// Without an upper dir overlayfs is read-only and needs two lower dirs.
	if len(lower) == 1 {
		lower = append(lower, t.TempDir())
	}
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lower, ":")); err != nil {
		skipOrFail(t, "cannot mount overlayfs: "+err.Error())
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

// TestOverlayOfUnpackedLayers checks the unpacked whiteouts with the kernel
// itself: a file deleted in the upper layer is gone from the merged tree,
// and an opaque directory hides the lower layer's content of it.
func TestOverlayOfUnpackedLayers(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	lower := layerOf(t,
		dir("etc/"), file("etc/keep", "kept"), file("etc/gone", "deleted above"),
		dir("opq/"), file("opq/old", "hidden above"),
		dir("sub/"), dir("sub/dir/"), file("sub/dir/x", "x"),
	)
	upper := layerOf(t,
		dir("etc/"), file("etc/.wh.gone", ""),
		dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "new"),
		dir("sub/"), file("sub/.wh.dir", ""),
	)
	img0 := imageOf(t, []string{"sh"}, lower, upper)
	id, _ := img0.ConfigName()
	if err := s.add(img0, id.String(), []string{"localhost/overlay:test"}, ""); err != nil {
		t.Fatal(err)
	}
	img, ok := s.Get("localhost/overlay:test")
	if !ok {
		t.Fatal("image not found after add")
	}
	merged := mountOverlay(t, img.LayerDirs())

	for _, p := range []string{"etc/keep", "opq/new"} {
		if _, err := os.Stat(filepath.Join(merged, p)); err != nil {
			t.Errorf("%s: %v; want it visible", p, err)
		}
	}
	for _, p := range []string{"etc/gone", "opq/old", "sub/dir"} {
		if _, err := os.Lstat(filepath.Join(merged, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: err %v; want it hidden", p, err)
		}
	}
	names, err := os.ReadDir(filepath.Join(merged, "opq"))
	if err != nil || len(names) != 1 || names[0].Name() != "new" {
		t.Errorf("opq lists %v (%v); want only new", names, err)
	}
}

// TestOverlayOfTestImage runs nothing, but checks that the busybox image's
// layer mounts and has its shell where containers expect it.
func TestOverlayOfTestImage(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	loadArchive(t, s)
	img, ok := s.Get("localhost/busybox:latest")
	if !ok {
		t.Fatal("loaded image not found")
	}
	merged := mountOverlay(t, img.LayerDirs())
	if target, err := os.Readlink(filepath.Join(merged, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/sh -> %q (%v)", target, err)
	}
	fi, err := os.Stat(filepath.Join(merged, "tmp"))
	if err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v; want drwxrwxrwt", fi.Mode(), err)
	}
}
