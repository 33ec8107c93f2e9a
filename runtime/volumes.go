package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gossipod/gossipod/api"
)

// The pod's directory, Root/pods/<uid>, holds everything of the pod that
// is the runtime's (the container side lives under Root/containers):
//
//	pod.json                       the pod record (spec, restart counts, statuses)
//	volumes/<name>/                an emptyDir (a tmpfs for medium Memory)
//	logs/<container>/<n>.log       the n-th instance's stdout and stderr
func (r *Runtime) podDir(uid string) string { return filepath.Join(r.cfg.podsDir(), uid) }

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
	if err := w.writeManagedFiles(); err != nil {
		return fmt.Errorf("writing the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf: %w", err)
	}
	for _, v := range w.st.Pod.Spec.Volumes {
		var err error
		switch {
		case v.EmptyDir != nil:
			err = w.setupEmptyDir(v.Name, v.EmptyDir)
		case v.HostPath != nil:
			err = setupHostPath(v.HostPath)
		default:
			err = errors.New("no volume source set")
		}
		if err != nil {
			return fmt.Errorf("MountVolume.SetUp failed for volume %q : %w", v.Name, err)
		}
	}
	return nil
}

// setupEmptyDir creates an emptyDir, world-writable as Kubernetes makes it
// so that containers running as any user can use it.
func (w *podWorker) setupEmptyDir(name string, src *api.EmptyDirVolumeSource) error {
	dir := w.volumeDir(name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if src.Medium != "Memory" {
		return os.Chmod(dir, 0o777)
	}
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	var size int64
	if src.SizeLimit != nil {
		size = src.SizeLimit.Value()
	}
	return mountTmpfs(dir, size)
}

// setupHostPath applies a hostPath's type as kubelet does.
func setupHostPath(src *api.HostPathVolumeSource) error {
	p := src.Path
	switch src.Type {
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
	return fmt.Errorf("hostPath type %q is not supported (use \"\", %s, %s, %s or %s)", src.Type,
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
// files, then its volume mounts.
func (w *podWorker) containerMounts(c *api.Container) []mount {
	out := w.managedMounts(c)
	for _, vm := range c.VolumeMounts {
		for _, v := range w.st.Pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			m := mount{Destination: vm.MountPath, ReadOnly: vm.ReadOnly}
			switch {
			case v.EmptyDir != nil:
				m.Source = w.volumeDir(v.Name)
			case v.HostPath != nil:
				m.Source = v.HostPath.Path
			default:
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

// removePodDir removes the pod's directory: the tmpfs emptyDirs (and any
// other mount found under it) are unmounted first, so that nothing of the
// pod stays mounted and removal never reaches into a mount.
func (r *Runtime) removePodDir(uid string) error {
	dir := r.podDir(uid)
	if err := unmountUnder(dir); err != nil {
		return fmt.Errorf("unmount volumes of pod %s: %w", uid, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove directory of pod %s: %w", uid, err)
	}
	return nil
}

func (w *podWorker) removePodDir() error { return w.r.removePodDir(w.uid) }
