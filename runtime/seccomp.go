package runtime

import (
	"fmt"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/apparmor"
	"github.com/gossipod/gossipod/runtime/seccompprofile"
)

// seccompSpec is a resolved seccomp profile: RuntimeDefault, or a
// Localhost profile already read from the node, or neither (Unconfined).
type seccompSpec struct {
	RuntimeDefault bool
	Localhost      *specs.LinuxSeccomp
}

// seccompProfileOf is the seccompProfile that applies to a container, as
// kubelet's getSeccompProfile picks it: the container's, else the pod's;
// nil when neither sets one. A nil container gives the pod's, the
// sandbox's (kubelet's generatePodSandboxLinuxConfig).
func seccompProfileOf(pod *api.Pod, c *api.Container) *corev1.SeccompProfile {
	if c != nil && c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		return c.SecurityContext.SeccompProfile
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.SeccompProfile
	}
	return nil
}

// privileged reports securityContext.privileged of a container.
func privileged(c *api.Container) bool {
	return c != nil && c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// seccompFor resolves the seccomp profile of container c of pod (nil c:
// the pod's sandbox):
//   - a privileged container is Unconfined whatever it asks, as containerd
//     does (its generateSeccompSpecOpts);
//   - else the container's seccompProfile, else the pod's;
//   - else RuntimeDefault when the agent's --seccomp-default is on (the
//     default: Docker's behaviour, which kubelet has with --seccomp-default),
//     Unconfined when it is off (kubelet's own default);
//   - Localhost reads <--seccomp-profile-root>/<localhostProfile>.
//
// Any error is a configError: the container waits with
// CreateContainerConfigError, and is retried, until the profile can be
// read. A binary without seccomp support refuses every profile but
// Unconfined when the container is created (runtime/container), rather
// than start it unconfined; the agent refuses to start such a binary with
// --seccomp-default on.
func (c Config) seccompFor(pod *api.Pod, ctr *api.Container) (seccompSpec, error) {
	if privileged(ctr) {
		return seccompSpec{}, nil
	}
	p := seccompProfileOf(pod, ctr)
	typ := corev1.SeccompProfileTypeUnconfined
	switch {
	case p != nil:
		typ = p.Type
	case c.SeccompDefault:
		typ = corev1.SeccompProfileTypeRuntimeDefault
	}
	var s seccompSpec
	switch typ {
	case corev1.SeccompProfileTypeUnconfined:
		return s, nil
	case corev1.SeccompProfileTypeRuntimeDefault:
		s.RuntimeDefault = true
	case corev1.SeccompProfileTypeLocalhost:
		name := ""
		if p.LocalhostProfile != nil {
			name = *p.LocalhostProfile
		}
		prof, err := seccompprofile.LoadLocalhost(c.SeccompProfileRoot, name)
		if err != nil {
			return s, &configError{err: fmt.Errorf("failed to generate seccomp profile: %w", err)}
		}
		s.Localhost = prof
	default:
		return s, &configError{err: fmt.Errorf("failed to generate seccomp profile: unsupported seccomp profile type %q", typ)}
	}
	return s, nil
}

// appArmorAnnotationPrefix is the annotation kubelet still reads a
// container's AppArmor profile from when its securityContext has none
// (deprecated since Kubernetes 1.30): runtime/default, localhost/<name> or
// unconfined.
const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// appArmorProfileOf is the appArmorProfile that applies to a container, as
// kubelet picks it: the container's, else the pod's, else the deprecated
// annotation; nil when none is set.
func appArmorProfileOf(pod *api.Pod, c *api.Container) *corev1.AppArmorProfile {
	if c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
		return c.SecurityContext.AppArmorProfile
	}
	if pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.AppArmorProfile != nil {
		return pod.Spec.SecurityContext.AppArmorProfile
	}
	v, ok := pod.Annotations[appArmorAnnotationPrefix+c.Name]
	switch {
	case !ok:
		return nil
	case v == "runtime/default":
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case v == "unconfined":
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case strings.HasPrefix(v, "localhost/"):
		name := strings.TrimPrefix(v, "localhost/")
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileType(v)} // refused below
}

// appArmorFor resolves the AppArmor profile container c runs under, as
// containerd's CRI does (GenerateApparmorSpecOpts): on a host without
// AppArmor, none, and a profile other than Unconfined is refused ("apparmor
// is not supported"); with AppArmor, RuntimeDefault unless the pod chooses
// (kubernetes#51746), the generated gossipod-default profile, loaded the
// first time, none for a privileged container; Localhost, the named
// profile, which must be loaded; Unconfined, none. The result is a profile
// name for libcontainer, empty for none. Errors are configErrors.
func appArmorFor(host apparmor.Host, pod *api.Pod, c *api.Container) (string, error) {
	p := appArmorProfileOf(pod, c)
	fail := func(err error) (string, error) {
		return "", &configError{err: fmt.Errorf("failed to generate apparmor spec opts: %w", err)}
	}
	if !host.Enabled {
		if p != nil && p.Type != corev1.AppArmorProfileTypeUnconfined {
			return fail(fmt.Errorf("%w: AppArmor is not enabled on the host", apparmor.ErrNotSupported))
		}
		return "", nil
	}
	typ := corev1.AppArmorProfileTypeRuntimeDefault
	if p != nil {
		typ = p.Type
	}
	switch typ {
	case corev1.AppArmorProfileTypeUnconfined:
		return "", nil
	case corev1.AppArmorProfileTypeRuntimeDefault:
		if privileged(c) {
			return "", nil
		}
		if err := host.LoadDefault(apparmor.DefaultProfileName); err != nil {
			return fail(err)
		}
		return apparmor.DefaultProfileName, nil
	case corev1.AppArmorProfileTypeLocalhost:
		name := ""
		if p.LocalhostProfile != nil {
			name = *p.LocalhostProfile
		}
		ok, err := host.Loaded(name)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fmt.Errorf("apparmor profile not found %s", name))
		}
		return name, nil
	}
	return fail(fmt.Errorf("apparmor unknown ProfileType %q", typ))
}
