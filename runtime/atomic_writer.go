package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// fileProjection is one file of a projected volume: its content and mode.
type fileProjection struct {
	Data []byte
	Mode int32
}

// The atomic writer's reserved names in a volume's directory, kubelet's.
const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// writeAtomic makes dir hold exactly payload (relative path → file) the
// way kubelet's AtomicWriter does, so that a container reading the volume
// never sees a mix of two versions:
//
//	dir/..2026_12_06_07_00_00.123456/   the files of one version
//	dir/..data -> ..2026_12_06_07_00_00.123456
//	dir/<key>  -> ..data/<key>          what users see, one per top-level name
//
// A new version is written whole into a new timestamped directory; then
// ..data is switched to it by renaming a new symlink over it (rename is
// atomic), the user-visible links of new names are added, those of names
// gone are removed, and the old version's directory is removed. Nothing
// is written when the payload equals what ..data holds; changed reports
// whether a new version was written.
func writeAtomic(dir string, payload map[string]fileProjection, now time.Time) (changed bool, err error) {
	for p := range payload {
		if err := checkProjectedPath(p); err != nil {
			return false, err
		}
	}
	oldTs, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", dataDirName, err)
	}
	oldPaths := map[string]bool{}
	if oldTs != "" {
		oldPaths, err = listFiles(filepath.Join(dir, oldTs))
		if err != nil {
			return false, err
		}
		if sameContent(filepath.Join(dir, oldTs), oldPaths, payload) {
			return false, nil
		}
	}

	tsDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("create the new version's directory: %w", err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	tsName := filepath.Base(tsDir)
	if err := writePayload(tsDir, payload); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("write the new version: %w", err)
	}

	tmpLink := filepath.Join(dir, newDataDirName)
	if err := os.Remove(tmpLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tsDir)
		return false, err
	}
	if err := os.Symlink(tsName, tmpLink); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("link %s: %w", newDataDirName, err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		os.Remove(tmpLink)
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("switch %s to the new version: %w", dataDirName, err)
	}

	// User-visible links: one per top-level name of the payload.
	newTop := map[string]bool{}
	for p := range payload {
		newTop[strings.SplitN(p, "/", 2)[0]] = true
	}
	for top := range newTop {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirName, top), link); err != nil {
			return true, fmt.Errorf("link %s: %w", top, err)
		}
	}
	for p := range oldPaths {
		if top := strings.SplitN(p, "/", 2)[0]; !newTop[top] {
			if err := os.Remove(filepath.Join(dir, top)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return true, fmt.Errorf("remove %s: %w", top, err)
			}
		}
	}
	if oldTs != "" {
		if err := os.RemoveAll(filepath.Join(dir, oldTs)); err != nil {
			return true, fmt.Errorf("remove the old version: %w", err)
		}
	}
	return true, nil
}

// checkProjectedPath refuses a path that would leave the volume or touch
// the writer's own entries (the API refuses them too; the runtime checks
// again because it writes with root's rights).
func checkProjectedPath(p string) error {
	switch {
	case p == "":
		return errors.New("invalid path: must not be empty")
	case path.IsAbs(p):
		return fmt.Errorf("invalid path %q: must be relative", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Errorf("invalid path %q: must not start with '..'", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Errorf("invalid path %q: must not contain '..'", p)
	}
	return nil
}

// listFiles lists the regular files under root, by slash-separated
// relative path.
func listFiles(root string) (map[string]bool, error) {
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the current version: %w", err)
	}
	return out, nil
}

// sameContent reports whether the files under root are exactly payload,
// contents and modes.
func sameContent(root string, have map[string]bool, payload map[string]fileProjection) bool {
	if len(have) != len(payload) {
		return false
	}
	for p, f := range payload {
		if !have[p] {
			return false
		}
		full := filepath.Join(root, filepath.FromSlash(p))
		fi, err := os.Stat(full)
		if err != nil || fi.Mode().Perm() != fs.FileMode(f.Mode)&fs.ModePerm {
			return false
		}
		data, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(data, f.Data) {
			return false
		}
	}
	return true
}

// writePayload writes every file of payload under dir, creating parent
// directories, each with its mode.
func writePayload(dir string, payload map[string]fileProjection) error {
	for p, f := range payload {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.Data, fs.FileMode(f.Mode)&fs.ModePerm); err != nil {
			return err
		}
		// WriteFile's mode is filtered by the umask.
		if err := os.Chmod(full, fs.FileMode(f.Mode)&fs.ModePerm); err != nil {
			return err
		}
	}
	return nil
}
