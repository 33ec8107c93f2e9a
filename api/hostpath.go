package api

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AllowedHostPathsFlag is the agent flag that lists the host directories
// hostPath volumes may use; errors name it so that a user knows what an
// operator must change.
const AllowedHostPathsFlag = "--allowed-host-paths"

// HostPathAllowed reports whether p is one of allowed or under one of
// them, comparing whole path components after cleaning both: /data/x is
// under /data, /data2 and /data/../etc are not. allowed entries are
// absolute paths (the agent's configuration checks them); an empty list
// allows nothing.
func HostPathAllowed(p string, allowed []string) bool {
	if !path.IsAbs(p) {
		return false
	}
	p = path.Clean(p)
	for _, a := range allowed {
		if !path.IsAbs(a) {
			continue
		}
		a = path.Clean(a)
		if a == "/" || p == a || strings.HasPrefix(p, a+"/") {
			return true
		}
	}
	return false
}

// HostPathNotAllowed is the message for a hostPath outside allowed, the
// same words at admission and on the node that refuses to mount it.
func HostPathNotAllowed(p string, allowed []string) string {
	list := "empty: hostPath volumes are disabled"
	if len(allowed) > 0 {
		list = strings.Join(allowed, ", ")
	}
	return fmt.Sprintf("%s is not under any of the agent's %s (%s)", p, AllowedHostPathsFlag, list)
}

// validateHostPaths forbids every hostPath volume of spec whose path is
// not under allowed.
func validateHostPaths(spec *PodSpec, fld *field.Path, allowed []string) field.ErrorList {
	var errs field.ErrorList
	for i, v := range spec.Volumes {
		if v.HostPath == nil || HostPathAllowed(v.HostPath.Path, allowed) {
			continue
		}
		errs = append(errs, field.Forbidden(fld.Child("volumes").Index(i).Child("hostPath", "path"),
			HostPathNotAllowed(v.HostPath.Path, allowed)))
	}
	return errs
}

// ValidatePodHostPaths refuses a pod with a hostPath volume outside the
// receiving agent's --allowed-host-paths, with a 422 naming the field and
// the flag:
//
//	Pod "p" is invalid: spec.volumes[0].hostPath.path: Forbidden: /etc is not under any of the agent's --allowed-host-paths (empty: hostPath volumes are disabled)
//
// A hostPath is the host's filesystem inside a container (hostPath "/" is
// root on the host), so, as Nomad does with host volumes, gossipod allows
// none unless the operator lists where. The rule is per agent, so it is
// checked at admission and again by the runtime of the node that would
// mount the path, never by the FSM.
func ValidatePodHostPaths(p *Pod, allowed []string) error {
	if errs := validateHostPaths(&p.Spec, field.NewPath("spec"), allowed); len(errs) > 0 {
		return newInvalid("Pod", p.Name, errs)
	}
	return nil
}

// ValidateDeploymentHostPaths is ValidatePodHostPaths for a Deployment's
// pod template, reported under spec.template.spec.
func ValidateDeploymentHostPaths(d *Deployment, allowed []string) error {
	if errs := validateHostPaths(&d.Spec.Template.Spec, field.NewPath("spec", "template", "spec"), allowed); len(errs) > 0 {
		return newInvalid("Deployment", d.Name, errs)
	}
	return nil
}
