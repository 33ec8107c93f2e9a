package api

import (
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The volume sources whose files the runtime writes from the replicated
// state (kubelet's "projected" family): configMap, secret, downwardAPI and
// projected. Their items map keys (or downward API fields) to relative
// paths inside the volume.
type (
	// ConfigMapVolumeSource projects a ConfigMap's keys as files.
	ConfigMapVolumeSource = corev1.ConfigMapVolumeSource
	// SecretVolumeSource projects a Secret's keys as files, on a tmpfs.
	SecretVolumeSource = corev1.SecretVolumeSource
	// DownwardAPIVolumeSource projects the pod's own fields as files.
	DownwardAPIVolumeSource = corev1.DownwardAPIVolumeSource
	// ProjectedVolumeSource merges several sources into one directory.
	ProjectedVolumeSource = corev1.ProjectedVolumeSource
	// KeyToPath maps one key to a file path (and mode).
	KeyToPath = corev1.KeyToPath
	// DownwardAPIVolumeFile is one file of a downwardAPI volume.
	DownwardAPIVolumeFile = corev1.DownwardAPIVolumeFile
)

// MaxFileMode is the largest mode a projected file may have, kube-apiserver's
// 0777: no setuid, setgid or sticky bits on files the node writes.
const MaxFileMode = 0o777

// fileModeErrorMsg is kube-apiserver's wording for a mode out of range.
const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// DownwardAPIVolumeFieldPaths are the pod fields a downwardAPI volume file
// may hold (kube-apiserver's validVolumeDownwardAPIFieldPathExpressions).
var DownwardAPIVolumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.labels",
	"metadata.annotations", "metadata.uid"}

// ContainerResourceFieldPaths are the resources a resourceFieldRef may
// name (kube-apiserver's validContainerResourceFieldPathExpressions).
var ContainerResourceFieldPaths = []string{"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage"}

// validateProjectedSources validates the configMap, secret, downwardAPI
// and projected sources of a volume; n counts the sources set so far, for
// the "more than 1 volume type" check.
func validateProjectedSources(src *VolumeSource, fld *field.Path, n *int) field.ErrorList {
	var errs field.ErrorList
	one := func(name string) {
		if *n > 0 {
			errs = append(errs, field.Forbidden(fld.Child(name), "may not specify more than 1 volume type"))
		}
		*n++
	}
	if s := src.ConfigMap; s != nil {
		one("configMap")
		errs = append(errs, validateConfigMapVolumeSource(s, fld.Child("configMap"))...)
	}
	if s := src.Secret; s != nil {
		one("secret")
		errs = append(errs, validateSecretVolumeSource(s, fld.Child("secret"))...)
	}
	if s := src.DownwardAPI; s != nil {
		one("downwardAPI")
		errs = append(errs, validateDownwardAPIVolumeSource(s, fld.Child("downwardAPI"))...)
	}
	if s := src.Projected; s != nil {
		one("projected")
		errs = append(errs, validateProjectedVolumeSource(s, fld.Child("projected"))...)
	}
	return errs
}

func validateMode(mode *int32, fld *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > MaxFileMode) {
		return field.ErrorList{field.Invalid(fld, *mode, fileModeErrorMsg)}
	}
	return nil
}

// validateConfigMapVolumeSource is kube-apiserver's.
func validateConfigMapVolumeSource(s *ConfigMapVolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	errs = append(errs, validateMode(s.DefaultMode, fld.Child("defaultMode"))...)
	for i := range s.Items {
		errs = append(errs, validateKeyToPath(&s.Items[i], fld.Child("items").Index(i))...)
	}
	return errs
}

// validateSecretVolumeSource is kube-apiserver's.
func validateSecretVolumeSource(s *SecretVolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.SecretName == "" {
		errs = append(errs, field.Required(fld.Child("secretName"), ""))
	}
	errs = append(errs, validateMode(s.DefaultMode, fld.Child("defaultMode"))...)
	for i := range s.Items {
		errs = append(errs, validateKeyToPath(&s.Items[i], fld.Child("items").Index(i))...)
	}
	return errs
}

// validateKeyToPath is kube-apiserver's: a key, a relative path that does
// not climb out of the volume, a mode in range.
func validateKeyToPath(kp *KeyToPath, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if kp.Key == "" {
		errs = append(errs, field.Required(fld.Child("key"), ""))
	}
	if kp.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(kp.Path, fld.Child("path"))...)
	return append(errs, validateMode(kp.Mode, fld.Child("mode"))...)
}

// validateLocalDescendingPath is kube-apiserver's: a relative path with no
// '..' element, so it stays inside the volume.
func validateLocalDescendingPath(p string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(p) {
		errs = append(errs, field.Invalid(fld, p, "must be a relative path"))
	}
	for _, item := range strings.Split(p, "/") {
		if item == ".." {
			errs = append(errs, field.Invalid(fld, p, "must not contain '..'"))
			break
		}
	}
	return errs
}

// validateLocalNonReservedPath also refuses a leading "..": the volume's
// own ..data and ..<timestamp> entries are the atomic writer's.
func validateLocalNonReservedPath(p string, fld *field.Path) field.ErrorList {
	errs := validateLocalDescendingPath(p, fld)
	if strings.HasPrefix(p, "..") {
		errs = append(errs, field.Invalid(fld, p, "must not start with '..'"))
	}
	return errs
}

// validateDownwardAPIVolumeSource is kube-apiserver's.
func validateDownwardAPIVolumeSource(s *DownwardAPIVolumeSource, fld *field.Path) field.ErrorList {
	errs := validateMode(s.DefaultMode, fld.Child("defaultMode"))
	for i := range s.Items {
		errs = append(errs, validateDownwardAPIVolumeFile(&s.Items[i], fld.Child("items").Index(i))...)
	}
	return errs
}

func validateDownwardAPIVolumeFile(f *DownwardAPIVolumeFile, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(f.Path, fld.Child("path"))...)
	switch {
	case f.FieldRef != nil && f.ResourceFieldRef != nil:
		errs = append(errs, field.Invalid(fld, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
	case f.FieldRef != nil:
		errs = append(errs, validateVolumeFieldRef(f.FieldRef, fld.Child("fieldRef"))...)
	case f.ResourceFieldRef != nil:
		rf := fld.Child("resourceFieldRef")
		if f.ResourceFieldRef.ContainerName == "" {
			errs = append(errs, field.Required(rf.Child("containerName"), ""))
		}
		errs = append(errs, validateResourceFieldRef(f.ResourceFieldRef, rf)...)
	default:
		errs = append(errs, field.Required(fld, "one of fieldRef and resourceFieldRef is required"))
	}
	return append(errs, validateMode(f.Mode, fld.Child("mode"))...)
}

// validateVolumeFieldRef checks a downwardAPI volume's fieldRef: one of
// DownwardAPIVolumeFieldPaths, apiVersion v1 (the default).
func validateVolumeFieldRef(r *corev1.ObjectFieldSelector, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.APIVersion != "" && r.APIVersion != "v1" {
		errs = append(errs, field.NotSupported(fld.Child("apiVersion"), r.APIVersion, []string{"v1"}))
	}
	switch {
	case r.FieldPath == "":
		errs = append(errs, field.Required(fld.Child("fieldPath"), ""))
	case !slices.Contains(DownwardAPIVolumeFieldPaths, r.FieldPath):
		errs = append(errs, field.NotSupported(fld.Child("fieldPath"), r.FieldPath, DownwardAPIVolumeFieldPaths))
	}
	return errs
}

// validateResourceFieldRef checks a resourceFieldRef: a known resource and
// a positive divisor that suits it, as kube-apiserver does.
func validateResourceFieldRef(r *corev1.ResourceFieldSelector, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case r.Resource == "":
		errs = append(errs, field.Required(fld.Child("resource"), ""))
	case !slices.Contains(ContainerResourceFieldPaths, r.Resource):
		errs = append(errs, field.NotSupported(fld.Child("resource"), r.Resource, ContainerResourceFieldPaths))
	}
	if !r.Divisor.IsZero() {
		valid := []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
		if strings.HasSuffix(r.Resource, ".cpu") {
			valid = []string{"1m", "1"}
		}
		if !slices.Contains(valid, r.Divisor.String()) {
			errs = append(errs, field.Invalid(fld.Child("divisor"), r.Divisor.String(),
				fmt.Sprintf("only divisor's values %s are supported with the %s resource", strings.Join(valid, ", "), strings.TrimPrefix(strings.TrimPrefix(r.Resource, "limits."), "requests."))))
		}
	}
	return errs
}

// validateProjectedVolumeSource is kube-apiserver's: each source sets one
// kind, and no two sources write the same path.
func validateProjectedVolumeSource(s *ProjectedVolumeSource, fld *field.Path) field.ErrorList {
	errs := validateMode(s.DefaultMode, fld.Child("defaultMode"))
	paths := map[string]bool{}
	addPath := func(p string, f *field.Path) {
		if paths[p] {
			errs = append(errs, field.Invalid(f, p, "conflicting duplicate paths"))
		}
		paths[p] = true
	}
	for i := range s.Sources {
		src := &s.Sources[i]
		sf := fld.Child("sources").Index(i)
		n := 0
		// Refused at decoding too; a pod reaching the state machine by
		// another route is refused here as well.
		for _, u := range []struct {
			name string
			set  bool
		}{{"clusterTrustBundle", src.ClusterTrustBundle != nil}, {"podCertificate", src.PodCertificate != nil}} {
			if u.set {
				n++
				errs = append(errs, field.Forbidden(sf.Child(u.name), "unsupported field"))
			}
		}
		if t := src.ServiceAccountToken; t != nil {
			if n > 0 {
				errs = append(errs, field.Forbidden(sf.Child("serviceAccountToken"), "may not specify more than 1 volume type per source"))
			}
			n++
			errs = append(errs, validateServiceAccountTokenProjection(t, sf.Child("serviceAccountToken"))...)
			addPath(t.Path, sf.Child("serviceAccountToken").Child("path"))
		}
		if c := src.ConfigMap; c != nil {
			n++
			cf := sf.Child("configMap")
			if c.Name == "" {
				errs = append(errs, field.Required(cf.Child("name"), ""))
			}
			for j := range c.Items {
				errs = append(errs, validateKeyToPath(&c.Items[j], cf.Child("items").Index(j))...)
				addPath(c.Items[j].Path, cf.Child("items").Index(j).Child("path"))
			}
		}
		if c := src.Secret; c != nil {
			if n > 0 {
				errs = append(errs, field.Forbidden(sf.Child("secret"), "may not specify more than 1 volume type per source"))
			}
			n++
			cf := sf.Child("secret")
			if c.Name == "" {
				errs = append(errs, field.Required(cf.Child("name"), ""))
			}
			for j := range c.Items {
				errs = append(errs, validateKeyToPath(&c.Items[j], cf.Child("items").Index(j))...)
				addPath(c.Items[j].Path, cf.Child("items").Index(j).Child("path"))
			}
		}
		if d := src.DownwardAPI; d != nil {
			if n > 0 {
				errs = append(errs, field.Forbidden(sf.Child("downwardAPI"), "may not specify more than 1 volume type per source"))
			}
			n++
			df := sf.Child("downwardAPI")
			for j := range d.Items {
				errs = append(errs, validateDownwardAPIVolumeFile(&d.Items[j], df.Child("items").Index(j))...)
				addPath(d.Items[j].Path, df.Child("items").Index(j).Child("path"))
			}
		}
		if n == 0 {
			errs = append(errs, field.Required(sf, "must specify exactly 1 volume type per source"))
		}
	}
	return errs
}

// Bounds of a projected token's life, as kube-apiserver validates them.
const (
	MinProjectedTokenExpirationSeconds int64 = 10 * 60
	maxProjectedTokenExpirationSeconds int64 = 1 << 32
	// DefaultProjectedTokenExpirationSeconds is what a projection that
	// names no expirationSeconds gets, as Kubernetes defaults it.
	DefaultProjectedTokenExpirationSeconds int64 = 3600
)

// validateServiceAccountTokenProjection is kube-apiserver's: a lifetime
// of at least 10 minutes and at most 2^32 seconds (after defaulting), and a
// path inside the volume.
func validateServiceAccountTokenProjection(t *corev1.ServiceAccountTokenProjection, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	exp := DefaultProjectedTokenExpirationSeconds
	if t.ExpirationSeconds != nil {
		exp = *t.ExpirationSeconds
	}
	if exp < MinProjectedTokenExpirationSeconds {
		errs = append(errs, field.Invalid(fld.Child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
	}
	if exp > maxProjectedTokenExpirationSeconds {
		errs = append(errs, field.Invalid(fld.Child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
	}
	if t.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	} else {
		errs = append(errs, validateLocalNonReservedPath(t.Path, fld.Child("path"))...)
	}
	return errs
}
