package api

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetReplicaSetDefaults fills in what a ReplicaSet manifest may leave out,
// as SetDeploymentDefaults does for a Deployment: namespace "default",
// replicas 1, and the template's pod spec defaulted as a pod's, so that a
// ReplicaSet a Deployment made and one a user wrote are stored alike.
// It only sets empty fields and is idempotent.
func SetReplicaSetDefaults(rs *ReplicaSet) {
	if rs.Namespace == "" {
		rs.Namespace = DefaultNamespace
	}
	if rs.Spec.Replicas == nil {
		v := DefaultDeploymentReplicas
		rs.Spec.Replicas = &v
	}
	setPodSpecDefaults(&rs.Spec.Template.Spec)
}

// maxReplicaSetNameLength leaves room in a DNS-1123 subdomain for "-" and
// the 5-character suffix of the pod names made from it (gossipod names pods
// exactly; Kubernetes would truncate).
const maxReplicaSetNameLength = 253 - 1 - 5

// ValidateReplicaSet checks a ReplicaSet as the Kubernetes API server
// checks an apps/v1 ReplicaSet, after SetReplicaSetDefaults, with the rules
// it shares with a Deployment (see ValidateDeployment): metadata valid and
// the name short enough for its pods' names; replicas within maxReplicas
// (the agent's --max-deployment-replicas, which bounds ReplicaSets as it
// bounds Deployments); selector set, valid, non-empty and matching the
// template's labels; the template a valid pod with restartPolicy Always;
// minReadySeconds not negative. It returns nil or a 422 Invalid Status.
func ValidateReplicaSet(rs *ReplicaSet, maxReplicas int32) error {
	if errs := validateReplicaSet(rs, maxReplicas); len(errs) > 0 {
		return newInvalid("ReplicaSet", rs.Name, errs)
	}
	return nil
}

// ValidateNewReplicaSet is ValidateReplicaSet as the state machine applies
// it to a ReplicaSet it stores: with the uid its proposer set and
// MaxDeploymentReplicasCeiling as the bound, the same on every agent.
func ValidateNewReplicaSet(rs *ReplicaSet) error {
	errs := validateUID(rs.UID, field.NewPath("metadata", "uid"))
	if errs = append(errs, validateReplicaSet(rs, MaxDeploymentReplicasCeiling)...); len(errs) > 0 {
		return newInvalid("ReplicaSet", rs.Name, errs)
	}
	return nil
}

// ValidateReplicaSetUpdate checks that newRS is a valid ReplicaSet and a
// change apps/v1 allows to oldRS: name, namespace and uid stay, and so does
// spec.selector, which would otherwise orphan the running pods. Replicas,
// minReadySeconds and the template may change.
func ValidateReplicaSetUpdate(oldRS, newRS *ReplicaSet, maxReplicas int32) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newRS.Name, oldRS.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newRS.Namespace, oldRS.Namespace, meta.Child("namespace"))...)
	if newRS.UID != "" {
		errs = append(errs, immutable(newRS.UID, oldRS.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validateReplicaSet(newRS, maxReplicas)...)
	if !equality.Semantic.DeepEqual(oldRS.Spec.Selector, newRS.Spec.Selector) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), newRS.Spec.Selector, "field is immutable"))
	}
	if len(errs) > 0 {
		return newInvalid("ReplicaSet", newRS.Name, errs)
	}
	return nil
}

// ValidateReplicaSetHostPaths applies an agent's hostPath allow-list to a
// ReplicaSet's template, as ValidateDeploymentHostPaths does.
func ValidateReplicaSetHostPaths(rs *ReplicaSet, allowed []string) error {
	if errs := validateHostPaths(&rs.Spec.Template.Spec, field.NewPath("spec", "template", "spec"), allowed); len(errs) > 0 {
		return newInvalid("ReplicaSet", rs.Name, errs)
	}
	return nil
}

func validateReplicaSet(rs *ReplicaSet, maxReplicas int32) field.ErrorList {
	errs := validateObjectMeta(&rs.ObjectMeta, field.NewPath("metadata"))
	if len(rs.Name) > maxReplicaSetNameLength && len(content.IsDNS1123Subdomain(rs.Name)) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), rs.Name, fmt.Sprintf(
			"must be no more than %d bytes, so that the names of its pods (<name>-<suffix>) are valid",
			maxReplicaSetNameLength)))
	}
	fld := field.NewPath("spec")
	errs = append(errs, validateReplicatedPods(rs.Spec.Replicas, maxReplicas, rs.Spec.Selector, &rs.Spec.Template, fld)...)
	return append(errs, nonNegative(int64(rs.Spec.MinReadySeconds), fld.Child("minReadySeconds"))...)
}
