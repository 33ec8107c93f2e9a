package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Load imports the images of an archive: a docker archive (`docker save`,
// go-containerregistry's tarball.Write) or an OCI image layout in a tar,
// either possibly gzipped. It returns the normalised references imported
// (localhost/busybox:latest), or the image ID for an image the archive
// gives no name. An archive holding both forms (docker 25 and later) is
// read as a docker archive.
//
// Images keep their ID (config digest) through the archive, so an image
// loaded on one node and pulled on another is the same image, and a layer
// the node has is not unpacked again.
func (s *Store) Load(r io.Reader) ([]string, error) {
	start := time.Now()
	spool, err := s.spool(r)
	if err != nil {
		return nil, err
	}
	defer os.Remove(spool)
	names, err := tarNames(spool)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	var refs []string
	switch {
	case names["manifest.json"]:
		refs, err = s.loadDocker(spool)
	case names["oci-layout"] && names["index.json"]:
		refs, err = s.loadOCI(spool)
	default:
		return nil, fmt.Errorf("%w: it has neither manifest.json (docker archive) nor oci-layout and index.json (OCI layout)", ErrBadArchive)
	}
	if err != nil {
		return nil, err
	}
	s.logger.Info("images loaded", "refs", refs, "took", time.Since(start).Round(time.Millisecond))
	return refs, nil
}

// spool copies the archive into a temporary file: both readers need to
// seek or re-read it, and an archive can be larger than memory. A gzipped
// archive is decompressed on the way.
func (s *Store) spool(r io.Reader) (path string, err error) {
	f, err := os.CreateTemp(s.tmp, "load-*.tar")
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		defer zr.Close()
		src = zr
	}
	if _, err := io.Copy(f, src); err != nil {
		return "", fmt.Errorf("reading the archive: %w", err)
	}
	return f.Name(), nil
}

// tarNames lists the (cleaned) names of the archive's entries.
func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		names[strings.TrimPrefix(filepath.Clean("/"+hdr.Name), "/")] = true
	}
	if len(names) == 0 {
		return nil, errors.New("empty tar")
	}
	return names, nil
}
