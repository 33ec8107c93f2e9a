package runtime

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
)

// securitySpec is what the pod's and the container's securityContext, with
// the image's USER, make of a container's process (see
// container.ContainerSpec for each field's meaning there).
type securitySpec struct {
	// User is the image config's USER syntax: runAsUser and runAsGroup
	// when set, over the image's USER.
	User                     string
	SupplementalGroups       []int64
	StrictSupplementalGroups bool
	ReadOnlyRootfs           bool
	Privileged               bool
	CapAdd, CapDrop          []string
	NoNewPrivileges          bool
	Sysctls                  map[string]string
}

// effectiveSecurityContext is kubelet's DetermineEffectiveSecurityContext:
// the container's securityContext with the pod's runAsUser, runAsGroup,
// runAsNonRoot, seccompProfile and appArmorProfile where the container
// sets none. Never nil.
func effectiveSecurityContext(pod *api.Pod, c *api.Container) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{}
	if c.SecurityContext != nil {
		sc = c.SecurityContext.DeepCopy()
	}
	psc := pod.Spec.SecurityContext
	if psc == nil {
		return sc
	}
	if sc.RunAsUser == nil {
		sc.RunAsUser = psc.RunAsUser
	}
	if sc.RunAsGroup == nil {
		sc.RunAsGroup = psc.RunAsGroup
	}
	if sc.RunAsNonRoot == nil {
		sc.RunAsNonRoot = psc.RunAsNonRoot
	}
	if sc.SeccompProfile == nil {
		sc.SeccompProfile = psc.SeccompProfile
	}
	if sc.AppArmorProfile == nil {
		sc.AppArmorProfile = psc.AppArmorProfile
	}
	return sc
}

// containerSecurity builds a container's securitySpec as kubelet's
// determineEffectiveSecurityContext and containerd's CRI plugin do, and
// refuses a container that runAsNonRoot forbids (kubelet's
// verifyRunAsNonRoot, a CreateContainerConfigError).
func containerSecurity(pod *api.Pod, c *api.Container, imageUser string) (securitySpec, error) {
	sc := effectiveSecurityContext(pod, c)
	if err := verifyRunAsNonRoot(pod, c, sc, imageUser); err != nil {
		return securitySpec{}, &configError{err: err}
	}
	var s securitySpec
	s.User = userString(sc, imageUser)
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.FSGroup != nil {
			s.SupplementalGroups = append(s.SupplementalGroups, *psc.FSGroup)
		}
		s.SupplementalGroups = append(s.SupplementalGroups, psc.SupplementalGroups...)
		s.StrictSupplementalGroups = psc.SupplementalGroupsPolicy != nil &&
			*psc.SupplementalGroupsPolicy == corev1.SupplementalGroupsPolicyStrict
		for _, sysctl := range psc.Sysctls {
			if s.Sysctls == nil {
				s.Sysctls = map[string]string{}
			}
			s.Sysctls[api.NormalizeSysctl(sysctl.Name)] = sysctl.Value
		}
	}
	s.Privileged = sc.Privileged != nil && *sc.Privileged
	s.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
	// kubelet's AddNoNewPrivileges: only an explicit false sets it.
	s.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if caps := sc.Capabilities; caps != nil {
		for _, c := range caps.Add {
			s.CapAdd = append(s.CapAdd, string(c))
		}
		for _, c := range caps.Drop {
			s.CapDrop = append(s.CapDrop, string(c))
		}
	}
	return s, nil
}

// userString merges runAsUser and runAsGroup over the image's USER: the
// user is runAsUser, else the image's; the group runAsGroup, else the
// image's group when the user is the image's too.
func userString(sc *corev1.SecurityContext, imageUser string) string {
	user, group, _ := strings.Cut(imageUser, ":")
	if sc.RunAsUser != nil {
		user, group = strconv.FormatInt(*sc.RunAsUser, 10), ""
	}
	if sc.RunAsGroup != nil {
		group = strconv.FormatInt(*sc.RunAsGroup, 10)
		if user == "" {
			user = "0"
		}
	}
	if group == "" {
		return user
	}
	return user + ":" + group
}

// verifyRunAsNonRoot is kubelet's check, with its messages: with
// runAsNonRoot, a runAsUser of 0, an image whose USER is root (or unset),
// or an image whose USER is a name (which cannot be checked before the
// container runs) are refused.
func verifyRunAsNonRoot(pod *api.Pod, c *api.Container, sc *corev1.SecurityContext, imageUser string) error {
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	podName := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID) // kubelet's format.Pod
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podName, c.Name)
		}
		return nil
	}
	// containerd's getUserFromImage: the user part of USER, a uid or a name.
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		user = "0" // no USER: root
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, podName, c.Name)
	case uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podName, c.Name)
	}
	return nil
}

// fsGroupOf is the pod's fsGroup, nil without one.
func fsGroupOf(pod *api.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}

// The modes kubelet's SetVolumeOwnership adds for the fsGroup: read and
// write for the group (read only on the read-only kinds: configMap,
// secret, downwardAPI, projected), search and setgid on directories, so
// that what the pod creates there stays in the group.
const (
	fsGroupRW   fs.FileMode = 0o660
	fsGroupRO   fs.FileMode = 0o440
	fsGroupExec fs.FileMode = 0o110
)

// setVolumeOwnership gives the volume at dir to the pod's fsGroup as
// kubelet's SetVolumeOwnership: every file and directory's group becomes
// gid (links are not followed), with the group modes above added.
func setVolumeOwnership(dir string, gid int64, readOnly bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return os.Lchown(p, -1, int(gid))
		}
		return setOwnership(p, gid, readOnly)
	})
}

// setOwnership gives one file or directory (not a link) to gid, with the
// group modes added.
func setOwnership(p string, gid int64, readOnly bool) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if err := os.Lchown(p, -1, int(gid)); err != nil {
		return err
	}
	mode := info.Mode() | fsGroupRW
	if readOnly {
		mode = info.Mode() | fsGroupRO
	}
	if info.IsDir() {
		mode |= fs.ModeSetgid | fsGroupExec
	}
	return os.Chmod(p, mode)
}
