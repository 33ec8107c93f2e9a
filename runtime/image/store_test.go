package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
)

// TestRestart: a new Store on the same Root sees the images, and a crash's
// leftovers in tmp are cleared.
func TestRestart(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	reg := newRegistry(t)
	ref := reg.push(t, "busybox:1", busyboxImage(t))
	s := openStore(t, root)
	loadArchive(t, s)
	pulled, err := s.Pull(context.Background(), ref, api.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := s.List()
	if err := os.WriteFile(filepath.Join(root, "tmp", "layer-crashed"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, root)
	if after := s2.List(); !slices.Equal(before, after) {
		t.Errorf("after restart List = %+v, want %+v", after, before)
	}
	img, ok := s2.Get(ref)
	if !ok || img.ID != pulled.ID || img.RepoDigest != pulled.RepoDigest || !slices.Equal(img.LayerDirs(), pulled.LayerDirs()) {
		t.Errorf("Get after restart = %+v, %v; want %+v", img, ok, pulled)
	}
	// Present: IfNotPresent asks the registry nothing, nothing is unpacked.
	reg.reset()
	if _, err := s2.Pull(context.Background(), ref, api.PullIfNotPresent, nil); err != nil || reg.requests.Load() != 0 || s2.layers.unpacks.Load() != 0 {
		t.Errorf("Pull after restart: %v, %d requests, %d unpacks; want none", err, reg.requests.Load(), s2.layers.unpacks.Load())
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("tmp not cleared: %v", left)
	}
}

// TestMissingLayerIsNotPresent: an image whose layer vanished from disk is
// not returned, and IfNotPresent pulls it again.
func TestMissingLayerIsNotPresent(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	ref := reg.push(t, "busybox:1", busyboxImage(t))
	s := newStore(t)
	img, err := s.Pull(context.Background(), ref, api.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(img.LayerDirs()[0]); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(ref); ok {
		t.Error("Get returned an image whose layer is gone")
	}
	if _, err := s.Pull(context.Background(), ref, api.PullIfNotPresent, nil); err != nil || s.layers.unpacks.Load() != 2 {
		t.Errorf("re-pull: %v, %d unpacks; want the layer unpacked again", err, s.layers.unpacks.Load())
	}
}

// TestRemove: removing one name keeps the image for its other names;
// removing the last deletes the image and the layers only it used.
func TestRemove(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	base := layerOf(t, file("base", "shared"))
	a := reg.push(t, "a:1", imageOf(t, []string{"a"}, base, layerOf(t, file("a", "a"))))
	a2 := reg.push(t, "a:2", imageOf(t, []string{"a"}, base, layerOf(t, file("a", "a"))))
	b := reg.push(t, "b:1", imageOf(t, []string{"b"}, base, layerOf(t, file("b", "b"))))
	s := newStore(t)
	imgs := map[string]*Image{}
	for _, ref := range []string{a, a2, b} {
		img, err := s.Pull(context.Background(), ref, api.PullIfNotPresent, nil)
		if err != nil {
			t.Fatal(err)
		}
		imgs[ref] = img
	}
	if imgs[a].ID != imgs[a2].ID {
		t.Fatal("a:1 and a:2 should be one image")
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	if err := s.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(a2); !ok || !exists(imgs[a].LayerDirs()[1]) {
		t.Fatal("removing a:1 removed the image a:2 still names")
	}
	if err := s.Remove(a2); err != nil {
		t.Fatal(err)
	}
	if exists(imgs[a].LayerDirs()[1]) {
		t.Error("a's own layer survived its last name")
	}
	if !exists(imgs[b].LayerDirs()[0]) || !exists(imgs[b].LayerDirs()[1]) {
		t.Error("b's layers were removed with a")
	}
	if _, ok := s.Get(b); !ok {
		t.Error("b is gone")
	}
	if err := s.Remove(a); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	// By ID: every name goes.
	if err := s.Remove(imgs[b].ID); err != nil {
		t.Fatal(err)
	}
	if got := s.List(); len(got) != 0 {
		t.Errorf("List after removing everything = %+v", got)
	}
	if exists(imgs[b].LayerDirs()[0]) {
		t.Error("the shared layer survived its last image")
	}
}

// TestPulledAndLoadedAreOneImage: the same image from a registry and from
// a docker archive has one ID and one unpacked layer.
func TestPulledAndLoadedAreOneImage(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	ref := reg.push(t, "busybox:latest", busyboxImage(t))
	s := newStore(t)
	loadArchive(t, s)
	pulled, err := s.Pull(context.Background(), ref, api.PullAlways, nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, _ := s.Get(testimage.Reference)
	if pulled.ID != loaded.ID || s.layers.unpacks.Load() != 1 {
		t.Errorf("IDs %s %s, %d unpacks; want one image, one unpack", pulled.ID, loaded.ID, s.layers.unpacks.Load())
	}
	if reg.blobs.Load() != 0 {
		t.Errorf("%d blob downloads; the image was on the node already", reg.blobs.Load())
	}
}

func TestNewRejectsDamagedIndex(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Root: root, Logger: quietLogger()}); err == nil {
		t.Fatal("New accepted a damaged index")
	}
}
