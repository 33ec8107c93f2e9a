package api

import appsv1 "k8s.io/api/apps/v1"

// ReplicaSet is an apps/v1 ReplicaSet, Kubernetes' own type: it keeps a
// number of pods of one template running. A Deployment makes one ReplicaSet
// per pod template, named <deployment>-<TemplateHash>, and scales them to
// roll a new template out; a ReplicaSet created by a user, without an
// owner, is run the same way, as in Kubernetes. The leader's ReplicaSet
// controller creates the pods (<replicaset>-<suffix>, owned by the
// ReplicaSet) and deletes the surplus. Its status lacks terminatingReplicas
// (see kubernetesOnlyFields).
type ReplicaSet = appsv1.ReplicaSet

// ReplicaSetSpec is how many pods of which template, as a Deployment's
// spec says it without the strategy: a ReplicaSet never replaces a pod
// because its template changed, only because the pod is gone. Replicas
// defaults to 1; the selector is required, non-empty, matching the
// template's labels, and immutable (apps/v1).
type ReplicaSetSpec = appsv1.ReplicaSetSpec

// ReplicaSetStatus is what the ReplicaSet controller observed at its last
// sync: the counts `get rs` shows. Replicas is always written, as
// Kubernetes writes it, so that 0 shows.
type ReplicaSetStatus = appsv1.ReplicaSetStatus

// ReplicaSetConditionType names a ReplicaSet condition.
type ReplicaSetConditionType = appsv1.ReplicaSetConditionType

// ReplicaSetReplicaFailure is True while the controller fails to create or
// delete pods (a template the FSM refuses, a namespace being deleted), with
// reason FailedCreate or FailedDelete and the error, as in Kubernetes.
const ReplicaSetReplicaFailure = appsv1.ReplicaSetReplicaFailure

// ReplicaSetCondition is one observed aspect of a ReplicaSet.
type ReplicaSetCondition = appsv1.ReplicaSetCondition

// ReplicaSetList is the response of the ReplicaSet list endpoints, and a
// list kind DecodeManifests accepts (`get rs -o yaml` output).
type ReplicaSetList = appsv1.ReplicaSetList

// The annotations the Deployment controller keeps on its ReplicaSets, in
// Kubernetes' names: kubectl reads them for `rollout history` and `rollout
// undo`, and the controller for proportional scaling.
const (
	// AnnotationRevision numbers the rollouts of a Deployment: its newest
	// ReplicaSet has the highest revision, and the Deployment carries it too.
	AnnotationRevision = "deployment.kubernetes.io/revision"
	// AnnotationRevisionHistory lists the revisions a ReplicaSet had before
	// a rollback made it the newest again ("1,3").
	AnnotationRevisionHistory = "deployment.kubernetes.io/revision-history"
	// AnnotationDesiredReplicas is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled: a ReplicaSet whose value differs tells the
	// controller that the Deployment itself was scaled.
	AnnotationDesiredReplicas = "deployment.kubernetes.io/desired-replicas"
	// AnnotationMaxReplicas is spec.replicas + maxSurge at that time, the
	// base of each ReplicaSet's share when a Deployment is scaled in the
	// middle of a rollout.
	AnnotationMaxReplicas = "deployment.kubernetes.io/max-replicas"
	// AnnotationLastApplied is kubectl's record of the last applied
	// manifest; it is never copied from a Deployment to its ReplicaSets.
	AnnotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	// AnnotationChangeCause is what `rollout history` shows per revision;
	// the controller copies it from the Deployment to the new ReplicaSet.
	AnnotationChangeCause = "kubernetes.io/change-cause"
)
