package eviction

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// FsObservations measures a file system's available bytes and free inodes
// (statfs of a path on it), as the two signals given: nodefs.available and
// nodefs.inodesFree, or the imagefs pair. Available bytes are those an
// unprivileged writer may use (f_bavail), as cadvisor reports them.
func FsObservations(path string, bytesSig, inodesSig Signal, into Observations) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", path, err)
	}
	into[bytesSig] = Observation{Available: int64(st.Bavail) * st.Bsize, Capacity: int64(st.Blocks) * st.Bsize}
	if st.Files > 0 { // some file systems (btrfs) have no inode count
		into[inodesSig] = Observation{Available: int64(st.Ffree), Capacity: int64(st.Files)}
	}
	return nil
}

// FsCapacity is the size in bytes of the file system holding path: the
// node's ephemeral-storage capacity when path is the data dir.
func FsCapacity(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Blocks) * st.Bsize, nil
}

// MemoryObservation reads memory.available as kubelet computes it: the
// capacity minus the working set, the working set being the memory in use
// less the inactive file cache, which the kernel reclaims first. From
// /proc/meminfo that is MemFree + Inactive(file), out of MemTotal.
func MemoryObservation(meminfo string, into Observations) error {
	b, err := os.ReadFile(meminfo)
	if err != nil {
		return fmt.Errorf("read %s: %w", meminfo, err)
	}
	o, err := parseMeminfo(b)
	if err != nil {
		return fmt.Errorf("%s: %w", meminfo, err)
	}
	into[SignalMemoryAvailable] = o
	return nil
}

func parseMeminfo(b []byte) (Observation, error) {
	var total, free, inactiveFile int64 = -1, -1, -1
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "MemTotal:":
			total = v << 10
		case "MemFree:":
			free = v << 10
		case "Inactive(file):":
			inactiveFile = v << 10
		}
	}
	if total < 0 || free < 0 || inactiveFile < 0 {
		return Observation{}, errors.New("no MemTotal, MemFree or Inactive(file)")
	}
	return Observation{Available: free + inactiveFile, Capacity: total}, nil
}

// DirUsage is what a directory tree takes on its file system, as du
// counts it: allocated blocks (so sparse files count what they use), each
// inode once however many links it has, and nothing below a mount point
// (a tmpfs emptyDir, a bind mount). It stops early once the total is over
// stopAbove (when positive): the caller then knows the limit is exceeded,
// which is all it asks, and a pod writing without end cannot make the walk
// endless. A tree that does not exist uses nothing.
func DirUsage(root string, stopAbove int64) (int64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("measure %s: %w", root, err)
	}
	w := walker{dev: st.Dev, stopAbove: stopAbove}
	w.total = st.Blocks * 512
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := w.dir(root); err != nil {
			return w.total, err
		}
	}
	return w.total, nil
}

type walker struct {
	dev       uint64
	stopAbove int64
	total     int64
	links     map[uint64]bool // inodes with several links, seen
}

func (w *walker) dir(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile
		}
		return fmt.Errorf("measure %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	for {
		names, err := f.Readdirnames(256)
		for _, name := range names {
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				continue // removed meanwhile
			}
			if st.Dev != w.dev {
				continue // a mount point: another file system's
			}
			if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if w.links == nil {
					w.links = map[uint64]bool{}
				}
				if w.links[st.Ino] {
					continue
				}
				w.links[st.Ino] = true
			}
			w.total += st.Blocks * 512
			if w.stopAbove > 0 && w.total > w.stopAbove {
				return nil
			}
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := w.dir(path + "/" + name); err != nil {
					return err
				}
				if w.stopAbove > 0 && w.total > w.stopAbove {
					return nil
				}
			}
		}
		if err != nil {
			return nil // io.EOF, or the directory went away
		}
	}
}
