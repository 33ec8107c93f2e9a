package api

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// envFieldPaths are the pod fields env[].valueFrom.fieldRef may read,
// kube-apiserver's validEnvDownwardAPIFieldPathExpressions (labels and
// annotations only one key at a time, metadata.labels['key']).
var envFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// downwardFieldLabels are the v1 pod field labels the downward API
// converts (podshelper.ConvertDownwardAPIFieldLabel); one of them that
// env does not support is "Unsupported value", any other a conversion
// error, as kube-apiserver says.
var downwardFieldLabels = []string{
	"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
	"metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
	"spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs",
	"status.podIP", "status.podIPs",
}

// containerResourcePaths are what resourceFieldRef may read,
// kube-apiserver's validContainerResourceFieldPathExpressions (gossipod
// has no huge pages, so not their prefixes).
var containerResourcePaths = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

// The divisors kube-apiserver accepts per resource.
var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// validateEnv is kube-apiserver's ValidateEnv: each name a valid
// environment variable name, each valueFrom one valid source.
func validateEnv(vars []EnvVar, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range vars {
		idx := fld.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, invalidEach(idx.Child("name"), e.Name, validation.IsEnvVarName(e.Name))...)
		}
		errs = append(errs, validateEnvVarValueFrom(e, idx.Child("valueFrom"))...)
	}
	return errs
}

// validateEnvVarValueFrom is kube-apiserver's function of that name.
func validateEnvVarValueFrom(e EnvVar, fld *field.Path) field.ErrorList {
	if e.ValueFrom == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if fs := e.ValueFrom.FieldRef; fs != nil {
		n++
		errs = append(errs, validateObjectFieldSelector(fs, fld.Child("fieldRef"))...)
	}
	if fs := e.ValueFrom.ResourceFieldRef; fs != nil {
		n++
		errs = append(errs, validateResourceFieldSelector(fs, fld.Child("resourceFieldRef"))...)
	}
	if s := e.ValueFrom.ConfigMapKeyRef; s != nil {
		n++
		errs = append(errs, validateKeySelector(s.Name, s.Key, fld.Child("configMapKeyRef"))...)
	}
	if s := e.ValueFrom.SecretKeyRef; s != nil {
		n++
		errs = append(errs, validateKeySelector(s.Name, s.Key, fld.Child("secretKeyRef"))...)
	}
	if e.ValueFrom.FileKeyRef != nil {
		errs = append(errs, field.Forbidden(fld.Child("fileKeyRef"), "not supported"))
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(fld, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case e.Value != "":
		errs = append(errs, field.Invalid(fld, "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(fld, "", "may not have more than one field specified at a time"))
	}
	return errs
}

// validateObjectFieldSelector is kube-apiserver's, with env's paths.
func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, fld *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fld.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fld.Child("fieldPath"), "")}
	}
	if fs.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(fld.Child("fieldPath"), fs.FieldPath,
			fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", fs.APIVersion))}
	}
	if path, key, ok := SplitSubscriptedPath(fs.FieldPath); ok {
		switch path {
		case "metadata.annotations":
			return invalidEach(fld, strings.ToLower(key), validation.IsQualifiedName(strings.ToLower(key)))
		case "metadata.labels":
			return invalidEach(fld, key, validation.IsQualifiedName(key))
		}
		return field.ErrorList{field.Invalid(fld.Child("fieldPath"), fs.FieldPath,
			"error converting fieldPath: field label does not support subscript")}
	}
	if !slices.Contains(downwardFieldLabels, fs.FieldPath) {
		return field.ErrorList{field.Invalid(fld.Child("fieldPath"), fs.FieldPath,
			fmt.Sprintf("error converting fieldPath: field label not supported: %s", fs.FieldPath))}
	}
	if !slices.Contains(envFieldPaths, fs.FieldPath) {
		return field.ErrorList{field.NotSupported(fld.Child("fieldPath"), fs.FieldPath, slices.Sorted(slices.Values(envFieldPaths)))}
	}
	return nil
}

// SplitSubscriptedPath is fieldpath.SplitMaybeSubscriptedPath:
// "metadata.labels['key']" is ("metadata.labels", "key", true).
func SplitSubscriptedPath(path string) (string, string, bool) {
	if !strings.HasSuffix(path, "']") {
		return path, "", false
	}
	base, rest, ok := strings.Cut(path, "['")
	if !ok {
		return path, "", false
	}
	return base, strings.TrimSuffix(rest, "']"), true
}

// validateResourceFieldSelector is kube-apiserver's
// validateContainerResourceFieldSelector for env (containerName optional)
// with validateContainerResourceDivisor.
func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case fs.Resource == "":
		errs = append(errs, field.Required(fld.Child("resource"), ""))
	case !slices.Contains(containerResourcePaths, fs.Resource):
		errs = append(errs, field.NotSupported(fld.Child("resource"), fs.Resource, containerResourcePaths))
	}
	if fs.ContainerName != "" {
		errs = append(errs, invalidEach(fld.Child("containerName"), fs.ContainerName, validation.IsDNS1123Label(fs.ContainerName))...)
	}
	if fs.Divisor.Cmp(resource.Quantity{}) == 0 {
		return errs
	}
	d := fs.Divisor.String()
	switch fs.Resource {
	case "limits.cpu", "requests.cpu":
		if !slices.Contains(cpuDivisors, d) {
			errs = append(errs, field.Invalid(fld.Child("divisor"), fs.Resource, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
	case "limits.memory", "requests.memory":
		if !slices.Contains(memoryDivisors, d) {
			errs = append(errs, field.Invalid(fld.Child("divisor"), fs.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
		}
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !slices.Contains(memoryDivisors, d) {
			errs = append(errs, field.Invalid(fld.Child("divisor"), fs.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"))
		}
	}
	return errs
}

// validateKeySelector is kube-apiserver's validateConfigMapKeySelector
// and validateSecretKeySelector: the object's name a DNS subdomain, the
// key a valid config key.
func validateKeySelector(name, key string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	} else {
		errs = append(errs, invalidEach(fld.Child("name"), name, validation.IsDNS1123Subdomain(name))...)
	}
	if key == "" {
		errs = append(errs, field.Required(fld.Child("key"), ""))
	} else {
		errs = append(errs, invalidEach(fld.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

// validateEnvFrom is kube-apiserver's ValidateEnvFrom: a valid prefix,
// exactly one of configMapRef and secretRef, naming a valid object. A
// key that, prefixed, is no valid name is not refused: kubelet skips it
// with an InvalidEnvironmentVariableNames event.
func validateEnvFrom(vars []corev1.EnvFromSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range vars {
		idx := fld.Index(i)
		if e.Prefix != "" {
			errs = append(errs, invalidEach(idx.Child("prefix"), e.Prefix, validation.IsEnvVarName(e.Prefix))...)
		}
		n := 0
		if ref := e.ConfigMapRef; ref != nil {
			n++
			errs = append(errs, validateEnvSourceName(ref.Name, idx.Child("configMapRef", "name"))...)
		}
		if ref := e.SecretRef; ref != nil {
			n++
			errs = append(errs, validateEnvSourceName(ref.Name, idx.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(fld, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(fld, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// validateEnvSourceName is a ConfigMap's or Secret's name: required, a
// DNS subdomain.
func validateEnvSourceName(name string, fld *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fld, "")}
	}
	return invalidEach(fld, name, validation.IsDNS1123Subdomain(name))
}
