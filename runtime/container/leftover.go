package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
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
	if err := os.Remove(containerEnvPath(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return wrap(err)
	}
	s.m.log.Info("removed the leftover of a container whose start was cut off", "sandbox", s.id, "container", name)
	return nil
}
