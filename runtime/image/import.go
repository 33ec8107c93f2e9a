package image

import (
	"fmt"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxCommitTries bounds how often add re-unpacks a layer that a concurrent
// Remove took away between unpacking and committing.
const maxCommitTries = 3

// add stores img, whose ID (config digest) is id, under refs (normalised
// references; none for an untagged archive image): it unpacks the layers
// the node lacks, records the image and points the references at it.
//
// The image is keyed by its config digest, so the same image arriving with
// another manifest (re-read archive, other registry) is recognised, and
// nothing is fetched or unpacked for it. The caller supplies id because
// the cheap way to learn it differs: a registry image's manifest names it
// (asking img would download the config), an archive has the config at
// hand (asking for a manifest would recompress every layer).
func (s *Store) add(img v1.Image, id string, refs []string, repoDigest string) error {
	for try := 0; ; try++ {
		s.mu.RLock()
		rec := s.idx.Images[id]
		s.mu.RUnlock()
		var sizes map[string]int64
		if rec == nil || !s.hasLayers(rec.Layers) {
			var err error
			if rec, sizes, err = s.unpackImage(id, img); err != nil {
				return err
			}
		}
		committed, err := s.commit(rec, sizes, refs, repoDigest)
		if err != nil {
			return err
		}
		if committed {
			return nil
		}
		if try+1 >= maxCommitTries {
			return fmt.Errorf("image %s: its layers keep being removed while it is stored", id)
		}
	}
}

func (s *Store) hasLayers(layers []string) bool {
	for _, l := range layers {
		h, err := v1.NewHash(l)
		if err != nil || !s.layers.has(h) {
			return false
		}
	}
	return true
}

// unpackImage reads the config and unpacks every layer the node lacks,
// bottom first; it returns the record to commit and the sizes of the layers
// it unpacked.
func (s *Store) unpackImage(id string, img v1.Image) (*imageRecord, map[string]int64, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("reading image config: %w", err)
	}
	if got, err := img.ConfigName(); err != nil || got.String() != id {
		return nil, nil, fmt.Errorf("%w: image config hashes to %v, not %s (%v)", ErrDigestMismatch, got, id, err)
	}
	if cf.OS != "" && cf.OS != "linux" {
		return nil, nil, fmt.Errorf("image %s is for %s/%s; this node runs linux/%s", id, cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if cf.Architecture != "" && cf.Architecture != runtime.GOARCH {
		s.logger.Warn("image is built for another architecture; its programs may not run here",
			"id", id, "arch", cf.Architecture, "node", runtime.GOARCH)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("listing image layers: %w", err)
	}
	diffIDs := cf.RootFS.DiffIDs
	if len(layers) != len(diffIDs) {
		return nil, nil, fmt.Errorf("image %s: manifest lists %d layers, config %d", id, len(layers), len(diffIDs))
	}
	rec := &imageRecord{ID: id, Config: configFrom(cf.Config), Created: cf.Created.Time}
	sizes := map[string]int64{}
	for i, l := range layers {
		// The config's diff IDs are what the image ID vouches for; the
		// unpack checks the content against them.
		d := diffIDs[i]
		start := time.Now()
		size, err := s.layers.ensure(d, l.Uncompressed)
		if err != nil {
			return nil, nil, err
		}
		if size >= 0 {
			sizes[d.String()] = size
			s.logger.Info("layer unpacked", "image", id, "layer", d.String(), "bytes", size, "took", time.Since(start).Round(time.Millisecond))
		}
		rec.Layers = append(rec.Layers, d.String())
	}
	return rec, sizes, nil
}

// commit records the image and its references, unless one of its layers
// vanished since it was unpacked (a concurrent Remove): then it reports
// false and the caller unpacks again.
func (s *Store) commit(rec *imageRecord, sizes map[string]int64, refs []string, repoDigest string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasLayers(rec.Layers) {
		return false, nil
	}
	for _, l := range rec.Layers {
		if size, ok := sizes[l]; ok {
			s.idx.Layers[l] = size
		} else if _, ok := s.idx.Layers[l]; !ok {
			// Unpacked by an earlier run that crashed before recording it.
			h, _ := v1.NewHash(l)
			s.idx.Layers[l] = s.layers.diskSize(h)
		}
	}
	s.idx.Images[rec.ID] = rec
	for _, r := range refs {
		s.idx.Refs[r] = refRecord{ID: rec.ID, RepoDigest: repoDigest}
	}
	if err := s.idx.write(s.indexPath); err != nil {
		return false, fmt.Errorf("recording image %s: %w", rec.ID, err)
	}
	return true, nil
}
