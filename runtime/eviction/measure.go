package eviction

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// MemorySource says where memory.available is read from: the kernel's
// /proc/meminfo and the root cgroup's memory files. The zero value is the
// host's; tests point it at fixtures.
type MemorySource struct {
	// Meminfo is /proc/meminfo.
	Meminfo string
	// CgroupV1Memory is the root of the v1 memory controller
	// (/sys/fs/cgroup/memory); empty on a cgroup v2 host.
	CgroupV1Memory string
	// CgroupV2 is the root of the unified hierarchy (/sys/fs/cgroup),
	// used when CgroupV1Memory is empty.
	CgroupV2 string
}

// HostMemorySource is this host's MemorySource: the unified hierarchy
// when /sys/fs/cgroup is a cgroup2 file system, else the v1 memory
// controller at /sys/fs/cgroup/memory (a v1 or hybrid host).
func HostMemorySource() MemorySource {
	src := MemorySource{Meminfo: "/proc/meminfo", CgroupV2: "/sys/fs/cgroup"}
	var st unix.Statfs_t
	if err := unix.Statfs(src.CgroupV2, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return src
	}
	src.CgroupV1Memory = "/sys/fs/cgroup/memory"
	return src
}

// MemoryObservation reads memory.available as kubelet computes it from
// cadvisor's root container: the node's capacity (MemTotal) minus the
// working set of the root cgroup, the working set being the memory in use
// less the inactive file cache, which the kernel reclaims first. On
// cgroup v1 the usage is the root memory cgroup's memory.usage_in_bytes
// and the cache its memory.stat's total_inactive_file; the v2 root cgroup
// has no memory.current, so the usage is MemTotal - MemFree (runc's
// emulation, which cadvisor reads) and the cache memory.stat's
// inactive_file. Without the cgroup files (no memory controller) it falls
// back to /proc/meminfo's MemFree + Inactive(file).
func MemoryObservation(src MemorySource, into Observations) error {
	b, err := os.ReadFile(src.Meminfo)
	if err != nil {
		return fmt.Errorf("read %s: %w", src.Meminfo, err)
	}
	mi, err := parseMeminfo(b)
	if err != nil {
		return fmt.Errorf("%s: %w", src.Meminfo, err)
	}
	usage, inactiveFile, err := rootCgroupMemory(src, mi)
	if err != nil {
		into[SignalMemoryAvailable] = Observation{Available: mi.free + mi.inactiveFile, Capacity: mi.total}
		return err
	}
	into[SignalMemoryAvailable] = Observation{Available: mi.total - WorkingSet(usage, inactiveFile), Capacity: mi.total}
	return nil
}

// WorkingSet is cadvisor's working set of a cgroup: its memory usage less
// its inactive file cache, never below zero.
func WorkingSet(usage, inactiveFile int64) int64 { return max(usage-inactiveFile, 0) }

// rootCgroupMemory reads the root cgroup's memory usage and inactive file
// cache.
func rootCgroupMemory(src MemorySource, mi meminfo) (usage, inactiveFile int64, err error) {
	if src.CgroupV1Memory != "" {
		usage, err = ReadCgroupInt(filepath.Join(src.CgroupV1Memory, "memory.usage_in_bytes"))
		if err != nil {
			return 0, 0, err
		}
		inactiveFile, err = ReadCgroupStat(filepath.Join(src.CgroupV1Memory, "memory.stat"), "total_inactive_file")
		return usage, inactiveFile, err
	}
	inactiveFile, err = ReadCgroupStat(filepath.Join(src.CgroupV2, "memory.stat"), "inactive_file")
	return mi.total - mi.free, inactiveFile, err
}

// ReadCgroupInt reads a cgroup file holding one integer.
func ReadCgroupInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// ReadCgroupStat reads one key of a flat keyed cgroup file (memory.stat).
func ReadCgroupStat(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	for line := range bytes.Lines(b) {
		k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
		if ok && string(k) == key {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

// meminfo is what memory.available needs of /proc/meminfo, in bytes.
type meminfo struct{ total, free, inactiveFile int64 }

func parseMeminfo(b []byte) (meminfo, error) {
	mi := meminfo{-1, -1, -1}
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
			mi.total = v << 10
		case "MemFree:":
			mi.free = v << 10
		case "Inactive(file):":
			mi.inactiveFile = v << 10
		}
	}
	if mi.total < 0 || mi.free < 0 || mi.inactiveFile < 0 {
		return meminfo{}, errors.New("no MemTotal, MemFree or Inactive(file)")
	}
	return mi, nil
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
