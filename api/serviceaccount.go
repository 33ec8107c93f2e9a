package api

import (
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
