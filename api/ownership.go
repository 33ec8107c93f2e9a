package api

import (
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Finalizers of Kubernetes' garbage collector, which gossipod's state
// machine honours itself. A user cannot add others: nothing in gossipod
// would ever remove them.
const (
	// FinalizerForegroundDeletion keeps an object deleted with
	// propagationPolicy=Foreground (`kubectl delete --cascade=foreground`)
	// readable, with its deletionTimestamp, until every dependent that
	// blocks its deletion is gone.
	FinalizerForegroundDeletion = "foregroundDeletion"
	// FinalizerOrphan is the finalizer of orphaning deletions. gossipod
	// orphans the dependents in the same log entry as the deletion, so an
	// object never carries it; it is accepted in manifests for symmetry.
	FinalizerOrphan = "orphan"
)

// gcFinalizers are the finalizers a manifest may carry.
var gcFinalizers = []string{FinalizerForegroundDeletion, FinalizerOrphan}

// ControllerOf returns the owner reference of m with controller=true, or
// nil: the object that manages m (a ReplicaSet for its pods, a Deployment
// for its ReplicaSets). At most one reference may be the controller.
func ControllerOf(m *ObjectMeta) *OwnerReference {
	for i := range m.OwnerReferences {
		if r := &m.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

// IsControlledBy reports whether m's controller is the object with uid.
func IsControlledBy(m *ObjectMeta, uid types.UID) bool {
	r := ControllerOf(m)
	return r != nil && r.UID == uid
}

// NewControllerRef is the owner reference a controller puts on what it
// creates, as metav1.NewControllerRef makes it: controller, and blocking
// the owner's foreground deletion until the dependent is gone.
func NewControllerRef(apiVersion, kind, name string, uid types.UID) OwnerReference {
	yes := true
	return OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}
}

// HasFinalizer reports whether m carries finalizer f.
func HasFinalizer(m *ObjectMeta, f string) bool {
	return slices.Contains(m.Finalizers, f)
}

// validateOwnerReferences is Kubernetes' ValidateOwnerReferences: every
// reference names an apiVersion, a kind, a name and a uid, and at most one
// is the controller.
func validateOwnerReferences(refs []OwnerReference, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	var controllers []string
	for i, r := range refs {
		idx := fld.Index(i)
		if r.APIVersion == "" {
			errs = append(errs, field.Invalid(idx.Child("apiVersion"), r.APIVersion, "version must not be empty"))
		}
		if r.Kind == "" {
			errs = append(errs, field.Invalid(idx.Child("kind"), r.Kind, "kind must not be empty"))
		}
		if r.Name == "" {
			errs = append(errs, field.Invalid(idx.Child("name"), r.Name, "name must not be empty"))
		}
		if r.UID == "" {
			errs = append(errs, field.Invalid(idx.Child("uid"), r.UID, "uid must not be empty"))
		} else {
			errs = append(errs, invalidEach(idx.Child("uid"), r.UID, IsValidUID(string(r.UID)))...)
		}
		if r.Controller != nil && *r.Controller {
			controllers = append(controllers, r.Kind+"/"+r.Name)
		}
	}
	if len(controllers) > 1 {
		errs = append(errs, field.Invalid(fld, refs, "Only one reference can have Controller set to true. Found \"true\" in references for "+strings.Join(controllers, " and ")))
	}
	return errs
}

// validateFinalizers allows the garbage collector's finalizers only: they
// appear in `get -o yaml` of an object being deleted in the foreground, so
// a manifest made from one decodes, but the state machine sets them itself.
func validateFinalizers(finalizers []string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if !slices.Contains(gcFinalizers, f) {
			errs = append(errs, field.NotSupported(fld.Index(i), f, gcFinalizers))
		}
	}
	return errs
}

// Revision is the value of the revision annotation of m, 0 when it has
// none or one that is not a number (as kubectl's deploymentutil.Revision
// treats a missing one).
func Revision(m *ObjectMeta) int64 {
	v, err := strconv.ParseInt(m.Annotations[AnnotationRevision], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// NewInvalidControllerRef is the 422 the state machine answers for an
// object created for a controller it cannot be created for: ref, the i-th
// owner reference of the object kind/name, names an object that does not
// exist with that uid, or one being deleted (why says which).
func NewInvalidControllerRef(kind, name string, i int, ref OwnerReference, why string) *Status {
	return newInvalid(kind, name, field.ErrorList{field.Invalid(field.NewPath("metadata", "ownerReferences").Index(i).Child("uid"), ref.UID, why)})
}
