package image

import (
	"archive/tar"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// noFollow makes opening a symlink fail instead of following it.
const noFollow = unix.O_NOFOLLOW

// mkWhiteout creates overlayfs' whiteout: a character device 0/0, which
// hides the same name in the lower layers.
func mkWhiteout(p string) error {
	return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(0, 0)))
}

// setOpaque marks dir opaque for overlayfs: the lower layers' content of
// the directory is hidden.
func setOpaque(dir string) error {
	return unix.Lsetxattr(dir, "trusted.overlay.opaque", []byte("y"), 0)
}

// mknod creates a device node or FIFO entry.
func mknod(p string, hdr *tar.Header) error {
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	case tar.TypeFifo:
		mode |= unix.S_IFIFO
	}
	return unix.Mknod(p, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
}

// setXattr sets an extended attribute without following a symlink. A
// filesystem that does not support the attribute's namespace is not an
// error: the layer is still usable, as with docker.
func setXattr(p, attr, value string) error {
	err := unix.Lsetxattr(p, attr, []byte(value), 0)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	return err
}

// setTimes sets access and modification times without following a symlink.
func setTimes(p string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if atime.IsZero() {
		ts[0] = unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	if mtime.IsZero() {
		ts[1] = unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// syncFS flushes the filesystem holding dir: one call instead of an fsync
// per file of a freshly unpacked layer.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
