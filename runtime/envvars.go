package runtime

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gossipod/gossipod/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// reasonCreateContainerConfigError is kubelet's waiting reason for a
// container whose configuration (its env's ConfigMaps, Secrets, fields)
// cannot be made: it waits, retried, until what it needs appears.
const reasonCreateContainerConfigError = "CreateContainerConfigError"

// eventInvalidEnvNames is kubelet's event for envFrom keys skipped because
// they are not valid environment variable names.
const eventInvalidEnvNames = "InvalidEnvironmentVariableNames"

// configError is an error making a container's configuration (kubelet's
// ErrCreateContainerConfig): the container waits with
// CreateContainerConfigError rather than CreateContainerError.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// envSources is what a container's env may read besides its own spec:
// the pod, its addresses, the node's allocatable (a missing limit's
// value, as kubelet's defaultPodLimitsForDownwardAPI) and the state's
// ConfigMaps and Secrets.
type envSources struct {
	pod         *api.Pod
	podIP       string
	hostIP      string
	allocatable corev1.ResourceList
	configMap   func(namespace, name string) (*api.ConfigMap, bool)
	secret      func(namespace, name string) (*api.Secret, bool)
}

// envWarning is an event to record about the env made: envFrom keys
// skipped for their names.
type envWarning struct{ reason, message string }

// makeEnv is kubelet's makeEnvironmentVariables, producing the env that
// image.ResolveCommand reads in order (a later entry overriding an
// earlier one, $(NAME) expanded against the entries before it): the
// service variables, then envFrom's (each source over the earlier ones),
// then the container's env. Values read from ConfigMaps, Secrets and the
// downward API are escaped ($ doubled), since kubelet expands only
// literal values; ResolveCommand's expansion gives them back unchanged.
//
// A missing ConfigMap, Secret or key that is not optional is a
// configError with kubelet's message.
func makeEnv(src envSources, c *api.Container, serviceEnv []api.EnvVar) ([]api.EnvVar, []envWarning, error) {
	pod := src.pod
	out := slices.Clone(serviceEnv)
	var warnings []envWarning
	for _, from := range c.EnvFrom {
		var (
			data    map[string]string
			kind    string
			srcName string
		)
		switch {
		case from.ConfigMapRef != nil:
			ref := from.ConfigMapRef
			cm, err := src.getConfigMap(pod.Namespace, ref.Name)
			if err != nil {
				if isOptional(ref.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, nil, &configError{err}
			}
			data, kind, srcName = cm.Data, "configMap", cm.Name
		case from.SecretRef != nil:
			ref := from.SecretRef
			s, err := src.getSecret(pod.Namespace, ref.Name)
			if err != nil {
				if isOptional(ref.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, nil, &configError{err}
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
			kind, srcName = "secret", s.Name
		default:
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var invalid []string
		for _, k := range keys {
			name := from.Prefix + k
			if len(validation.IsEnvVarName(name)) != 0 {
				invalid = append(invalid, name)
				continue
			}
			out = append(out, api.EnvVar{Name: name, Value: escapeEnv(data[k])})
		}
		if len(invalid) > 0 {
			warnings = append(warnings, envWarning{reason: eventInvalidEnvNames, message: fmt.Sprintf(
				"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, srcName)})
		}
	}
	for _, e := range c.Env {
		if e.Value != "" || e.ValueFrom == nil {
			out = append(out, api.EnvVar{Name: e.Name, Value: e.Value})
			continue
		}
		v, set, err := src.valueFrom(c, e.ValueFrom)
		if err != nil {
			return nil, nil, err
		}
		if set {
			out = append(out, api.EnvVar{Name: e.Name, Value: escapeEnv(v)})
		}
	}
	return out, warnings, nil
}

// valueFrom is one env[].valueFrom's value; set is false when an optional
// ConfigMap, Secret or key is missing (kubelet leaves the variable out).
func (src envSources) valueFrom(c *api.Container, from *corev1.EnvVarSource) (value string, set bool, err error) {
	pod := src.pod
	switch {
	case from.FieldRef != nil:
		v, err := src.fieldValue(from.FieldRef)
		if err != nil {
			return "", false, &configError{err}
		}
		return v, true, nil
	case from.ResourceFieldRef != nil:
		v, err := src.resourceValue(c, from.ResourceFieldRef)
		if err != nil {
			return "", false, &configError{err}
		}
		return v, true, nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := isOptional(ref.Optional)
		cm, err := src.getConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, &configError{err}
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, &configError{fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := isOptional(ref.Optional)
		s, err := src.getSecret(pod.Namespace, ref.Name)
		if err != nil {
			if optional && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, &configError{err}
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", false, nil
			}
			return "", false, &configError{fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(v), true, nil
	}
	return "", true, nil
}

// getConfigMap is kubelet's configMapManager.GetConfigMap: a missing
// object is the NotFound error of the resource "configmap", whose message
// is `configmap "name" not found`.
func (src envSources) getConfigMap(ns, name string) (*api.ConfigMap, error) {
	if src.configMap != nil {
		if cm, ok := src.configMap(ns, name); ok {
			return cm, nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, name)
}

// getSecret is getConfigMap for Secrets: `secret "name" not found`.
func (src envSources) getSecret(ns, name string) (*api.Secret, error) {
	if src.secret != nil {
		if s, ok := src.secret(ns, name); ok {
			return s, nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, name)
}

// fieldValue is kubelet's podFieldSelectorRuntimeValue: the node's and
// the pod's addresses as the runtime knows them (the pod's status may not
// carry them yet), other fields from the pod.
func (src envSources) fieldValue(fs *corev1.ObjectFieldSelector) (string, error) {
	pod := src.pod
	path := fs.FieldPath
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		if src.hostIP == "" {
			return "", errors.New("host IP unknown")
		}
		return src.hostIP, nil
	case "status.podIP", "status.podIPs":
		return src.podIP, nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	}
	if sub, key, ok := api.SplitSubscriptedPath(path); ok {
		switch sub {
		case "metadata.labels":
			return pod.Labels[key], nil
		case "metadata.annotations":
			return pod.Annotations[key], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", path)
}

// resourceValue is kubelet's containerResourceRuntimeValue on the pod
// with defaulted limits: the named container's (or this one's) request or
// limit divided by the divisor, rounded up; a missing limit is the node's
// allocatable.
func (src envSources) resourceValue(c *api.Container, fs *corev1.ResourceFieldSelector) (string, error) {
	if fs.ContainerName != "" {
		var found *api.Container
		for _, list := range [][]api.Container{src.pod.Spec.InitContainers, src.pod.Spec.Containers} {
			for i := range list {
				if list[i].Name == fs.ContainerName {
					found = &list[i]
				}
			}
		}
		if found == nil {
			return "", fmt.Errorf("container %s not found", fs.ContainerName)
		}
		c = found
	}
	divisor := fs.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(fs.Resource, ".")
	rname := corev1.ResourceName(name)
	var q resource.Quantity
	switch kind {
	case "limits":
		var ok bool
		if q, ok = c.Resources.Limits[rname]; !ok || q.IsZero() {
			q = src.allocatable[rname]
		}
	case "requests":
		q = c.Resources.Requests[rname]
	default:
		return "", fmt.Errorf("unsupported container resource : %v", fs.Resource)
	}
	switch rname {
	case corev1.ResourceCPU:
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("unsupported container resource : %v", fs.Resource)
}

// escapeEnv doubles every $ so that $(NAME) expansion gives s back: kubelet
// expands only literal env values, never those read from elsewhere.
func escapeEnv(s string) string {
	return strings.ReplaceAll(s, "$", "$$")
}

// isOptional reads an optional *bool, false when unset.
func isOptional(b *bool) bool { return b != nil && *b }
