package container

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// Config configures a Manager. Start from DefaultConfig; NewManager
// validates it first and never changes the caller's copy.
type Config struct {
	// Root holds every sandbox's state, root filesystems and mount points
	// (the agent uses <data-dir>/containers). It must survive an agent
	// restart, because re-adoption reads it.
	Root string
	// CgroupRoot is the absolute cgroup path under which each pod gets
	// pod<ID>, in every controller. Absolute, because a relative path would
	// nest under the agent's own cgroup, which differs per v1 controller.
	CgroupRoot string
	// PauseBinary is run as every sandbox's pause process. It must be
	// statically linked (the sandbox's root filesystem is empty: there is no
	// dynamic loader) and call Pause when its argv[0] is "pause". The
	// gossipod binary built by `make build` is such a binary.
	PauseBinary string
	// PodPidsLimit is the pids.max of every pod cgroup (kubelet's
	// --pod-max-pids): the pause, every container, every exec'd process
	// and whatever they fork count against it, so a fork bomb in a pod
	// exhausts its pod's limit and not the node's pid space (where the
	// agent, and with it a Raft voter, must still fork). Zero or less sets
	// no per-pod limit.
	PodPidsLimit int64
	// PodsPidsLimit is the pids.max of CgroupRoot, the cgroup every pod
	// lives under: all pods together may have at most this many
	// processes, what the node's pid capacity leaves after the agent's
	// --system-reserved pid=... (kubelet sets kubepods' the same way).
	// Zero or less sets none (written "max").
	PodsPidsLimit int64
	// PodsMemoryLimit is the memory limit of CgroupRoot in bytes: all pods
	// together may use at most the node's allocatable memory when the
	// agent reserves some (--system-reserved memory=...), so what is
	// reserved stays the agent's even against pods without limits
	// (kubelet's --enforce-node-allocatable=pods on kubepods). Zero or
	// less sets none (unlimited).
	PodsMemoryLimit int64
	// IDMapPaths are directories, besides Root, on whose filesystems the
	// files a pod sees live (the image layers, the pods' volumes): a pod
	// with its own user namespace starts only if each takes idmapped
	// mounts (see ErrUserNamespacesUnsupported).
	IDMapPaths []string
	// Logger receives sandbox and container lifecycle events; nil discards
	// them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration the agent uses unless told
// otherwise: state under /var/lib/gossipod/containers, pods under the
// /gossipod cgroup, the running executable as the pause binary, and
// DefaultPodPidsLimit processes per pod.
func DefaultConfig() Config {
	exe, _ := os.Executable() // Validate reports an empty PauseBinary
	return Config{
		Root:         "/var/lib/gossipod/containers",
		CgroupRoot:   "/gossipod",
		PauseBinary:  exe,
		PodPidsLimit: DefaultPodPidsLimit,
		Logger:       slog.Default(),
	}
}

// DefaultPodPidsLimit is the per-pod process limit unless told otherwise.
// kubelet's --pod-max-pids defaults to no limit (-1); gossipod's agent is
// also a Raft voter, so a fork bomb in one pod must not take the node.
// 4096 is OpenShift's default podPidsLimit (CRI-O's pids_limit): far above
// what a real pod runs (a JVM with a thousand threads, a build with -j64)
// and, with kernel.pid_max at its usual 32768 or more, a small share of it.
const DefaultPodPidsLimit = 4096

// Validate reports every problem of the configuration, naming the fields,
// so that a bad configuration fails at start-up rather than at the first
// pod.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		errs = append(errs, fmt.Errorf("Root %q must be an absolute path", c.Root))
	}
	if !filepath.IsAbs(c.CgroupRoot) || filepath.Clean(c.CgroupRoot) == "/" {
		errs = append(errs, fmt.Errorf("CgroupRoot %q must be an absolute cgroup path other than /", c.CgroupRoot))
	} else if filepath.Clean(c.CgroupRoot) != c.CgroupRoot {
		errs = append(errs, fmt.Errorf("CgroupRoot %q must be clean (%q)", c.CgroupRoot, filepath.Clean(c.CgroupRoot)))
	}
	if err := checkStaticBinary(c.PauseBinary); err != nil {
		errs = append(errs, fmt.Errorf("PauseBinary: %w", err))
	}
	return errors.Join(errs...)
}

// checkStaticBinary fails for a path that is not an executable ELF file
// without a program interpreter: a dynamically linked pause cannot start
// in the sandbox's empty root filesystem, and saying so here beats a pause
// that dies without a word.
func checkStaticBinary(path string) error {
	if path == "" || !filepath.IsAbs(path) {
		return fmt.Errorf("%q must be an absolute path", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; build it statically (make build)", path)
		}
	}
	return nil
}

// logger returns the configured logger or one that discards.
func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
