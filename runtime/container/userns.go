//go:build linux

package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// UserNamespace is a pod's user namespace (spec.hostUsers: false): IDs
// 0..Size-1 in the pod are HostUID.. and HostGID.. on the node. The pause
// creates the namespace with these mappings; every container of the pod
// joins it, as they join the pause's other namespaces.
type UserNamespace struct {
	HostUID uint32 `json:"hostUID"`
	HostGID uint32 `json:"hostGID"`
	Size    uint32 `json:"size"`
}

// ErrUserNamespacesUnsupported marks a pod with its own user namespace
// that this node cannot run: the kernel or a filesystem the pod's files
// live on does not support idmapped mounts, without which the image's
// files (owned by root on the node) would be nobody's in the pod.
var ErrUserNamespacesUnsupported = errors.New("the container runtime does not support user namespaces")

// ErrIDNotMapped marks a container whose user or groups fall outside its
// pod's user namespace: the kernel cannot switch to an ID the namespace
// does not map. It is the container's configuration that is wrong, not
// the node.
var ErrIDNotMapped = errors.New("outside the pod's user namespace")

// checkMapped refuses an identity with an ID the namespace does not map,
// naming it, before libcontainer fails with "chown /dev/stdout: invalid
// argument".
func (u *UserNamespace) checkMapped(id Identity) error {
	if u == nil {
		return nil
	}
	if id.UID < 0 || id.UID >= int(u.Size) {
		return fmt.Errorf("user %d is %w (hostUsers: false maps IDs 0 to %d)", id.UID, ErrIDNotMapped, u.Size-1)
	}
	for _, g := range append([]int{id.GID}, id.AdditionalGroups...) {
		if g < 0 || g >= int(u.Size) {
			return fmt.Errorf("group %d is %w (hostUsers: false maps IDs 0 to %d)", g, ErrIDNotMapped, u.Size-1)
		}
	}
	return nil
}

// validate checks the mapping: non-empty, not wrapping around, not
// mapping the host's root.
func (u *UserNamespace) validate() error {
	if u == nil {
		return nil
	}
	switch {
	case u.Size == 0:
		return fmt.Errorf("%w: user namespace of size 0", ErrInvalid)
	case u.HostUID == 0 || u.HostGID == 0:
		return fmt.Errorf("%w: a pod's user namespace must not map the host's root", ErrInvalid)
	case uint64(u.HostUID)+uint64(u.Size) > 1<<32-1 || uint64(u.HostGID)+uint64(u.Size) > 1<<32-1:
		return fmt.Errorf("%w: user namespace %d/%d+%d goes past the last ID", ErrInvalid, u.HostUID, u.HostGID, u.Size)
	}
	return nil
}

// uidMappings and gidMappings are the namespace's mappings in
// libcontainer's form.
func (u *UserNamespace) uidMappings() []configs.IDMap {
	return []configs.IDMap{{ContainerID: 0, HostID: int64(u.HostUID), Size: int64(u.Size)}}
}

func (u *UserNamespace) gidMappings() []configs.IDMap {
	return []configs.IDMap{{ContainerID: 0, HostID: int64(u.HostGID), Size: int64(u.Size)}}
}

// idmapped makes a mount of the pod's files idmapped with the pod's
// mappings: files owned by root on the node are root's in the pod.
func (u *UserNamespace) idmapped(m *configs.Mount) *configs.Mount {
	m.IDMapping = &configs.MountIDMapping{UIDMappings: u.uidMappings(), GIDMappings: u.gidMappings(), Recursive: m.Flags&unix.MS_REC != 0}
	return m
}

// openUserns opens the user namespace of process pid, for
// MOUNT_ATTR_IDMAP.
func openUserns(pid int) (*os.File, error) {
	f, err := os.Open(nsPath(pid, "user"))
	if err != nil {
		return nil, fmt.Errorf("open the pod's user namespace: %w", err)
	}
	return f, nil
}

// idmapTree clones the mount tree at src (a bind mount of it) and sets
// MOUNT_ATTR_IDMAP on the clone with userns's mappings. The caller
// attaches the returned detached mount (move_mount) or closes it, which
// frees it. An error the kernel gives for a filesystem without idmapped
// mounts (EINVAL, ENOSYS, EPERM…) is ErrUserNamespacesUnsupported with the
// path and its filesystem, for the user to act on.
func idmapTree(src string, userns *os.File) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return nil, fmt.Errorf("%w: the kernel has no open_tree(2) (idmapped mounts need Linux 5.12 or later)", ErrUserNamespacesUnsupported)
		}
		return nil, fmt.Errorf("clone mount of %s: %w", src, err)
	}
	tree := os.NewFile(uintptr(fd), src)
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		tree.Close()
		return nil, fmt.Errorf("%w: idmapped mounts are not supported on %s (%s): %w", ErrUserNamespacesUnsupported, src, fsTypeOf(src), err)
	}
	return tree, nil
}

// idmapMount attaches an idmapped bind mount of src at target.
func idmapMount(src, target string, userns *os.File) error {
	tree, err := idmapTree(src, userns)
	if err != nil {
		return err
	}
	defer tree.Close()
	if err := unix.MoveMount(int(tree.Fd()), "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach idmapped mount of %s on %s: %w", src, target, err)
	}
	return nil
}

// checkIDMapped reports whether the filesystems of paths support
// idmapped mounts with userns, by making one of each and freeing it: a
// pod whose files could not be mapped is refused at its start, with the
// path and filesystem that cannot, rather than at its first container.
func checkIDMapped(userns *os.File, paths ...string) error {
	for _, p := range paths {
		tree, err := idmapTree(p, userns)
		if err != nil {
			return err
		}
		tree.Close()
	}
	return nil
}

// fsTypeOf names the filesystem p is on, for messages ("ext4", "tmpfs",
// or its magic number when unknown).
func fsTypeOf(p string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return "unknown filesystem"
	}
	names := map[int64]string{
		unix.EXT4_SUPER_MAGIC: "ext4", unix.TMPFS_MAGIC: "tmpfs", unix.OVERLAYFS_SUPER_MAGIC: "overlay",
		unix.XFS_SUPER_MAGIC: "xfs", unix.BTRFS_SUPER_MAGIC: "btrfs", unix.RAMFS_MAGIC: "ramfs",
		unix.NFS_SUPER_MAGIC: "nfs", unix.V9FS_MAGIC: "9p", unix.FUSE_SUPER_MAGIC: "fuse",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return "filesystem 0x" + strconv.FormatInt(int64(st.Type), 16)
}

// idmapLowers attaches an idmapped bind mount of each lower dir under
// dir/lower/<i> and returns their paths, in order: the overlay built on
// them shows the image's root-owned files as the pod's root's, without
// touching the layers, which other pods share.
func idmapLowers(lowers []string, dir string, userns *os.File) ([]string, error) {
	out := make([]string, len(lowers))
	for i, l := range lowers {
		t := filepath.Join(dir, "lower", strconv.Itoa(i))
		if err := os.MkdirAll(t, 0o700); err != nil {
			return nil, err
		}
		if err := idmapMount(l, t, userns); err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// checkIDMapped checks, for a sandbox whose pause pid created the pod's
// user namespace, what its containers will need: that the filesystems of
// Root and IDMapPaths take idmapped mounts, and that the pod's root can
// reach the sandbox's directory (every directory above it searchable by
// others). Either failure is ErrUserNamespacesUnsupported with what to
// change.
func (m *Manager) checkIDMapped(pid int, sandboxDir string) error {
	ns, err := openUserns(pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := checkIDMapped(ns, append([]string{m.cfg.Root}, m.cfg.IDMapPaths...)...); err != nil {
		return err
	}
	for d := filepath.Dir(sandboxDir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%w: the pod's root, an unprivileged user on the node, cannot reach its root filesystem: %s is mode %#o (make it searchable by others: chmod o+x %s)",
				ErrUserNamespacesUnsupported, d, fi.Mode().Perm(), d)
		}
		if d == "/" {
			return nil
		}
	}
}
