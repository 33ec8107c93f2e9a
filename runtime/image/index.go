package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// indexVersion is bumped when the index format changes incompatibly.
const indexVersion = 1

// index is the store's metadata, persisted as Root/index.json so that a
// restarted agent sees the images it had. Layers themselves live on disk
// under their diff IDs; the index only says which image uses which.
type index struct {
	Version int `json:"version"`
	// Images by ID (config digest).
	Images map[string]*imageRecord `json:"images"`
	// Refs maps a normalised reference to the image it names now.
	Refs map[string]refRecord `json:"refs"`
	// Layers maps a diff ID to its uncompressed size in bytes.
	Layers map[string]int64 `json:"layers"`
}

type imageRecord struct {
	ID      string      `json:"id"`
	Config  ImageConfig `json:"config"`
	Layers  []string    `json:"layers"` // diff IDs, bottom first
	Created time.Time   `json:"created"`
}

type refRecord struct {
	ID         string `json:"id"`
	RepoDigest string `json:"repoDigest,omitempty"`
}

func newIndex() *index {
	return &index{
		Version: indexVersion,
		Images:  map[string]*imageRecord{},
		Refs:    map[string]refRecord{},
		Layers:  map[string]int64{},
	}
}

// readIndex reads path; a missing file is an empty store.
func readIndex(path string) (*index, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newIndex(), nil
	}
	if err != nil {
		return nil, err
	}
	idx := newIndex()
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("image index %s is damaged (move it away to start with an empty store): %w", path, err)
	}
	if idx.Version != indexVersion {
		return nil, fmt.Errorf("image index %s has version %d, this agent reads version %d", path, idx.Version, indexVersion)
	}
	// A hand-edited or older file may lack a map.
	if idx.Images == nil {
		idx.Images = map[string]*imageRecord{}
	}
	if idx.Refs == nil {
		idx.Refs = map[string]refRecord{}
	}
	if idx.Layers == nil {
		idx.Layers = map[string]int64{}
	}
	return idx, nil
}

// write replaces path atomically (temp file, fsync, rename, fsync of the
// directory), so a crash leaves the old index or the new one, never half.
func (idx *index) write(path string) (err error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".index-*.json")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
