package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// layerStore keeps unpacked layers under dir/sha256/<hex>, one per diff
// ID, shared by every image. A layer directory appears complete or not at
// all: it is unpacked into tmp (same filesystem) and renamed into place.
type layerStore struct {
	dir string // Root/layers
	tmp string // Root/tmp

	mu    sync.Mutex
	locks map[string]*layerLock

	// unpacks counts layers unpacked by this process (tests check sharing
	// with it).
	unpacks atomic.Int64
}

// layerLock serialises the unpacking of one diff ID; refs counts its users
// so the map does not grow without bound.
type layerLock struct {
	mu   sync.Mutex
	refs int
}

func newLayerStore(dir, tmp string) *layerStore {
	return &layerStore{dir: dir, tmp: tmp, locks: map[string]*layerLock{}}
}

// path is the directory of a layer. It holds no ':' or ',' so it can go
// into overlayfs' lowerdir option as it is.
func (ls *layerStore) path(diffID v1.Hash) string {
	return filepath.Join(ls.dir, diffID.Algorithm, diffID.Hex)
}

// has reports whether the layer is unpacked.
func (ls *layerStore) has(diffID v1.Hash) bool {
	_, err := os.Lstat(ls.path(diffID))
	return err == nil
}

func (ls *layerStore) lock(key string) func() {
	ls.mu.Lock()
	l := ls.locks[key]
	if l == nil {
		l = &layerLock{}
		ls.locks[key] = l
	}
	l.refs++
	ls.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		ls.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(ls.locks, key)
		}
		ls.mu.Unlock()
	}
}

// ensure unpacks the layer unless it is there already and returns its
// uncompressed size (-1 when it was there: the index knows it). open is
// called only when the layer must be unpacked; concurrent callers for one
// diff ID wait for the first, then find the layer present. The stream must
// hash to diffID, or nothing is kept (ErrDigestMismatch).
func (ls *layerStore) ensure(diffID v1.Hash, open func() (io.ReadCloser, error)) (int64, error) {
	// The diff ID becomes a path: only a well-formed sha256 may.
	if b, err := hex.DecodeString(diffID.Hex); err != nil || diffID.Algorithm != "sha256" || len(b) != sha256.Size {
		return 0, fmt.Errorf("%w: unsupported diff ID %q", ErrUnsafeLayer, diffID)
	}
	unlock := ls.lock(diffID.String())
	defer unlock()
	if ls.has(diffID) {
		return -1, nil
	}
	rc, err := open()
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	defer rc.Close()
	size, err := ls.unpack(diffID, rc)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	ls.unpacks.Add(1)
	return size, nil
}

// unpack writes the layer into a temporary directory, checks its digest,
// makes it durable and renames it into place.
func (ls *layerStore) unpack(diffID v1.Hash, r io.Reader) (size int64, err error) {
	tmp, err := os.MkdirTemp(ls.tmp, "layer-")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	h := &hashCounter{h: sha256.New()}
	tee := io.TeeReader(r, h)
	if err = unpackLayer(tee, tmp); err != nil {
		return 0, err
	}
	// The tar reader stops at the end-of-archive marker; the digest covers
	// the padding after it too.
	if _, err = io.Copy(io.Discard, tee); err != nil {
		return 0, fmt.Errorf("reading layer: %w", err)
	}
	if got := "sha256:" + hex.EncodeToString(h.h.Sum(nil)); got != diffID.String() {
		return 0, fmt.Errorf("%w: content hashes to %s", ErrDigestMismatch, got)
	}
	// Unpacking is the expensive step and happens once: make the content
	// durable before the rename publishes it, or a power loss could leave a
	// complete-looking layer with empty files.
	if err = syncFS(tmp); err != nil {
		return 0, err
	}
	dst := ls.path(diffID)
	if err = os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return 0, err
	}
	if err = os.Rename(tmp, dst); err != nil {
		return 0, err
	}
	if err = syncDir(filepath.Dir(dst)); err != nil {
		return 0, err
	}
	return h.n, nil
}

// detach moves an unpacked layer out of the store into a temporary
// directory, which it returns for the caller to delete ("" if the layer
// was not there). Renaming first means a crash during the slow delete
// leaves a temporary directory (cleared at start-up), never half a layer.
// The caller knows no image uses the layer.
func (ls *layerStore) detach(diffID v1.Hash) (string, error) {
	unlock := ls.lock(diffID.String())
	defer unlock()
	tmp, err := os.MkdirTemp(ls.tmp, "gone-")
	if err != nil {
		return "", err
	}
	if err := os.Rename(ls.path(diffID), filepath.Join(tmp, "layer")); err != nil {
		os.Remove(tmp)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	return tmp, nil
}

// diskSize adds up the sizes of a layer's files: the size of a layer that
// was unpacked before the index recorded it (a crash in between).
func (ls *layerStore) diskSize(diffID v1.Hash) int64 {
	var n int64
	filepath.WalkDir(ls.path(diffID), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// hashCounter hashes and counts what is written to it.
type hashCounter struct {
	h hash.Hash
	n int64
}

func (hc *hashCounter) Write(p []byte) (int, error) {
	hc.n += int64(len(p))
	return hc.h.Write(p)
}
