// Package testimage builds gossipod's test image, localhost/busybox:latest,
// from the host's statically linked busybox (Debian's busybox-static), with
// go-containerregistry: no docker, no registry, no network. Tests of the
// runtime and e2e packages build it from Go (Build, Image) instead of
// shelling out to make; `make testimage` writes build/images/busybox.tar
// with the command in ./cmd.
//
// The image has one layer: /bin/busybox, a symlink for every applet at the
// path `busybox --list-full` gives (/bin/sh, /usr/bin/wget, /sbin/ip, …),
// /etc/passwd and /etc/group with root and nobody, /tmp (1777) and the
// usual mount points; its config runs `sh`. Every file carries busybox's
// modification time, so the same busybox gives the same image ID: a rebuilt
// image is the same image, and its layer is shared, not unpacked again.
package testimage

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Reference is the name the image is tagged with. "localhost/" names no
// registry: the image exists where it was loaded.
const Reference = "localhost/busybox:latest"

// BusyboxPath is where Debian's busybox-static installs busybox.
const BusyboxPath = "/bin/busybox"

// Path is the image environment's PATH.
const Path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ErrNoBusybox means the host has no statically linked busybox to build
// the image from. Tests skip on it (or fail under CI=true).
var ErrNoBusybox = errors.New("no statically linked " + BusyboxPath + ": apt-get install busybox-static")

// RequiredApplets are the commands tests rely on; building fails when the
// host's busybox lacks one, instead of a test failing obscurely later.
var RequiredApplets = []string{
	"sh", "ls", "cat", "cp", "echo", "sleep", "httpd", "wget", "nc", "ps",
	"kill", "hostname", "ip", "ifconfig", "mkdir", "rm", "grep", "head",
	"tail", "date", "env", "id", "true", "false", "mount", "dd", "touch",
	"seq", "top", "free", "printf", "test", "[", "which",
}

// Image builds the test image in memory.
func Image() (v1.Image, error) {
	bb, err := busybox()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(BusyboxPath)
	if err != nil {
		return nil, err
	}
	mtime := fi.ModTime().UTC().Truncate(time.Second)
	applets, err := appletPaths()
	if err != nil {
		return nil, err
	}
	layerTar, err := rootfsTar(bb, applets, mtime)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Cmd: []string{"sh"},
			Env: []string{Path},
		},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: mtime}, CreatedBy: "gossipod internal/testimage: busybox-static"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: mtime})
}

// WithUser returns img with its config's User set to user, what `USER user`
// in a Dockerfile records ("1000", "1000:1000", a name from the image's
// /etc/passwd): tests of who a container runs as need an image that does
// not run as root. The layers are shared with img.
func WithUser(img v1.Image, user string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image's config: %w", err)
	}
	cfg := *cf.Config.DeepCopy()
	cfg.User = user
	return mutate.Config(img, cfg)
}

// Build writes the test image to path as a docker archive (`docker save`
// format) tagged Reference, creating path's directory. The file is replaced
// atomically, so a reader never sees half an archive.
func Build(path string) error {
	img, err := Image()
	if err != nil {
		return err
	}
	return Write(path, Reference, img)
}

// Write writes img to path as a docker archive tagged ref, creating path's
// directory and replacing the file atomically, as Build does for the test
// image itself; it serves variants such as WithUser's under their own name.
func Write(path, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// busybox reads the host's busybox and checks that it is static: a
// dynamically linked one (Debian's plain busybox package) would need a
// loader and libc the image does not have.
func busybox() ([]byte, error) {
	f, err := elf.Open(BusyboxPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoBusybox
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoBusybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%w (%s is dynamically linked)", ErrNoBusybox, BusyboxPath)
		}
	}
	return os.ReadFile(BusyboxPath)
}

// appletPaths asks busybox where each applet lives (bin/sh, usr/bin/wget,
// …), sorted, leaving out busybox itself and linuxrc.
func appletPaths() ([]string, error) {
	out, err := exec.Command(BusyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", BusyboxPath, err)
	}
	var paths []string
	have := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		have[filepath.Base(p)] = true
		if p == "bin/busybox" || !strings.Contains(p, "/") {
			continue
		}
		paths = append(paths, p)
	}
	for _, a := range RequiredApplets {
		if !have[a] {
			return nil, fmt.Errorf("%s lacks the applet %q the tests need", BusyboxPath, a)
		}
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}

// The image's users and groups: root, and nobody for tests that run as
// another user.
const (
	passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group  = "root:x:0:\nnobody:x:65534:\n"
)

// rootfsTar is the layer: directories first, then files, then symlinks,
// each owned by root and dated mtime.
func rootfsTar(bb []byte, applets []string, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := func(h *tar.Header) *tar.Header {
		h.ModTime = mtime
		h.Format = tar.FormatPAX
		return h
	}
	dirs := []struct {
		name string
		mode int64
	}{
		{"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"home", 0o755},
		{"proc", 0o555}, {"root", 0o700}, {"run", 0o755}, {"sbin", 0o755},
		{"sys", 0o555}, {"tmp", 0o1777}, {"usr", 0o755}, {"usr/bin", 0o755},
		{"usr/sbin", 0o755}, {"var", 0o755}, {"var/tmp", 0o1777}, {"var/www", 0o755},
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(hdr(&tar.Header{Typeflag: tar.TypeDir, Name: d.name + "/", Mode: d.mode})); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"bin/busybox", 0o755, bb},
		{"etc/group", 0o644, []byte(group)},
		{"etc/passwd", 0o644, []byte(passwd)},
	}
	for _, f := range files {
		if err := tw.WriteHeader(hdr(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data))})); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	for _, a := range applets {
		if err := tw.WriteHeader(hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777})); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
