package api

// ReplicaSet keeps a number of pods of one template running. It has the
// shape of a Kubernetes apps/v1 ReplicaSet, limited to the fields gossipod
// implements. A Deployment makes one ReplicaSet per pod template, named
// <deployment>-<TemplateHash>, and scales them to roll a new template out;
// a ReplicaSet created by a user, without an owner, is run the same way, as
// in Kubernetes. The leader's ReplicaSet controller creates the pods
// (<replicaset>-<suffix>, owned by the ReplicaSet) and deletes the surplus.
type ReplicaSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       ReplicaSetSpec   `json:"spec"`
	Status     ReplicaSetStatus `json:"status,omitempty"`
}

// ReplicaSetSpec is how many pods of which template, as a Deployment's
// spec says it without the strategy: a ReplicaSet never replaces a pod
// because its template changed, only because the pod is gone.
type ReplicaSetSpec struct {
	// Replicas is the number of pods wanted; default 1.
	Replicas *int32 `json:"replicas,omitempty"`
	// MinReadySeconds is how long a pod must be ready to count as
	// available; default 0. A Deployment's ReplicaSets carry the
	// Deployment's.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// Selector says which pods are this ReplicaSet's: required, non-empty,
	// matching the template's labels, and immutable (apps/v1).
	Selector *LabelSelector `json:"selector"`
	// Template is the pod every replica is made from. Changing it changes
	// the pods created afterwards only.
	Template PodTemplateSpec `json:"template,omitempty"`
}

// ReplicaSetStatus is what the ReplicaSet controller observed at its last
// sync: the counts `get rs` shows.
type ReplicaSetStatus struct {
	// Replicas counts the pods that are neither finished nor being
	// deleted. Always written, as Kubernetes writes it, so that 0 shows.
	Replicas int32 `json:"replicas"`
	// FullyLabeledReplicas counts those whose labels still match the
	// template's: a pod relabelled by hand is not fully labelled.
	FullyLabeledReplicas int32 `json:"fullyLabeledReplicas,omitempty"`
	// ReadyReplicas counts those whose Ready condition is True.
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// AvailableReplicas counts those ready for at least minReadySeconds.
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// ObservedGeneration is the metadata.generation the controller last
	// acted on.
	ObservedGeneration int64                 `json:"observedGeneration,omitempty"`
	Conditions         []ReplicaSetCondition `json:"conditions,omitempty"`
}

// ReplicaSetConditionType names a ReplicaSet condition.
type ReplicaSetConditionType string

// ReplicaSetReplicaFailure is True while the controller fails to create or
// delete pods (a template the FSM refuses, a namespace being deleted), with
// reason FailedCreate or FailedDelete and the error, as in Kubernetes.
const ReplicaSetReplicaFailure ReplicaSetConditionType = "ReplicaFailure"

// ReplicaSetCondition is one observed aspect of a ReplicaSet.
type ReplicaSetCondition struct {
	Type               ReplicaSetConditionType `json:"type"`
	Status             ConditionStatus         `json:"status"`
	LastTransitionTime Time                    `json:"lastTransitionTime,omitempty"`
	Reason             string                  `json:"reason,omitempty"`
	Message            string                  `json:"message,omitempty"`
}

// ReplicaSetList is the response of the ReplicaSet list endpoints, and a
// list kind DecodeManifests accepts (`get rs -o yaml` output).
type ReplicaSetList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []ReplicaSet `json:"items"`
}

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
