package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/component-helpers/node/util/sysctl"
)

// PodSecurityContext is a pod's securityContext. gossipod implements
// runAsUser, runAsGroup, runAsNonRoot, fsGroup (volume ownership and a
// supplementary group), fsGroupChangePolicy (accepted: the volumes
// gossipod owns are new, so both policies come to the same),
// supplementalGroups, supplementalGroupsPolicy, sysctls (the safe set
// only, see SafeSysctls), seccompProfile and appArmorProfile; not
// seLinuxOptions, seLinuxChangePolicy nor windowsOptions.
type PodSecurityContext = corev1.PodSecurityContext

// SecurityContext is a container's securityContext. gossipod implements
// runAsUser, runAsGroup, runAsNonRoot, readOnlyRootFilesystem,
// allowPrivilegeEscalation, capabilities, privileged, procMount (Default;
// not Unmasked, which Kubernetes allows with hostUsers: false only),
// seccompProfile and appArmorProfile; not seLinuxOptions nor
// windowsOptions.
type SecurityContext = corev1.SecurityContext

// SafeSysctls are kubelet's safe sysctls: namespaced, so that setting one
// in a pod cannot affect another pod or the node. A pod may set these and
// no other (kubelet's --allowed-unsafe-sysctls is not implemented).
var SafeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

// NormalizeSysctl writes a sysctl name with dots, as kubelet's
// NormalizeName: "net/ipv4/ip_local_port_range" is
// "net.ipv4.ip_local_port_range" (in the slash form a dot belongs to a
// name, an interface's say, and becomes a slash).
func NormalizeSysctl(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

// validatePodSecurity checks the pod-level securityContext and the host
// namespace fields as kube-apiserver's ValidatePodSecurityContext does,
// and refuses what gossipod does not implement: unsafe sysctls.
// hostNetwork, hostPID, hostIPC and hostUsers: false are implemented (see
// the runtime); Pod Security admission keeps the host namespaces out of
// baseline namespaces.
func validatePodSecurity(spec *PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.HostPID && spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace {
		// kubelet would give hostPID the win; the API refuses the pair.
		errs = append(errs, field.Invalid(fld.Child("shareProcessNamespace"), true, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	errs = append(errs, validateHostUsers(spec, fld)...)
	sc := spec.SecurityContext
	if sc == nil {
		return errs
	}
	fld = fld.Child("securityContext")
	errs = append(errs, validateIDs(sc.RunAsUser, sc.RunAsGroup, fld)...)
	if sc.FSGroup != nil {
		for _, msg := range validation.IsValidGroupID(*sc.FSGroup) {
			errs = append(errs, field.Invalid(fld.Child("fsGroup"), *sc.FSGroup, msg))
		}
	}
	for i, g := range sc.SupplementalGroups {
		for _, msg := range validation.IsValidGroupID(g) {
			errs = append(errs, field.Invalid(fld.Child("supplementalGroups").Index(i), g, msg))
		}
	}
	if p := sc.FSGroupChangePolicy; p != nil {
		valid := []corev1.PodFSGroupChangePolicy{corev1.FSGroupChangeOnRootMismatch, corev1.FSGroupChangeAlways}
		if !slices.Contains(valid, *p) {
			errs = append(errs, field.NotSupported(fld.Child("fsGroupChangePolicy"), *p, valid))
		}
	}
	if p := sc.SupplementalGroupsPolicy; p != nil {
		valid := []corev1.SupplementalGroupsPolicy{corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict}
		if !slices.Contains(valid, *p) {
			errs = append(errs, field.NotSupported(fld.Child("supplementalGroupsPolicy"), *p, valid))
		}
	}
	errs = append(errs, validateSysctls(sc.Sysctls, fld.Child("sysctls"))...)
	for i, s := range sc.Sysctls {
		if err := validateHostSysctl(s.Name, spec, fld.Child("sysctls").Index(i).Child("name")); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, fld.Child("seccompProfile"))...)
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, fld.Child("appArmorProfile"))...)
	return errs
}

// HostUsersFalse reports whether a pod asks for a user namespace of its
// own (spec.hostUsers: false): its containers' root is then an
// unprivileged user on the node, with IDs the node allocates for the pod.
func HostUsersFalse(spec *PodSpec) bool {
	return spec.HostUsers != nil && !*spec.HostUsers
}

// validateHostUsers checks what depends on spec.hostUsers, as
// kube-apiserver's validateHostUsers does: with hostUsers: false, no host
// network, PID or IPC namespace ("when `hostUsers` is false"). gossipod
// adds hostPath volumes, which Kubernetes 1.25 and 1.26 refused there too:
// the node's files are the node's root's, not the pod's, so a pod's root
// sees them as nobody's and writes to them as nobody. And procMount
// Unmasked, which Kubernetes allows only with hostUsers: false, is
// refused in every pod, with kube-apiserver's message where hostUsers is
// not false and gossipod's where it is.
func validateHostUsers(spec *PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	userns := HostUsersFalse(spec)
	if userns {
		for _, f := range []struct {
			name string
			set  bool
		}{{"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}, {"hostIPC", spec.HostIPC}} {
			if f.set {
				errs = append(errs, field.Forbidden(fld.Child(f.name), "when `hostUsers` is false"))
			}
		}
		for i, v := range spec.Volumes {
			if v.HostPath != nil {
				errs = append(errs, field.Forbidden(fld.Child("volumes").Index(i).Child("hostPath"), "when `hostUsers` is false"))
			}
		}
	}
	for _, list := range []struct {
		name string
		cs   []Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, c := range list.cs {
			if c.SecurityContext == nil || c.SecurityContext.ProcMount == nil || *c.SecurityContext.ProcMount != corev1.UnmaskedProcMount {
				continue
			}
			pm := fld.Child(list.name).Index(i).Child("securityContext", "procMount")
			if userns {
				errs = append(errs, field.Forbidden(pm, "gossipod does not implement `Unmasked` yet"))
			} else {
				errs = append(errs, field.Invalid(pm, corev1.UnmaskedProcMount, "`hostUsers` must be false to use `Unmasked`"))
			}
		}
	}
	return errs
}

// validateIDs checks runAsUser and runAsGroup (IsValidUserID,
// IsValidGroupID: 0 to 2147483647).
func validateIDs(uid, gid *int64, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if uid != nil {
		for _, msg := range validation.IsValidUserID(*uid) {
			errs = append(errs, field.Invalid(fld.Child("runAsUser"), *uid, msg))
		}
	}
	if gid != nil {
		for _, msg := range validation.IsValidGroupID(*gid) {
			errs = append(errs, field.Invalid(fld.Child("runAsGroup"), *gid, msg))
		}
	}
	return errs
}

// validateSysctls checks names as kube-apiserver's validateSysctls (set,
// each once) and refuses any but the safe ones, with kubelet's words for
// the refusal it would make on the node (SysctlForbidden).
func validateSysctls(sysctls []corev1.Sysctl, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, s := range sysctls {
		name := fld.Index(i).Child("name")
		n := NormalizeSysctl(s.Name)
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(name, ""))
		case seen[n]:
			errs = append(errs, field.Duplicate(name, s.Name))
		case !slices.Contains(SafeSysctls, n):
			errs = append(errs, field.Forbidden(name, fmt.Sprintf("forbidden sysctl: %q not allowlisted; the allowed sysctls are %s",
				s.Name, strings.Join(SafeSysctls, ", "))))
		}
		seen[n] = true
	}
	return errs
}

// validateHostSysctl is kube-apiserver's ValidateHostSysctl: a namespaced
// sysctl of a namespace the pod shares with the node would change the
// node's own setting, so a pod on the host's network may set no net.*
// sysctl, nor one on the host's IPC namespace an IPC one (kernel.shm*,
// fs.mqueue.*...), the namespaces as kubelet sorts them.
func validateHostSysctl(name string, spec *PodSpec, fld *field.Path) *field.Error {
	ns, _, _ := sysctl.GetNamespace(name)
	switch {
	case spec.HostNetwork && ns == sysctl.NetNamespace:
		return field.Invalid(fld, name, "may not be specified when 'hostNetwork' is true")
	case spec.HostIPC && ns == sysctl.IPCNamespace:
		return field.Invalid(fld, name, "may not be specified when 'hostIPC' is true")
	}
	return nil
}

// validateSeccompProfile is kube-apiserver's validateSeccompProfileField.
func validateSeccompProfile(p *corev1.SeccompProfile, fld *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	valid := []corev1.SeccompProfileType{corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined, corev1.SeccompProfileTypeLocalhost}
	return validateProfile(string(p.Type), p.LocalhostProfile, p.Type == corev1.SeccompProfileTypeLocalhost, "seccomp", valid, fld)
}

// validateAppArmorProfile is kube-apiserver's validateAppArmorProfileField.
func validateAppArmorProfile(p *corev1.AppArmorProfile, fld *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	valid := []corev1.AppArmorProfileType{corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined, corev1.AppArmorProfileTypeLocalhost}
	var errs field.ErrorList
	if p.Type == corev1.AppArmorProfileTypeLocalhost && p.LocalhostProfile != nil {
		const maxLocalhostProfileLength = 4095 // PATH_MAX - 1
		lp := *p.LocalhostProfile
		if len(lp) > maxLocalhostProfileLength {
			errs = append(errs, field.TooLong(fld.Child("localhostProfile"), "", maxLocalhostProfileLength))
		}
		if strings.TrimSpace(lp) != lp {
			errs = append(errs, field.Invalid(fld.Child("localhostProfile"), lp, "must not be padded with whitespace"))
		}
	}
	return append(errs, validateProfile(string(p.Type), p.LocalhostProfile, p.Type == corev1.AppArmorProfileTypeLocalhost, "AppArmor", valid, fld)...)
}

// validateProfile checks a seccomp or AppArmor profile: a known type, and
// localhostProfile set (non-empty) exactly when the type is Localhost.
func validateProfile[T ~string](typ string, localhost *string, isLocalhost bool, what string, valid []T, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case typ == "":
		errs = append(errs, field.Required(fld.Child("type"), ""))
	case !slices.Contains(valid, T(typ)):
		errs = append(errs, field.NotSupported(fld.Child("type"), typ, valid))
	}
	switch {
	case isLocalhost && (localhost == nil || *localhost == ""):
		errs = append(errs, field.Required(fld.Child("localhostProfile"), fmt.Sprintf("must be set when %s type is Localhost", what)))
	case !isLocalhost && localhost != nil:
		errs = append(errs, field.Invalid(fld.Child("localhostProfile"), *localhost, fmt.Sprintf("can only be set when %s type is Localhost", what)))
	}
	if isLocalhost && localhost != nil && what == "seccomp" {
		// validateLocalDescendingPath: a path under the node's profile
		// directory.
		lp := *localhost
		if strings.HasPrefix(lp, "/") {
			errs = append(errs, field.Invalid(fld.Child("localhostProfile"), lp, "must be a relative path"))
		}
		if slices.Contains(strings.Split(lp, "/"), "..") {
			errs = append(errs, field.Invalid(fld.Child("localhostProfile"), lp, "must not contain '..'"))
		}
	}
	return errs
}

// knownCapability reports whether name (NET_RAW, net_raw or CAP_NET_RAW)
// is a Linux capability.
func knownCapability(name string) bool {
	n := strings.TrimPrefix(strings.ToLower(name), "cap_")
	for _, c := range capability.ListKnown() {
		if c.String() == n {
			return true
		}
	}
	return false
}

// validateSecurityContext checks a container's securityContext as
// kube-apiserver's ValidateSecurityContext does, and also refuses
// capability names that no kernel knows (the runtime would fail to start
// the container with "unknown capability"). procMount Unmasked depends on
// the pod's hostUsers: validateHostUsers checks it.
func validateSecurityContext(sc *SecurityContext, fld *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	fld = fld.Child("securityContext")
	errs := validateIDs(sc.RunAsUser, sc.RunAsGroup, fld)
	if caps := sc.Capabilities; caps != nil {
		for _, list := range []struct {
			name string
			caps []corev1.Capability
		}{{"add", caps.Add}, {"drop", caps.Drop}} {
			for i, c := range list.caps {
				if !strings.EqualFold(string(c), "ALL") && !knownCapability(string(c)) {
					errs = append(errs, field.Invalid(fld.Child("capabilities", list.name).Index(i), c, "unknown capability"))
				}
			}
		}
	}
	if pm := sc.ProcMount; pm != nil {
		switch *pm {
		case corev1.DefaultProcMount, corev1.UnmaskedProcMount:
		default:
			errs = append(errs, field.NotSupported(fld.Child("procMount"), *pm, []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}))
		}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(fld, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil && slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool {
			return strings.EqualFold(strings.TrimPrefix(strings.ToUpper(string(c)), "CAP_"), "SYS_ADMIN")
		}) {
			errs = append(errs, field.Invalid(fld, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
		}
	}
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, fld.Child("seccompProfile"))...)
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, fld.Child("appArmorProfile"))...)
	return errs
}
