package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations that name an image in an OCI layout's index.json: containerd
// (and docker save) write the full reference in the first; the OCI spec's
// ref.name is often only a tag ("latest"), which names no repository.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// loadOCI imports an OCI image layout tarball: it is unpacked (regular
// files and directories only, nothing outside the temporary directory) and
// read with go-containerregistry's layout package.
func (s *Store) loadOCI(path string) ([]string, error) {
	dir, err := os.MkdirTemp(s.tmp, "oci-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractPlain(path, dir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: OCI layout: %w", ErrBadArchive, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%w: OCI layout index.json: %w", ErrBadArchive, err)
	}
	var out []string
	for _, desc := range im.Manifests {
		img, err := platformImage(idx, desc)
		if err != nil {
			return out, fmt.Errorf("%w: OCI layout manifest %s: %w", ErrBadArchive, desc.Digest, err)
		}
		var refs []string
		if n := ociName(desc.Annotations); n != "" {
			r, err := parseReference(n, nil)
			if err != nil {
				return out, err
			}
			refs = []string{r.canonical}
		}
		cfgName, err := img.ConfigName()
		if err != nil {
			return out, fmt.Errorf("%w: OCI layout manifest %s: config: %w", ErrBadArchive, desc.Digest, err)
		}
		id := cfgName.String()
		if err := s.add(img, id, refs, ""); err != nil {
			return out, fmt.Errorf("loading image %s: %w", desc.Digest, err)
		}
		if len(refs) == 0 {
			s.logger.Warn("OCI layout image has no name; loaded by ID", "id", id)
			refs = []string{id}
		}
		out = append(out, refs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the OCI layout's index.json lists no image", ErrBadArchive)
	}
	return out, nil
}

// ociName is the reference an index entry names, or "" when it names none
// (a bare tag like "latest" or "1.0" has no repository).
func ociName(ann map[string]string) string {
	if n := ann[annotationContainerdName]; n != "" {
		return n
	}
	if n := ann[annotationRefName]; strings.ContainsAny(n, "/:") {
		return n
	}
	return ""
}

// platformImage returns the image an index entry stands for: the entry
// itself, or, for a multi-platform index, its linux/GOARCH image (or its
// only image).
func platformImage(idx v1.ImageIndex, desc v1.Descriptor) (v1.Image, error) {
	switch {
	case desc.MediaType.IsImage():
		return idx.Image(desc.Digest)
	case desc.MediaType.IsIndex():
		child, err := idx.ImageIndex(desc.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		var images []v1.Descriptor
		for _, m := range cm.Manifests {
			if !m.MediaType.IsImage() {
				continue
			}
			images = append(images, m)
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
				return child.Image(m.Digest)
			}
		}
		if len(images) == 1 {
			return child.Image(images[0].Digest)
		}
		return nil, fmt.Errorf("no linux/%s image among its %d", runtime.GOARCH, len(images))
	}
	return nil, fmt.Errorf("unsupported media type %q", desc.MediaType)
}

// extractPlain unpacks the directories and regular files of a tar into
// dir, refusing names with "..". An OCI layout holds nothing else.
func extractPlain(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			continue
		}
		p := filepath.Join(dir, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := writeFile(p, tr, hdr.Size); err != nil {
				return err
			}
		}
	}
}
