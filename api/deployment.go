package api

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Deployment keeps a number of identical pods running, and rolls a changed
// pod template out to them step by step. It has the shape of a Kubernetes
// apps/v1 Deployment, limited to the fields gossipod implements, so that the
// same manifest works with kubectl and with gossipod; decoding rejects every
// other field by its path. As in Kubernetes, the leader's Deployment
// controller owns one ReplicaSet per pod template (named
// <deployment>-<TemplateHash>), and a rollout scales the new one up and the
// old ones down; the ReplicaSets own the pods.
type Deployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       DeploymentSpec   `json:"spec"`
	Status     DeploymentStatus `json:"status,omitempty"`
}

// DeploymentSpec is what the user wants: how many pods of which template,
// and how to replace them when the template changes.
type DeploymentSpec struct {
	// Replicas is the number of pods wanted; default 1. A pointer, as in
	// Kubernetes, so that an explicit 0 (scaled down) differs from "not set".
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector says which pods count as this Deployment's. Required, must
	// match the template's labels, and is immutable: changing it would
	// orphan the running pods.
	Selector *LabelSelector `json:"selector"`
	// Template is the pod every replica is made from.
	Template PodTemplateSpec `json:"template"`
	// Strategy is how pods of an old template are replaced.
	Strategy DeploymentStrategy `json:"strategy,omitempty"`
	// MinReadySeconds is how long a new pod must be ready, without a
	// container crashing, to count as available; default 0.
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is how many old ReplicaSets, scaled to zero, to
	// keep for `rollout undo`; default 10. Older ones are deleted.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// ProgressDeadlineSeconds is how long a rollout may go without progress
	// before its Progressing condition turns False with reason
	// ProgressDeadlineExceeded; default 600.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// Paused stops the controller from rolling out template changes
	// (scaling still happens), as `kubectl rollout pause` does.
	Paused bool `json:"paused,omitempty"`
}

// LabelSelector selects objects by their labels: all of MatchLabels and all
// of MatchExpressions must hold. An empty selector selects everything, a nil
// one nothing, as metav1.LabelSelector does; a Deployment's must be set and
// non-empty.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one set-based condition on a label key.
type LabelSelectorRequirement struct {
	Key      string                `json:"key"`
	Operator LabelSelectorOperator `json:"operator"`
	// Values must be non-empty for In and NotIn, and empty for Exists and
	// DoesNotExist.
	Values []string `json:"values,omitempty"`
}

// LabelSelectorOperator relates a label key to a set of values.
type LabelSelectorOperator string

// The operators of Kubernetes' label selectors.
const (
	LabelSelectorOpIn           LabelSelectorOperator = "In"
	LabelSelectorOpNotIn        LabelSelectorOperator = "NotIn"
	LabelSelectorOpExists       LabelSelectorOperator = "Exists"
	LabelSelectorOpDoesNotExist LabelSelectorOperator = "DoesNotExist"
)

// LabelSelectorAsSelector converts a LabelSelector to apimachinery's
// labels.Selector, as metav1.LabelSelectorAsSelector does, so that callers
// match pods with Kubernetes' own semantics (and its String form, usable as
// `-l`) instead of reimplementing them. A nil selector selects nothing, an
// empty one everything. An error means the selector is invalid; a validated
// Deployment's selector always converts.
func LabelSelectorAsSelector(s *LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Nothing(), nil
	}
	if len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		return labels.Everything(), nil
	}
	reqs := make([]labels.Requirement, 0, len(s.MatchLabels)+len(s.MatchExpressions))
	for _, k := range sortedKeys(s.MatchLabels) {
		r, err := labels.NewRequirement(k, selection.Equals, []string{s.MatchLabels[k]})
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, *r)
	}
	for _, e := range s.MatchExpressions {
		var op selection.Operator
		switch e.Operator {
		case LabelSelectorOpIn:
			op = selection.In
		case LabelSelectorOpNotIn:
			op = selection.NotIn
		case LabelSelectorOpExists:
			op = selection.Exists
		case LabelSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return nil, fmt.Errorf("%q is not a valid label selector operator", e.Operator)
		}
		r, err := labels.NewRequirement(e.Key, op, append([]string(nil), e.Values...))
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, *r)
	}
	return labels.NewSelector().Add(reqs...), nil
}

// DeploymentStrategyType names how a Deployment replaces its pods.
type DeploymentStrategyType string

// The strategies of Kubernetes.
const (
	// RecreateDeploymentStrategyType deletes all old pods before creating
	// new ones: for applications that cannot run two versions at once.
	RecreateDeploymentStrategyType DeploymentStrategyType = "Recreate"
	// RollingUpdateDeploymentStrategyType replaces pods a few at a time,
	// within maxSurge and maxUnavailable; the default.
	RollingUpdateDeploymentStrategyType DeploymentStrategyType = "RollingUpdate"
)

// DeploymentStrategy is how a Deployment replaces pods of an old template.
type DeploymentStrategy struct {
	// Type is RollingUpdate (default) or Recreate.
	Type DeploymentStrategyType `json:"type,omitempty"`
	// RollingUpdate bounds a rolling update; only with type RollingUpdate.
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// RollingUpdateDeployment bounds a rolling update, each bound a number of
// pods or a percentage of the replicas ("25%", the default of both).
type RollingUpdateDeployment struct {
	// MaxUnavailable is how many of the wanted replicas may be unavailable
	// during the update; a percentage rounds down.
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is how many pods may exist above the wanted replicas during
	// the update; a percentage rounds up. Not 0 when MaxUnavailable is 0,
	// or the update could never start.
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
}

// DeploymentStatus is what the controller observed at its last sync: the
// counts `get deployments` shows and `rollout status` waits on.
type DeploymentStatus struct {
	// ObservedGeneration is the metadata.generation the controller last
	// acted on; a status with a smaller one is stale.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Replicas counts the Deployment's pods that are not terminating, of
	// any template.
	Replicas int32 `json:"replicas,omitempty"`
	// UpdatedReplicas counts those of the current template.
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// ReadyReplicas counts those whose Ready condition is True.
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// AvailableReplicas counts those ready for at least minReadySeconds.
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// UnavailableReplicas is how many more would have to be available to
	// reach spec.replicas.
	UnavailableReplicas int32                 `json:"unavailableReplicas,omitempty"`
	Conditions          []DeploymentCondition `json:"conditions,omitempty"`
}

// DeploymentConditionType names a Deployment condition.
type DeploymentConditionType string

// The Deployment conditions gossipod maintains.
const (
	// DeploymentAvailable is True when at least replicas − maxUnavailable
	// pods are available.
	DeploymentAvailable DeploymentConditionType = "Available"
	// DeploymentProgressing is True while a rollout makes progress or has
	// completed, False once progressDeadlineSeconds passed without any.
	DeploymentProgressing DeploymentConditionType = "Progressing"
)

// DeploymentCondition is one observed aspect of a Deployment, as
// `describe deployment` shows it.
type DeploymentCondition struct {
	Type               DeploymentConditionType `json:"type"`
	Status             ConditionStatus         `json:"status"`
	LastUpdateTime     Time                    `json:"lastUpdateTime,omitempty"`
	LastTransitionTime Time                    `json:"lastTransitionTime,omitempty"`
	Reason             string                  `json:"reason,omitempty"`
	Message            string                  `json:"message,omitempty"`
}

// Condition returns the Deployment's condition of type t, or nil, so that
// callers need not loop over the conditions themselves.
func (d *Deployment) Condition(t DeploymentConditionType) *DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// DeploymentList is the response of the Deployment list endpoints, and a
// list kind DecodeManifests accepts (`get deployments -o yaml` output).
type DeploymentList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Deployment `json:"items"`
}

// LabelPodTemplateHash is the label the Deployment controller adds to each
// ReplicaSet's selector, template and labels, with the TemplateHash of the
// Deployment's template, so that the ReplicaSets of one Deployment never
// select each other's pods (Kubernetes' DefaultDeploymentUniqueLabelKey).
const LabelPodTemplateHash = "pod-template-hash"
