package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// OCI whiteout names (image-spec, layer.md): ".wh.NAME" deletes NAME of the
// layers below; ".wh..wh..opq" in a directory hides everything the layers
// below have in it. Other ".wh..wh." names are AUFS bookkeeping, skipped.
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// xattrPrefix marks an extended attribute in a PAX record.
const xattrPrefix = "SCHILY.xattr."

// unpacker writes one layer's tar stream into a directory, as overlayfs
// wants it, and never outside it. The directory is private to the unpacker
// (a fresh temporary directory), so checking a path with Lstat and then
// using it is not racy.
type unpacker struct {
	root string
	// dirs are directories whose times are set once the stream ends:
	// creating their children would move their mtime again.
	dirs []dirTime
}

type dirTime struct {
	path         string
	atime, mtime time.Time
}

// unpackLayer unpacks the layer tar read from r into root, which must exist
// and be empty. It returns at the first problem; the caller throws root
// away then. Entries are refused (ErrUnsafeLayer) when their name or link
// target has a ".." component, when they would be written through a
// symlink (even one pointing inside the layer: the layer is unpacked alone,
// so what a symlink resolves to is only known in the merged rootfs), when a
// hard link leaves the layer or points at a directory, or when their type
// is unknown. Absolute names are taken relative to root, as docker does.
func unpackLayer(r io.Reader, root string) error {
	// A fresh temporary directory is 0700; the layer's root becomes the
	// container's "/", which must be searchable by every user. A "./"
	// entry in the tar overrides this.
	if err := os.Chmod(root, 0o755); err != nil {
		return err
	}
	u := &unpacker{root: root}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	return u.finish()
}

// cleanName turns a tar entry name into a path relative to the layer root:
// leading "/" and "./" are dropped, "." components ignored, and any ".."
// component refused. The root itself is "".
func cleanName(name string) (string, error) {
	var parts []string
	for p := range strings.SplitSeq(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", fmt.Errorf("%w: path %q contains \"..\"", ErrUnsafeLayer, name)
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// parentDir makes sure the parent directories of rel exist as real
// directories of this layer and returns the absolute path of rel; see
// realDir.
func (u *unpacker) parentDir(rel string, create bool) (string, error) {
	dir, err := u.realDir(path.Dir(rel), rel, create)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(rel)), nil
}

// realDir makes sure relDir ("." is the root) exists as a real directory of
// this layer, creating missing ones when create is set (a layer need not
// list the directories it writes into), and returns its absolute path. A
// component that is a symlink is refused: following it could lead
// anywhere. entryName is the entry being unpacked, for messages.
func (u *unpacker) realDir(relDir, entryName string, create bool) (string, error) {
	dir := u.root
	if relDir == "." || relDir == "" {
		return dir, nil
	}
	for p := range strings.SplitSeq(relDir, "/") {
		dir = filepath.Join(dir, p)
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := os.Mkdir(dir, 0o755); err != nil {
				return "", err
			}
			continue
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			return "", fmt.Errorf("%w: %q goes through the symlink %q", ErrUnsafeLayer, entryName, u.rel(dir))
		case !fi.IsDir():
			return "", fmt.Errorf("%w: %q goes through %q, which is not a directory", ErrUnsafeLayer, entryName, u.rel(dir))
		}
	}
	return dir, nil
}

// rel is p relative to the layer root, for messages.
func (u *unpacker) rel(p string) string {
	r, err := filepath.Rel(u.root, p)
	if err != nil {
		return p
	}
	return r
}

// entry unpacks one tar entry.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "" {
		// The layer root: keep the directory, take its metadata.
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the layer root is not a directory", ErrUnsafeLayer)
		}
		return u.meta(u.root, hdr, true)
	}
	if base := path.Base(rel); strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(rel, base, hdr)
	}
	p, err := u.parentDir(rel, true)
	if err != nil {
		return err
	}
	if err := u.clear(p, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg:
		if err := writeFile(p, r, hdr.Size); err != nil {
			return err
		}
	case tar.TypeSymlink:
		// The target is stored as it is, however absolute or "..": it is
		// resolved inside the container's rootfs, never while unpacking.
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
	case tar.TypeLink:
		return u.hardlink(p, rel, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := mknod(p, hdr); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: unsupported tar entry type %q", ErrUnsafeLayer, hdr.Typeflag)
	}
	return u.meta(p, hdr, hdr.Typeflag == tar.TypeDir)
}

// clear removes what a previous entry of the same path left, as a later
// entry of a tar replaces an earlier one; a directory stays when the new
// entry is a directory too (it only updates its metadata).
func (u *unpacker) clear(p string, isDir bool) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if isDir {
			return nil
		}
		return os.RemoveAll(p)
	}
	return os.Remove(p)
}

// writeFile creates p (it must not exist; a symlink there is not followed)
// with exactly size bytes of r.
func writeFile(p string, r io.Reader, size int64) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("short file: %d of %d bytes", n, size)
	}
	return err
}

// hardlink links p to another entry of this layer. link() does not follow a
// symlink at the source, so a link to a symlink is a second symlink, never
// a way out of the layer.
func (u *unpacker) hardlink(p, rel, linkname string) error {
	target, err := cleanName(linkname)
	if err != nil {
		return err
	}
	if target == "" || target == rel {
		return fmt.Errorf("%w: hard link to %q", ErrUnsafeLayer, linkname)
	}
	src, err := u.parentDir(target, false)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: hard link to %q, which is not in this layer", ErrUnsafeLayer, linkname)
		}
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: hard link to %q, which is not in this layer", ErrUnsafeLayer, linkname)
		}
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: hard link to the directory %q", ErrUnsafeLayer, linkname)
	}
	return os.Link(src, p)
}

// whiteout records a deletion (".wh.NAME") or an opaque directory
// (".wh..wh..opq") in overlayfs' form.
func (u *unpacker) whiteout(rel, base string, hdr *tar.Header) error {
	switch {
	case base == whiteoutOpaque:
		// The directory itself may come before or after this entry; if
		// after, it is kept (clear keeps directories) with the xattr.
		dir, err := u.realDir(path.Dir(rel), rel, true)
		if err != nil {
			return err
		}
		return setOpaque(dir)
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "." || victim == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafeLayer, victim)
	}
	p, err := u.parentDir(path.Join(path.Dir(rel), victim), true)
	if err != nil {
		return err
	}
	if err := u.clear(p, false); err != nil {
		return err
	}
	if err := mkWhiteout(p); err != nil {
		return err
	}
	return os.Lchown(p, hdr.Uid, hdr.Gid)
}

// meta applies ownership, mode, extended attributes and times. Chown comes
// before chmod, since chown clears the set-user-ID bit. A directory's times
// wait for finish.
func (u *unpacker) meta(p string, hdr *tar.Header, isDir bool) error {
	if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	isLink := hdr.Typeflag == tar.TypeSymlink
	if !isLink {
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok || isLink {
			continue
		}
		// overlayfs' own attributes (opaque, redirect, metacopy) change how
		// the merged tree is built; a layer may not carry them in.
		if strings.HasPrefix(attr, "trusted.overlay.") || strings.HasPrefix(attr, "user.overlay.") {
			continue
		}
		if err := setXattr(p, attr, v); err != nil {
			return fmt.Errorf("xattr %s: %w", attr, err)
		}
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if isDir {
		u.dirs = append(u.dirs, dirTime{path: p, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	return setTimes(p, atime, hdr.ModTime)
}

// finish sets directory times, deepest (latest listed) first.
func (u *unpacker) finish() error {
	for i := len(u.dirs) - 1; i >= 0; i-- {
		d := u.dirs[i]
		if err := setTimes(d.path, d.atime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}
