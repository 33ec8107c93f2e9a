package image

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Store is the node's image store. It is safe for concurrent use: pulls and
// loads of different images proceed in parallel, and a layer two of them
// need is unpacked once while the other waits for it.
type Store struct {
	cfg       Config
	logger    *slog.Logger
	keychain  authn.Keychain // the node's own registry credentials
	indexPath string
	tmp       string
	layers    *layerStore

	// mu guards idx and the index file. It is never held while a layer is
	// fetched or unpacked.
	mu  sync.RWMutex
	idx *index
}

// New opens (or creates) the store under cfg.Root and reads its index, so
// a restarted agent has the images it had. Leftovers of unpacks that a
// crash interrupted are removed.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cfg.InsecureRegistries = append([]string(nil), cfg.InsecureRegistries...)
	root := filepath.Clean(cfg.Root)
	keychain := cfg.NodeKeychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	s := &Store{
		cfg:       cfg,
		logger:    logger,
		keychain:  keychain,
		indexPath: filepath.Join(root, "index.json"),
		tmp:       filepath.Join(root, "tmp"),
	}
	s.layers = newLayerStore(filepath.Join(root, "layers"), s.tmp)
	for _, d := range []string{root, s.layers.dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("image store: clearing %s: %w", s.tmp, err)
	}
	if err := os.Mkdir(s.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	idx, err := readIndex(s.indexPath)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	s.idx = idx
	return s, nil
}

// Get returns the image a reference (any spelling: "busybox" finds
// docker.io/library/busybox:latest) or an image ID ("sha256:…") names, if
// it is in the store with all its layers.
func (s *Store) Get(ref string) (*Image, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.getLocked(ref)
}

func (s *Store) getLocked(ref string) (*Image, bool) {
	key, rr, ok := s.lookupLocked(ref)
	if !ok {
		return nil, false
	}
	img, err := s.imageLocked(key, rr)
	if err != nil {
		return nil, false
	}
	return img, true
}

// lookupLocked finds the reference record for ref, which may also be an
// image ID; key is the normalised reference or the ID.
func (s *Store) lookupLocked(ref string) (key string, rr refRecord, ok bool) {
	if strings.HasPrefix(ref, "sha256:") {
		if _, ok := s.idx.Images[ref]; ok {
			return ref, refRecord{ID: ref}, true
		}
		return "", refRecord{}, false
	}
	canonical, err := Normalize(ref)
	if err != nil {
		return "", refRecord{}, false
	}
	rr, ok = s.idx.Refs[canonical]
	return canonical, rr, ok
}

// imageLocked builds the Image of a record, checking that every layer is
// on disk (someone may have removed one by hand).
func (s *Store) imageLocked(ref string, rr refRecord) (*Image, error) {
	rec := s.idx.Images[rr.ID]
	if rec == nil {
		return nil, fmt.Errorf("%w: %s (index names a missing image %s)", ErrNotFound, ref, rr.ID)
	}
	img := &Image{
		Reference:  ref,
		ID:         rec.ID,
		RepoDigest: rr.RepoDigest,
		Config:     rec.Config,
		Created:    rec.Created,
	}
	for _, l := range rec.Layers {
		h, err := v1.NewHash(l)
		if err != nil {
			return nil, err
		}
		if !s.layers.has(h) {
			return nil, fmt.Errorf("%w: %s: layer %s is missing", ErrNotFound, ref, l)
		}
		img.layerDirs = append(img.layerDirs, s.layers.path(h))
		img.Size += s.idx.Layers[l]
	}
	return img, nil
}

// List returns one entry per reference, and one with an empty Reference
// for each image that no reference names any more (replaced by a newer
// pull of its tag), sorted by reference.
func (s *Store) List() []ImageInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	named := map[string]bool{}
	var out []ImageInfo
	for ref, rr := range s.idx.Refs {
		if img, err := s.imageLocked(ref, rr); err == nil {
			out = append(out, ImageInfo{Reference: ref, ID: img.ID, Size: img.Size, Created: img.Created})
			named[img.ID] = true
		}
	}
	for id := range s.idx.Images {
		if named[id] {
			continue
		}
		if img, err := s.imageLocked(id, refRecord{ID: id}); err == nil {
			out = append(out, ImageInfo{ID: id, Size: img.Size, Created: img.Created})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Reference != out[j].Reference {
			return out[i].Reference < out[j].Reference
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Remove removes a reference (or, given an image ID, the image with all its
// references). An image left without references is deleted, and so are the
// layers no other image uses. The store does not know about containers:
// the caller must not remove an image a container still runs from (as
// crictl rmi refuses to), since its layers are that container's lower dirs.
func (s *Store) Remove(ref string) error {
	detached, id, err := s.removeLocked(ref)
	if err != nil {
		return err
	}
	// The slow part, deleting the files, runs without the lock.
	var errs []error
	for _, d := range detached {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	s.logger.Info("image removed", "ref", ref, "id", id, "layersRemoved", len(detached))
	return errors.Join(errs...)
}

// removeLocked updates the index and moves the unused layers out of the
// layer directory, under s.mu, so that a concurrent pull sees a layer or
// its absence, never a layer half deleted. It returns the moved
// directories, to delete.
func (s *Store) removeLocked(ref string) (detached []string, id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, rr, ok := s.lookupLocked(ref)
	if !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrNotFound, ref)
	}
	if key == rr.ID {
		for r, x := range s.idx.Refs {
			if x.ID == rr.ID {
				delete(s.idx.Refs, r)
			}
		}
	} else {
		delete(s.idx.Refs, key)
	}
	var gone []v1.Hash
	if !s.referencedLocked(rr.ID) {
		if rec := s.idx.Images[rr.ID]; rec != nil {
			delete(s.idx.Images, rr.ID)
			gone = s.unusedLayersLocked(rec.Layers)
		}
	}
	for _, h := range gone {
		delete(s.idx.Layers, h.String())
	}
	if err := s.idx.write(s.indexPath); err != nil {
		return nil, "", fmt.Errorf("removing image %q: %w", ref, err)
	}
	var errs []error
	for _, h := range gone {
		d, err := s.layers.detach(h)
		if err != nil {
			errs = append(errs, err)
		} else if d != "" {
			detached = append(detached, d)
		}
	}
	return detached, rr.ID, errors.Join(errs...)
}

func (s *Store) referencedLocked(id string) bool {
	for _, rr := range s.idx.Refs {
		if rr.ID == id {
			return true
		}
	}
	return false
}

// unusedLayersLocked returns those of layers that no image in the index
// uses.
func (s *Store) unusedLayersLocked(layers []string) []v1.Hash {
	used := map[string]bool{}
	for _, rec := range s.idx.Images {
		for _, l := range rec.Layers {
			used[l] = true
		}
	}
	var out []v1.Hash
	for _, l := range layers {
		if used[l] {
			continue
		}
		used[l] = true // listed twice in one image: once is enough
		if h, err := v1.NewHash(l); err == nil {
			out = append(out, h)
		}
	}
	return out
}
