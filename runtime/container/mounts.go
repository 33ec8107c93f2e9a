//go:build linux

package container

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// maxMountData is the kernel's limit on mount(2) option data (one page).
const maxMountData = 4095

// mountOverlay mounts an overlayfs on target, on the host, before the
// container is created: lowers are the image layers bottom first (overlay
// wants the top one first), upper and work are the container's own.
func mountOverlay(lowers []string, upper, work, target string) error {
	if len(lowers) == 0 {
		return fmt.Errorf("%w: no lower dirs for the root filesystem", ErrInvalid)
	}
	top := slices.Clone(lowers)
	slices.Reverse(top)
	for _, d := range append(top, upper, work) {
		if strings.ContainsAny(d, ":,") {
			return fmt.Errorf("%w: overlay dir %q contains ':' or ','", ErrInvalid, d)
		}
		if !strings.HasPrefix(d, "/") {
			return fmt.Errorf("%w: overlay dir %q is not absolute", ErrInvalid, d)
		}
	}
	data := "lowerdir=" + strings.Join(top, ":") + ",upperdir=" + upper + ",workdir=" + work
	if len(data) > maxMountData {
		return fmt.Errorf("%w: %d layers make overlay options of %d bytes (limit %d)", ErrInvalid, len(lowers), len(data), maxMountData)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, data); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return nil
}

// mountShm mounts the pod's /dev/shm: a tmpfs of the given size that every
// container bind-mounts, so POSIX shared memory is shared by the pod (the
// IPC namespace, joined from the pause, shares System V IPC).
func mountShm(target string, size int64) error {
	data := "mode=1777,size=" + strconv.FormatInt(size, 10)
	if err := unix.Mount("shm", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data); err != nil {
		return fmt.Errorf("mount shm tmpfs on %s: %w", target, err)
	}
	return nil
}

// mountPrivate mounts the sandbox's private tmpfs on target: only root may
// read it, nothing on it runs, and it holds a few small files.
func mountPrivate(target string) error {
	if err := unix.Mount("gossipod-private", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=16m"); err != nil {
		return fmt.Errorf("mount private tmpfs on %s: %w", target, err)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir in this mount
// namespace, deepest first (the order to unmount them in).
func mountsUnder(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, err
	}
	var mps []string
	for _, in := range infos {
		mps = append(mps, in.Mountpoint)
	}
	slices.SortFunc(mps, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return mps, nil
}

// unmountUnder detaches every mount at or below dir (overlays, shm), so
// that the directories can be removed. MNT_DETACH: a mount still held by
// a dying process must not make the removal fail; the kernel frees it
// when the last user goes. Stacked mounts are unmounted until none is
// left.
func unmountUnder(dir string) error {
	for range 8 {
		mps, err := mountsUnder(dir)
		if err != nil {
			return fmt.Errorf("read mountinfo: %w", err)
		}
		if len(mps) == 0 {
			return nil
		}
		var errs []error
		for _, mp := range mps {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	return fmt.Errorf("mounts keep appearing under %s", dir)
}
