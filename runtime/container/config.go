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
	// Logger receives sandbox and container lifecycle events; nil discards
	// them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration the agent uses unless told
// otherwise: state under /var/lib/gossipod/containers, pods under the
// /gossipod cgroup, and the running executable as the pause binary.
func DefaultConfig() Config {
	exe, _ := os.Executable() // Validate reports an empty PauseBinary
	return Config{
		Root:        "/var/lib/gossipod/containers",
		CgroupRoot:  "/gossipod",
		PauseBinary: exe,
		Logger:      slog.Default(),
	}
}

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
