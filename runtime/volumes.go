package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/gossipod/gossipod/api"
)

// The pod's directory, Root/pods/<uid>, holds everything of the pod that
// is the runtime's (the container side lives under Root/containers):
//
//	pod.json                       the pod record (spec, restart counts, statuses)
//	volumes/<name>/                an emptyDir (a tmpfs for medium Memory), or
//	                               a configMap, secret, downwardAPI or projected
//	                               volume written by writeAtomic (on a tmpfs
//	                               but for configMap)
//	logs/<container>/<n>.log       the n-th instance's stdout and stderr
//
// Every part of these paths that comes from a pod (uid, volume and
// container names) is checked before any path is built from it: SyncPods
// refuses a pod whose names api.ValidatePodPathNames refuses, records on
// disk are read only from directories named by a valid uid, and
// removePodDir checks the uid again before it removes anything, so a
// crafted uid such as "../../etc" never reaches os.RemoveAll.
func (r *Runtime) podDir(uid string) string { return filepath.Join(r.cfg.podsDir(), uid) }

// errUnsafeName marks a uid or name that is not one safe path component;
// nothing is built from it.
var errUnsafeName = errors.New("unsafe name for a path on the node")

// checkUID is the uid check of api.ValidatePodPathNames, for the paths
// built from a uid alone.
func checkUID(uid string) error {
	if msgs := api.IsValidUID(uid); len(msgs) > 0 {
		return fmt.Errorf("%w: pod uid %q %s", errUnsafeName, uid, strings.Join(msgs, "; "))
	}
	return nil
}

// checkPodPathNames refuses a pod whose uid, name, namespace, volume or
// container names could not safely become paths.
func checkPodPathNames(p *api.Pod) error {
	if err := api.ValidatePodPathNames(p); err != nil {
		return fmt.Errorf("%w: %w", errUnsafeName, err)
	}
	return nil
}

func (w *podWorker) podDir() string { return w.r.podDir(w.uid) }

func (w *podWorker) volumeDir(name string) string {
	return filepath.Join(w.podDir(), "volumes", name)
}

// Kubernetes' hostPath types.
const (
	hostPathUnset             = ""
	hostPathDirectoryOrCreate = "DirectoryOrCreate"
	hostPathDirectory         = "Directory"
	hostPathFileOrCreate      = "FileOrCreate"
	hostPathFile              = "File"
)

// setupVolumes writes the pod's managed files (/etc/hosts…) and makes every
// volume of the pod ready to be bind-mounted:
// an emptyDir is created (and a tmpfs mounted on it for medium Memory), a
// hostPath is checked against its type, or created for DirectoryOrCreate
// and FileOrCreate. It is idempotent: an adopted pod's volumes are left as
// they are. Errors are worded as kubelet's FailedMount events.
func (w *podWorker) setupVolumes() error {
	if err := w.allocateUserNamespace(); err != nil {
		return err
	}
	if err := w.writeManagedFiles(); err != nil {
		return fmt.Errorf("writing the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf: %w", err)
	}
	for i := range w.st.Pod.Spec.Volumes {
		v := &w.st.Pod.Spec.Volumes[i]
		var err error
		switch {
		case isProjected(v):
			err = w.setupProjected(v)
		case v.EmptyDir != nil:
			err = w.setupEmptyDir(v.Name, v.EmptyDir)
		case v.HostPath != nil && w.st.UserNamespace != nil:
			// The API refuses it (api.ValidatePod); a node never mounts
			// the host's files into a pod whose root is not the host's.
			err = errHostPathUserns
		case v.HostPath != nil:
			err = w.r.checkHostPathAllowed(v.HostPath.Path)
			if err == nil {
				err = setupHostPath(v.HostPath)
			}
		default:
			err = errors.New("no volume source set")
		}
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
	}
	return nil
}

// errHostPathNotAllowed marks a hostPath outside this node's
// AllowedHostPaths.
var errHostPathNotAllowed = errors.New("hostPath not allowed on this node")

// checkHostPathAllowed refuses a hostPath outside cfg.AllowedHostPaths,
// before anything is created or mounted. The check is made on the path as
// written and again with symlinks resolved (of the longest part that
// exists, since DirectoryOrCreate creates the rest), so a link under an
// allowed directory cannot lead out of it. The message is the API's
// admission message: an agent with another list may have admitted it.
func (r *Runtime) checkHostPathAllowed(p string) error {
	allowed := r.cfg.AllowedHostPaths
	if !api.HostPathAllowed(p, allowed) {
		return fmt.Errorf("%w: %s", errHostPathNotAllowed, api.HostPathNotAllowed(p, allowed))
	}
	resolved, err := resolveExisting(filepath.Clean(p))
	if err != nil {
		return fmt.Errorf("hostPath %s: resolving symlinks: %w", p, err)
	}
	roots := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if ra, err := filepath.EvalSymlinks(a); err == nil {
			a = ra
		}
		roots = append(roots, a)
	}
	if !api.HostPathAllowed(resolved, roots) {
		return fmt.Errorf("%w: %s (it resolves to %s)", errHostPathNotAllowed, api.HostPathNotAllowed(p, allowed), resolved)
	}
	return nil
}

// resolveExisting resolves the symlinks of the longest leading part of p
// that exists and appends the rest unchanged.
func resolveExisting(p string) (string, error) {
	rest := ""
	for cur := p; ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// setupEmptyDir creates an emptyDir, world-writable as Kubernetes makes it
// so that containers running as any user can use it, and group-owned by
// the pod's fsGroup when it has one.
func (w *podWorker) setupEmptyDir(name string, src *api.EmptyDirVolumeSource) error {
	dir := w.volumeDir(name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if src.Medium != "Memory" {
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
	} else {
		mounted, err := isMountPoint(dir)
		if err != nil {
			return err
		}
		if !mounted {
			var size int64
			if src.SizeLimit != nil {
				size = src.SizeLimit.Value()
			}
			if err := mountTmpfs(dir, size); err != nil {
				return err
			}
		}
	}
	// In a pod with its own user namespace the directory is its root's
	// (the mapped host IDs): what the pod writes there is owned by its
	// mapped IDs on the node, not by the host's root.
	if u := w.st.UserNamespace; u != nil {
		if err := os.Lchown(dir, int(u.hostUID()), int(u.hostGID())); err != nil {
			return err
		}
	}
	// The pod's fsGroup owns it, setgid, as kubelet's SetVolumeOwnership
	// leaves a new emptyDir: what the pod writes there inherits the group.
	// Only the directory itself: this runs before every container start,
	// and what the containers wrote is theirs (and already the group's),
	// so both fsGroupChangePolicy values come to the same.
	if gid := fsGroupOf(w.st.Pod); gid != nil {
		return setOwnership(dir, w.hostGID(*gid), false)
	}
	return nil
}

// errHostPathUserns refuses a hostPath volume in a pod with its own user
// namespace, in kube-apiserver's words.
var errHostPathUserns = errors.New("hostPath volumes are not supported when `hostUsers` is false")

// allocateUserNamespace gives a pod with hostUsers: false its user
// namespace, once, and records it before anything owned by its IDs is
// made.
func (w *podWorker) allocateUserNamespace() error {
	if !api.HostUsersFalse(&w.st.Pod.Spec) || w.st.UserNamespace != nil {
		return nil
	}
	u, err := w.r.userns.allocate(w.uid)
	if err != nil {
		return fmt.Errorf("failed to allocate the pod's user namespace: %w", err)
	}
	w.st.UserNamespace = u
	w.persist()
	w.log.Info("allocated user namespace", "hostID", u.hostUID(), "length", u.UIDMappings[0].Length)
	return nil
}

// hostGID is the node's ID of the pod's group gid: gid itself, or its
// mapping in the pod's user namespace.
func (w *podWorker) hostGID(gid int64) int64 {
	if u := w.st.UserNamespace; u != nil && gid >= 0 && gid < int64(u.GIDMappings[0].Length) {
		return int64(u.hostGID()) + gid
	}
	return gid
}

// setupHostPath applies a hostPath's type as kubelet does.
func setupHostPath(src *api.HostPathVolumeSource) error {
	p := src.Path
	switch api.HostPathTypeOf(src) {
	case hostPathUnset:
		return nil
	case hostPathDirectoryOrCreate:
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("hostPath type check failed: %w", err)
		}
		return checkHostPathType(p, true)
	case hostPathDirectory:
		return checkHostPathType(p, true)
	case hostPathFileOrCreate:
		f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE, 0o644)
		if err == nil {
			f.Close()
		} else if !errors.Is(err, syscall.EISDIR) {
			return fmt.Errorf("hostPath type check failed: %w", err)
		}
		return checkHostPathType(p, false)
	case hostPathFile:
		return checkHostPathType(p, false)
	}
	return fmt.Errorf("hostPath type %q is not supported (use \"\", %s, %s, %s or %s)", api.HostPathTypeOf(src),
		hostPathDirectoryOrCreate, hostPathDirectory, hostPathFileOrCreate, hostPathFile)
}

// checkHostPathType is kubelet's "hostPath type check".
func checkHostPathType(p string, dir bool) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if dir {
				return fmt.Errorf("hostPath type check failed: %s is not a directory", p)
			}
			return fmt.Errorf("hostPath type check failed: %s is not a file", p)
		}
		return fmt.Errorf("hostPath type check failed: %w", err)
	}
	switch {
	case dir && !fi.IsDir():
		return fmt.Errorf("hostPath type check failed: %s is not a directory", p)
	case !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("hostPath type check failed: %s is not a file", p)
	}
	return nil
}

// containerMounts are the bind mounts of a container: the pod's managed
// files, then its volume mounts. A mount with a subPath mounts that path
// of the volume, resolved as kubelet does (see subPathSource); an error
// says which mount could not be prepared.
func (w *podWorker) containerMounts(c *api.Container) ([]mount, error) {
	out := w.managedMounts(c)
	for _, vm := range c.VolumeMounts {
		for _, v := range w.st.Pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			m := mount{Destination: vm.MountPath, ReadOnly: vm.ReadOnly}
			switch {
			case isProjected(&v):
				// Written by the node from the state: read-only in every
				// container, as kubelet mounts them.
				m.Source = w.volumeDir(v.Name)
				m.ReadOnly = true
				m.IDMapped = true
			case v.EmptyDir != nil:
				m.Source = w.volumeDir(v.Name)
			case v.HostPath != nil:
				m.Source = v.HostPath.Path
			default:
				continue
			}
			if vm.SubPath != "" {
				src, err := subPathSource(m.Source, vm.SubPath, !isProjected(&v))
				if err != nil {
					return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: %w", vm.Name, c.Name, err)
				}
				m.Source = src
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// subPathSource is the host path a subPath mount binds: sub inside the
// volume at root, created as a directory (with the volume's mode) when
// missing and the volume is writable, as kubelet does. Symlinks are
// resolved, on the host, and the result must stay inside the volume, so a
// link a container planted (to "/" say) is refused, kubelet's
// "subpath ... not within volume path". A subPath of a configMap or
// secret volume resolves through ..data to the current version's file,
// which is why, as in Kubernetes, it does not see later updates.
func subPathSource(root, sub string, create bool) (string, error) {
	if err := checkSubPath(sub); err != nil {
		return "", err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, sub)
	resolved, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) && create {
		fi, err := os.Stat(root)
		if err != nil {
			return "", err
		}
		// Resolve what exists first, so MkdirAll cannot follow a link out.
		parent, err := resolveExisting(p)
		if err != nil {
			return "", err
		}
		if !within(realRoot, parent) {
			return "", fmt.Errorf("subpath %q not within volume path %q", parent, realRoot)
		}
		if err := os.MkdirAll(parent, fi.Mode().Perm()); err != nil {
			return "", err
		}
		resolved, err = filepath.EvalSymlinks(p)
		if err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	if !within(realRoot, resolved) {
		return "", fmt.Errorf("subpath %q not within volume path %q", resolved, realRoot)
	}
	return resolved, nil
}

// checkSubPath is the API's subPath check again: relative, without "..".
func checkSubPath(sub string) error {
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(sub, "/"), "..") {
		return fmt.Errorf("invalid subPath %q: must be a relative path without '..'", sub)
	}
	return nil
}

// within reports whether p is root or under it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// removePodDir removes the pod's directory: the tmpfs emptyDirs (and any
// other mount found under it) are unmounted first, so that nothing of the
// pod stays mounted and removal never reaches into a mount.
func (r *Runtime) removePodDir(uid string) error {
	if err := checkUID(uid); err != nil {
		return fmt.Errorf("remove directory of pod: %w", err)
	}
	dir := r.podDir(uid)
	if err := unmountUnder(dir); err != nil {
		return fmt.Errorf("unmount volumes of pod %s: %w", uid, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove directory of pod %s: %w", uid, err)
	}
	// Nothing of the pod is left that its IDs own: its range is free.
	r.userns.release(uid)
	return nil
}

func (w *podWorker) removePodDir() error { return w.r.removePodDir(w.uid) }
