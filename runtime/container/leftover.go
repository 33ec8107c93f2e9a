package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// RemoveContainer removes whatever exists of the named container: a
// loadable one as Container.Remove does, and also one whose start was cut
// off half-way (its agent died between creating the directory and
// recording the container), which Container cannot load. Its processes are
// killed through its cgroup, then its libcontainer state, cgroup, mounts
// and directory go. A container that does not exist at all is fine.
func (s *Sandbox) RemoveContainer(ctx context.Context, name string) error {
	if err := validateName(name); err != nil {
		return wrapSandbox(s.id, err)
	}
	if c, err := s.Container(name); err == nil {
		return c.Remove(ctx)
	}
	wrap := func(err error) error {
		return wrapSandbox(s.id, fmt.Errorf("container %q: remove leftover: %w", name, err))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var errs []error
	if cm, err := manager.New(&cgroups.Cgroup{Path: s.m.containerCgroupPath(s.id, name), Resources: &cgroups.Resources{}}); err == nil {
		if err := killCgroup(ctx, cm.GetPaths()); err != nil {
			errs = append(errs, err)
		}
		if err := cm.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if lc, err := libcontainer.Load(stateRoot(s.dir), name); err == nil {
		if err := destroyLibcontainer(lc); err != nil {
			errs = append(errs, err)
		}
	} else if !errors.Is(err, libcontainer.ErrNotExist) {
		// Unreadable state: remove it by hand, the processes are gone.
		if err := os.RemoveAll(filepath.Join(stateRoot(s.dir), name)); err != nil {
			errs = append(errs, err)
		}
	}
	dir := containerDir(s.dir, name)
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	if mps, err := mountsUnder(dir); err != nil || len(mps) > 0 {
		errs = append(errs, fmt.Errorf("not removing %s: still mounted %v (%v)", dir, mps, err))
	} else if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return wrap(err)
	}
	s.m.log.Info("removed the leftover of a container whose start was cut off", "sandbox", s.id, "container", name)
	return nil
}

// killCgroup SIGKILLs every process in the cgroup dirs until none is left.
func killCgroup(ctx context.Context, paths map[string]string) error {
	dirs := existingDirs(paths)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		left := 0
		for _, dir := range dirs {
			pids, err := cgroups.GetAllPids(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("list processes in %s: %w", dir, err)
			}
			for _, pid := range pids {
				left++
				if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("kill %d: %w", pid, err)
				}
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d process(es) still in the container's cgroup: %w", left, ctx.Err())
		case <-time.After(delay):
		}
	}
}
