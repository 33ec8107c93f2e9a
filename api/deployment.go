package api

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Deployment is an apps/v1 Deployment, Kubernetes' own type: it keeps a
// number of identical pods running, and rolls a changed pod template out to
// them step by step. As in Kubernetes, the leader's Deployment controller
// owns one ReplicaSet per pod template (named <deployment>-<TemplateHash>),
// and a rollout scales the new one up and the old ones down; the
// ReplicaSets own the pods. Of its spec gossipod implements every field:
// replicas (default 1), selector (required, matching the template's labels,
// immutable), template, strategy (RollingUpdate by default, with maxSurge
// and maxUnavailable 25%, or Recreate), minReadySeconds,
// revisionHistoryLimit (default 10), progressDeadlineSeconds (default 600)
// and paused. Its status lacks collisionCount and terminatingReplicas (see
// kubernetesOnlyFields).
type Deployment = appsv1.Deployment

// DeploymentSpec is what the user wants: how many pods of which template,
// and how to replace them when the template changes.
type DeploymentSpec = appsv1.DeploymentSpec

// LabelSelector selects objects by their labels: all of MatchLabels and all
// of MatchExpressions must hold. An empty selector selects everything, a nil
// one nothing; a Deployment's must be set and non-empty.
type LabelSelector = metav1.LabelSelector

// LabelSelectorRequirement is one set-based condition on a label key.
// Values must be non-empty for In and NotIn, and empty for Exists and
// DoesNotExist.
type LabelSelectorRequirement = metav1.LabelSelectorRequirement

// LabelSelectorOperator relates a label key to a set of values.
type LabelSelectorOperator = metav1.LabelSelectorOperator

// The operators of Kubernetes' label selectors.
const (
	LabelSelectorOpIn           = metav1.LabelSelectorOpIn
	LabelSelectorOpNotIn        = metav1.LabelSelectorOpNotIn
	LabelSelectorOpExists       = metav1.LabelSelectorOpExists
	LabelSelectorOpDoesNotExist = metav1.LabelSelectorOpDoesNotExist
)

// LabelSelectorAsSelector converts a LabelSelector to apimachinery's
// labels.Selector with metav1's own conversion, so that callers match pods
// with Kubernetes' semantics (and its String form, usable as `-l`). A nil
// selector selects nothing, an empty one everything. An error means the
// selector is invalid; a validated Deployment's selector always converts.
func LabelSelectorAsSelector(s *LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(s)
}

// DeploymentStrategyType names how a Deployment replaces its pods.
type DeploymentStrategyType = appsv1.DeploymentStrategyType

// The strategies of Kubernetes.
const (
	// RecreateDeploymentStrategyType deletes all old pods before creating
	// new ones: for applications that cannot run two versions at once.
	RecreateDeploymentStrategyType = appsv1.RecreateDeploymentStrategyType
	// RollingUpdateDeploymentStrategyType replaces pods a few at a time,
	// within maxSurge and maxUnavailable; the default.
	RollingUpdateDeploymentStrategyType = appsv1.RollingUpdateDeploymentStrategyType
)

// DeploymentStrategy is how a Deployment replaces pods of an old template:
// RollingUpdate (default), bounded by RollingUpdate, or Recreate.
type DeploymentStrategy = appsv1.DeploymentStrategy

// RollingUpdateDeployment bounds a rolling update, each bound a number of
// pods or a percentage of the replicas ("25%", the default of both):
// maxUnavailable rounds down, maxSurge up, and they are not both 0, or the
// update could never start.
type RollingUpdateDeployment = appsv1.RollingUpdateDeployment

// DeploymentStatus is what the controller observed at its last sync: the
// counts `get deployments` shows and `rollout status` waits on.
type DeploymentStatus = appsv1.DeploymentStatus

// DeploymentConditionType names a Deployment condition.
type DeploymentConditionType = appsv1.DeploymentConditionType

// The Deployment conditions gossipod maintains.
const (
	// DeploymentAvailable is True when at least replicas − maxUnavailable
	// pods are available.
	DeploymentAvailable = appsv1.DeploymentAvailable
	// DeploymentProgressing is True while a rollout makes progress or has
	// completed, False once progressDeadlineSeconds passed without any.
	DeploymentProgressing = appsv1.DeploymentProgressing
)

// DeploymentCondition is one observed aspect of a Deployment, as
// `describe deployment` shows it.
type DeploymentCondition = appsv1.DeploymentCondition

// GetDeploymentCondition returns the Deployment's condition of type t, or
// nil, so that callers need not loop over the conditions themselves.
func GetDeploymentCondition(d *Deployment, t DeploymentConditionType) *DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// DeploymentList is the response of the Deployment list endpoints, and a
// list kind DecodeManifests accepts (`get deployments -o yaml` output).
type DeploymentList = appsv1.DeploymentList

// LabelPodTemplateHash is the label the Deployment controller adds to each
// ReplicaSet's selector, template and labels, with the TemplateHash of the
// Deployment's template, so that the ReplicaSets of one Deployment never
// select each other's pods (Kubernetes' DefaultDeploymentUniqueLabelKey).
const LabelPodTemplateHash = appsv1.DefaultDeploymentUniqueLabelKey
