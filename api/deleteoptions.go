package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DeletionPropagation says what a deletion does to the deleted object's
// dependents (the objects whose ownerReferences name it), as Kubernetes'
// garbage collector does.
type DeletionPropagation string

// The propagation policies of Kubernetes.
const (
	// DeletePropagationOrphan keeps the dependents and removes their
	// reference to the deleted owner (`kubectl delete --cascade=orphan`).
	DeletePropagationOrphan DeletionPropagation = "Orphan"
	// DeletePropagationBackground deletes the owner at once and its
	// dependents after it; the default for Deployments and ReplicaSets.
	DeletePropagationBackground DeletionPropagation = "Background"
	// DeletePropagationForeground keeps the owner, with its
	// deletionTimestamp and the foregroundDeletion finalizer, until the
	// dependents that block it are gone (`kubectl delete
	// --cascade=foreground`).
	DeletePropagationForeground DeletionPropagation = "Foreground"
)

// propagationPolicies are the valid policies, in Kubernetes' order.
var propagationPolicies = []DeletionPropagation{DeletePropagationForeground, DeletePropagationBackground, DeletePropagationOrphan}

// DeleteOptions is the body kubectl sends with a DELETE
// (`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`),
// or the same options as query parameters.
type DeleteOptions struct {
	TypeMeta `json:",inline"`
	// GracePeriodSeconds is how long a pod's containers get to stop; nil
	// is the pod's own terminationGracePeriodSeconds.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	// Preconditions must hold for the deletion to happen (409 otherwise).
	Preconditions *Preconditions `json:"preconditions,omitempty"`
	// OrphanDependents is the deprecated form of PropagationPolicy: true
	// is Orphan, false Background.
	OrphanDependents *bool `json:"orphanDependents,omitempty"`
	// PropagationPolicy is Orphan, Background or Foreground.
	PropagationPolicy *DeletionPropagation `json:"propagationPolicy,omitempty"`
	// DryRun is refused: gossipod does not implement dry runs.
	DryRun []string `json:"dryRun,omitempty"`
}

// Preconditions of a deletion.
type Preconditions struct {
	UID             *string `json:"uid,omitempty"`
	ResourceVersion *string `json:"resourceVersion,omitempty"`
}

// DecodeDeleteOptions decodes a DELETE request's body strictly, as the
// manifests are decoded: an unknown field, or a kind other than
// DeleteOptions (apiVersion v1 or meta.k8s.io/v1), is a 400 naming it.
func DecodeDeleteOptions(body []byte) (*DeleteOptions, error) {
	nodes, err := parseJSONStream(body)
	if err != nil {
		return nil, NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
	}
	if len(nodes) != 1 || nodes[0].kind != kindObject {
		return nil, NewBadRequest("decode DeleteOptions: expected one JSON object in the request body")
	}
	derr := &DecodeError{Document: 1, Kind: "DeleteOptions"}
	if derr.Causes = checkStrict("", nodes[0], reflect.TypeFor[DeleteOptions](), nil); len(derr.Causes) > 0 {
		return nil, derr.Status()
	}
	var o DeleteOptions
	if err := json.NewDecoder(bytes.NewReader(nodes[0].appendJSON(nil))).Decode(&o); err != nil {
		return nil, NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
	}
	if o.Kind != "" && o.Kind != "DeleteOptions" {
		return nil, NewBadRequest(fmt.Sprintf("expected a DeleteOptions in the request body, got %s %s", o.APIVersion, o.Kind))
	}
	switch o.APIVersion {
	case "", "v1", "meta.k8s.io/v1":
	default:
		return nil, NewBadRequest(fmt.Sprintf("DeleteOptions in version %q cannot be handled as a DeleteOptions: use v1 or meta.k8s.io/v1", o.APIVersion))
	}
	return &o, nil
}

// ValidateDeleteOptions is Kubernetes' ValidateDeleteOptions: the grace
// period not negative, orphanDependents and propagationPolicy not both
// set, a known policy; and gossipod's rules for what it does not
// implement: no dry run, no resourceVersion precondition (a uid one is
// honoured). It returns nil or a 422 Invalid Status.
func ValidateDeleteOptions(o *DeleteOptions) error {
	var errs field.ErrorList
	if o.GracePeriodSeconds != nil && *o.GracePeriodSeconds < 0 {
		errs = append(errs, field.Invalid(field.NewPath("gracePeriodSeconds"), *o.GracePeriodSeconds, "must be greater than or equal to 0"))
	}
	if o.OrphanDependents != nil && o.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *o.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if p := o.PropagationPolicy; p != nil {
		switch *p {
		case DeletePropagationOrphan, DeletePropagationBackground, DeletePropagationForeground:
		default:
			errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *p, propagationPolicies))
		}
	}
	if o.Preconditions != nil && o.Preconditions.ResourceVersion != nil {
		errs = append(errs, field.Forbidden(field.NewPath("preconditions", "resourceVersion"), "not supported by gossipod; preconditions.uid is"))
	}
	if len(o.DryRun) > 0 {
		errs = append(errs, field.NotSupported(field.NewPath("dryRun"), o.DryRun, []string{}))
	}
	if len(errs) > 0 {
		return newInvalid("DeleteOptions.meta.k8s.io", "", errs)
	}
	return nil
}

// Propagation resolves the policy of a deletion: the options' policy, or
// orphanDependents' meaning, or def (the resource's default, Background
// for Deployments and ReplicaSets).
func (o *DeleteOptions) Propagation(def DeletionPropagation) DeletionPropagation {
	switch {
	case o == nil:
		return def
	case o.PropagationPolicy != nil:
		return *o.PropagationPolicy
	case o.OrphanDependents != nil && *o.OrphanDependents:
		return DeletePropagationOrphan
	case o.OrphanDependents != nil:
		return DeletePropagationBackground
	}
	return def
}
