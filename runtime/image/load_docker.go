package image

import (
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// loadDocker imports a docker archive: manifest.json lists each image with
// its config, layers and RepoTags.
func (s *Store) loadDocker(path string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("%w: docker archive manifest.json: %w", ErrBadArchive, err)
	}
	var out []string
	for i, d := range m {
		var tag *name.Tag
		var refs []string
		for _, rt := range d.RepoTags {
			t, err := name.NewTag(rt)
			if err != nil {
				return out, fmt.Errorf("%w: image %d: tag %q: %w", ErrBadArchive, i, rt, err)
			}
			if tag == nil {
				tag = &t
			}
			r, err := parseReference(rt, nil)
			if err != nil {
				return out, err
			}
			refs = append(refs, r.canonical)
		}
		if tag == nil && len(m) > 1 {
			// go-containerregistry finds an archive's image by its tag;
			// an untagged one can only be read when it is alone.
			return out, fmt.Errorf("%w: image %d has no RepoTags; untagged images load only from single-image archives", ErrBadArchive, i)
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return out, fmt.Errorf("%w: image %d: %w", ErrBadArchive, i, err)
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return out, fmt.Errorf("%w: image %d: config: %w", ErrBadArchive, i, err)
		}
		id := cfgName.String()
		if err := s.add(img, id, refs, ""); err != nil {
			return out, fmt.Errorf("loading image %v: %w", d.RepoTags, err)
		}
		if len(refs) == 0 {
			refs = []string{id}
		}
		out = append(out, refs...)
	}
	return out, nil
}
