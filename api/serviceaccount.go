package api

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceAccount is a v1 ServiceAccount, Kubernetes' own type: the
// identity pods run as. Every namespace has one named "default", made by
// the leader as Kubernetes' service account controller makes it; a pod
// names another with spec.serviceAccountName, and must name one that
// exists. automountServiceAccountToken is the default of the pods that run
// as the account and do not say; its imagePullSecrets are given to the new
// pods that run as it and name none (the ServiceAccount admission, in the
// state machine). Its secrets, the legacy token Secrets, are an
// unsupported field.
type ServiceAccount = corev1.ServiceAccount

// ServiceAccountList is the answer to a list of service accounts.
type ServiceAccountList = corev1.ServiceAccountList

// DefaultServiceAccountName is the service account every namespace has and
// pods that name none run as.
const DefaultServiceAccountName = "default"

// ValidateServiceAccount checks a service account to create: a DNS-1123
// subdomain as its name, a namespace, valid labels and annotations. It
// returns nil or a 422 Invalid Status.
func ValidateServiceAccount(sa *ServiceAccount) error {
	if errs := validateObjectMeta(&sa.ObjectMeta, field.NewPath("metadata")); len(errs) > 0 {
		return newInvalid("ServiceAccount", sa.Name, errs)
	}
	return nil
}

// ValidateServiceAccountUpdate checks newSA, the service account an update
// (PUT or PATCH) proposes, against oldSA, the stored one: name, namespace
// and uid stay as they are, and the result is a valid service account (see
// ValidateServiceAccount). Labels, annotations,
// automountServiceAccountToken and imagePullSecrets may change, as in
// Kubernetes.
func ValidateServiceAccountUpdate(oldSA, newSA *ServiceAccount) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newSA.Name, oldSA.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newSA.Namespace, oldSA.Namespace, meta.Child("namespace"))...)
	if newSA.UID != "" {
		errs = append(errs, immutable(newSA.UID, oldSA.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validateObjectMeta(&newSA.ObjectMeta, meta)...)
	if len(errs) > 0 {
		return newInvalid("ServiceAccount", newSA.Name, errs)
	}
	return nil
}

// NewServiceAccountNotFound is the 403 of the ServiceAccount admission
// plugin for a pod that names a service account its namespace lacks.
func NewServiceAccountNotFound(pod, namespace, serviceAccount string) *Status {
	return NewForbidden("", "pods", pod, "error looking up service account "+namespace+"/"+serviceAccount+
		": serviceaccount \""+serviceAccount+"\" not found")
}

// LocalObjectReference names an object of the same namespace: a pod's or a
// ServiceAccount's image pull Secret.
type LocalObjectReference = corev1.LocalObjectReference

// What ServiceAccount admission adds to a pod so that it can call the API
// (kube-apiserver's plugin/pkg/admission/serviceaccount): a projected
// volume kube-api-access-<suffix> holding the pod's bound token, the
// cluster CA and the namespace, mounted read-only in every container at
// ServiceAccountTokenMountPath, where client-go's in-cluster configuration
// reads them.
const (
	ServiceAccountTokenVolumePrefix = "kube-api-access-"
	ServiceAccountTokenMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	// RootCAConfigMapName is the ConfigMap every namespace has with the
	// cluster CA under RootCAConfigMapKey, as Kubernetes' root CA
	// publisher keeps it.
	RootCAConfigMapName = "kube-root-ca.crt"
	RootCAConfigMapKey  = "ca.crt"
	// BoundTokenExpirationSeconds is the admission volume's token life,
	// Kubernetes' (an hour and 7 seconds, so that its tokens can be told
	// from those asked for explicitly).
	BoundTokenExpirationSeconds int64 = 3607
)

// ShouldAutomountServiceAccountToken is Kubernetes' rule: the pod's
// automountServiceAccountToken when set, else its ServiceAccount's (sa may
// be nil when it does not exist yet), else true.
func ShouldAutomountServiceAccountToken(spec *PodSpec, sa *ServiceAccount) bool {
	if spec.AutomountServiceAccountToken != nil {
		return *spec.AutomountServiceAccountToken
	}
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// ServiceAccountTokenVolumeName returns the name of spec's
// kube-api-access-* volume, "" if it has none.
func ServiceAccountTokenVolumeName(spec *PodSpec) string {
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, ServiceAccountTokenVolumePrefix) {
			return v.Name
		}
	}
	return ""
}

// MountServiceAccountToken adds the token volume as Kubernetes' admission
// does: every init and app container without a mount at
// ServiceAccountTokenMountPath gets a read-only one, of the pod's existing
// kube-api-access-* volume or else of a new one named volumeName, added
// only if some container mounts it. It is idempotent, so apply can replay
// it on a manifest to compare it with the live pod.
func MountServiceAccountToken(spec *PodSpec, volumeName string) {
	name := ServiceAccountTokenVolumeName(spec)
	hasVolume := name != ""
	if !hasVolume {
		name = volumeName
	}
	mount := VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountTokenMountPath}
	needed := false
	for _, cs := range [][]Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			if !slices.ContainsFunc(cs[i].VolumeMounts, func(m VolumeMount) bool { return m.MountPath == ServiceAccountTokenMountPath }) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if !hasVolume && needed {
		spec.Volumes = append(spec.Volumes, Volume{Name: name, VolumeSource: VolumeSource{Projected: ServiceAccountTokenVolumeSource()}})
	}
}

// ServiceAccountTokenVolumeSource is the kube-api-access volume's source,
// Kubernetes' TokenVolumeSource: the token (3607 s), ca.crt from the
// kube-root-ca.crt ConfigMap and the namespace from the downward API, mode
// 0644.
func ServiceAccountTokenVolumeSource() *ProjectedVolumeSource {
	mode := corev1.ProjectedVolumeSourceDefaultMode
	exp := BoundTokenExpirationSeconds
	return &ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: RootCAConfigMapName},
				Items:                []KeyToPath{{Key: RootCAConfigMapKey, Path: RootCAConfigMapKey}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
}
