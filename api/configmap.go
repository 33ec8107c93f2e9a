package api

import (
	"maps"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ConfigMap is a v1 ConfigMap, Kubernetes' own type: configuration a pod
// reads through its environment or a volume, kept apart from the image so
// one image runs in every environment.
type ConfigMap = corev1.ConfigMap

// ConfigMapList is the answer to a list of ConfigMaps.
type ConfigMapList = corev1.ConfigMapList

// MaxConfigDataSize is kube-apiserver's cap on the summed size of a
// ConfigMap's data and binaryData values, and of a Secret's data: 1 MiB
// (core.MaxSecretSize). Both travel whole in every Raft entry, watch event
// and snapshot that holds them.
const MaxConfigDataSize = 1 << 20

// immutableWhenSet is kube-apiserver's refusal of a change to data, or of
// unsetting immutable, on an immutable ConfigMap or Secret.
const immutableWhenSet = "field is immutable when `immutable` is set"

// SetConfigMapDefaults fills in what kube-apiserver defaults on a
// ConfigMap: its namespace.
func SetConfigMapDefaults(cm *ConfigMap) {
	if cm.Namespace == "" {
		cm.Namespace = DefaultNamespace
	}
}

// ValidateConfigMap checks a ConfigMap to create as kube-apiserver's
// ValidateConfigMap does: metadata, keys that are valid config keys
// ([-._a-zA-Z0-9]+, at most 253 characters, neither "." nor ".."), no key
// in both data and binaryData, and at most 1 MiB of values. It returns nil
// or a 422 Invalid Status.
func ValidateConfigMap(cm *ConfigMap) error {
	if errs := validateConfigMap(cm); len(errs) > 0 {
		return newInvalid("ConfigMap", cm.Name, errs)
	}
	return nil
}

func validateConfigMap(cm *ConfigMap) field.ErrorList {
	errs := validateObjectMeta(&cm.ObjectMeta, field.NewPath("metadata"))
	total := 0
	dataPath, binaryPath := field.NewPath("data"), field.NewPath("binaryData")
	for _, key := range sortedKeys(cm.Data) {
		errs = append(errs, invalidEach(dataPath.Key(key), key, validation.IsConfigMapKey(key))...)
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(dataPath.Key(key), key, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[key])
	}
	for _, key := range sortedKeys(cm.BinaryData) {
		errs = append(errs, invalidEach(binaryPath.Key(key), key, validation.IsConfigMapKey(key))...)
		total += len(cm.BinaryData[key])
	}
	if total > MaxConfigDataSize {
		// kube-apiserver names no field: the limit is the whole object's.
		errs = append(errs, field.TooLong(field.NewPath(""), "", MaxConfigDataSize))
	}
	return errs
}

// ValidateConfigMapUpdate checks newCM, the ConfigMap an update proposes,
// against oldCM, the stored one: name, namespace and uid stay; an immutable
// ConfigMap keeps its data, its binaryData and immutable itself, in
// kube-apiserver's words; and the result is a valid ConfigMap.
func ValidateConfigMapUpdate(oldCM, newCM *ConfigMap) error {
	errs := validateMetaUpdate(&oldCM.ObjectMeta, &newCM.ObjectMeta)
	if isTrue(oldCM.Immutable) {
		if !isTrue(newCM.Immutable) {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), immutableWhenSet))
		}
		if !maps.Equal(newCM.Data, oldCM.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), immutableWhenSet))
		}
		if !reflect.DeepEqual(nilIfEmpty(newCM.BinaryData), nilIfEmpty(oldCM.BinaryData)) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), immutableWhenSet))
		}
	}
	errs = append(errs, validateConfigMap(newCM)...)
	if len(errs) > 0 {
		return newInvalid("ConfigMap", newCM.Name, errs)
	}
	return nil
}

// validateMetaUpdate is what every update of a namespaced object checks
// first: name, namespace and (when the update says) uid stay.
func validateMetaUpdate(oldM, newM *ObjectMeta) field.ErrorList {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newM.Name, oldM.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newM.Namespace, oldM.Namespace, meta.Child("namespace"))...)
	if newM.UID != "" {
		errs = append(errs, immutable(newM.UID, oldM.UID, meta.Child("uid"))...)
	}
	return errs
}

func isTrue(b *bool) bool { return b != nil && *b }

// nilIfEmpty makes an empty map nil, so that an update that sends {} for
// a map that was absent compares equal, as kube-apiserver's decoding into
// its internal types makes them.
func nilIfEmpty[M ~map[string]V, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return m
}
