package api

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	content "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespace is a v1 Namespace, Kubernetes' own type: the scope of names
// for pods, deployments and events. Namespaced objects can be created only
// in a namespace that exists and is not being deleted, and deleting a
// namespace deletes everything in it, as in Kubernetes. gossipod does not
// maintain status.conditions (see kubernetesOnlyFields).
type Namespace = corev1.Namespace

// NamespaceSpec holds the finalizers that must finish before the namespace
// goes; gossipod sets Kubernetes' one, "kubernetes" (the content is deleted).
type NamespaceSpec = corev1.NamespaceSpec

// NamespaceStatus is the namespace's lifecycle phase.
type NamespaceStatus = corev1.NamespaceStatus

// NamespacePhase is Active or Terminating.
type NamespacePhase = corev1.NamespacePhase

// The namespace phases of Kubernetes.
const (
	NamespaceActive      = corev1.NamespaceActive
	NamespaceTerminating = corev1.NamespaceTerminating
)

// NamespaceFinalizerKubernetes is the finalizer of the namespace
// controller: the namespace stays Terminating until its content is gone.
const NamespaceFinalizerKubernetes = corev1.FinalizerKubernetes

// NamespaceList is the answer to a list of namespaces.
type NamespaceList = corev1.NamespaceList

// SystemNamespaces exist in every cluster from the start, as kube-apiserver
// creates them; "default", "kube-system" and "kube-public" cannot be
// deleted.
var SystemNamespaces = []string{DefaultNamespace, "kube-system", "kube-public", "kube-node-lease"}

// IsImmortalNamespace tells whether a namespace may never be deleted
// (kube-apiserver's NamespaceLifecycle admission keeps these three).
func IsImmortalNamespace(name string) bool {
	return name == DefaultNamespace || name == "kube-system" || name == "kube-public"
}

// IsSystemNamespace tells whether name is one of SystemNamespaces.
func IsSystemNamespace(name string) bool {
	for _, n := range SystemNamespaces {
		if n == name {
			return true
		}
	}
	return false
}

// LabelMetadataName is the label kube-apiserver puts on every namespace,
// its own name, so that a namespace selector (NetworkPolicy, webhooks) can
// pick namespaces by name.
const LabelMetadataName = corev1.LabelMetadataName

// SetNamespaceDefaults is kube-apiserver's namespace strategy on create and
// update: the kubernetes.io/metadata.name label is always the namespace's
// name, whatever the client sent.
func SetNamespaceDefaults(ns *Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[LabelMetadataName] = ns.Name
}

// ValidateNamespace checks a namespace to create: a DNS-1123 label as its
// name, no namespace of its own, valid labels and annotations (the Pod
// Security labels among them naming a level and version that exist, as
// PodSecurity admission requires), and only the finalizer gossipod
// implements. It returns nil or a 422 Invalid Status.
func ValidateNamespace(ns *Namespace) error {
	errs := validateNamespace(ns)
	if errs = append(errs, validatePodSecurityLabels(ns.Labels)...); len(errs) > 0 {
		return newInvalid("Namespace", ns.Name, errs)
	}
	return nil
}

func validateNamespace(ns *Namespace) field.ErrorList {
	fld := field.NewPath("metadata")
	var errs field.ErrorList
	if ns.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), "name or generateName is required"))
	} else {
		errs = append(errs, invalidEach(fld.Child("name"), ns.Name, content.IsDNS1123Label(ns.Name))...)
	}
	if ns.Namespace != "" {
		errs = append(errs, field.Forbidden(fld.Child("namespace"), "not allowed on this type"))
	}
	errs = append(errs, validateLabels(ns.Labels, fld.Child("labels"))...)
	errs = append(errs, validateAnnotations(ns.Annotations, fld.Child("annotations"))...)
	errs = append(errs, validateFinalizers(ns.Finalizers, fld.Child("finalizers"))...)
	for i, f := range ns.Spec.Finalizers {
		if f != NamespaceFinalizerKubernetes {
			errs = append(errs, field.NotSupported(field.NewPath("spec", "finalizers").Index(i), f, []corev1.FinalizerName{NamespaceFinalizerKubernetes}))
		}
	}
	return errs
}

// ValidateNamespaceUpdate checks newNs, the namespace an update (PUT or
// PATCH) proposes, against oldNs, the stored one: the name and uid stay as
// they are, and the result is a valid namespace (see ValidateNamespace).
// What an update may change is the metadata a user owns, labels and
// annotations; spec.finalizers and status are the cluster's, and the
// update keeps the stored ones whatever it sends, as kube-apiserver's
// namespace strategy does (they change through /finalize and /status).
func ValidateNamespaceUpdate(oldNs, newNs *Namespace) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newNs.Name, oldNs.Name, meta.Child("name"))...)
	if newNs.UID != "" {
		errs = append(errs, immutable(newNs.UID, oldNs.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validateNamespace(newNs)...)
	errs = append(errs, validatePodSecurityLabelsUpdate(oldNs.Labels, newNs.Labels)...)
	if len(errs) > 0 {
		return newInvalid("Namespace", newNs.Name, errs)
	}
	return nil
}

// NewNamespaceNotFound is the 404 for an object created in a namespace that
// does not exist, in kube-apiserver's words: `namespaces "x" not found`.
func NewNamespaceNotFound(namespace string) *Status {
	return NewNotFound("namespaces", namespace)
}

// NewNamespaceTerminating is the 403 for an object created in a namespace
// being deleted, as NamespaceLifecycle admission words it.
func NewNamespaceTerminating(resource, name, namespace string) *Status {
	st := NewForbidden("", resource, name, fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", namespace))
	st.Details.Causes = []StatusCause{{Type: "NamespaceTerminating", Message: fmt.Sprintf("namespace %s is being terminated", namespace), Field: "metadata.namespace"}}
	return st
}

// NewImmortalNamespace is the 403 for deleting default, kube-system or
// kube-public.
func NewImmortalNamespace(name string) *Status {
	return NewForbidden("", "namespaces", name, "this namespace may not be deleted")
}
