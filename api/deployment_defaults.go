package api

import "k8s.io/apimachinery/pkg/util/intstr"

// Defaults that SetDeploymentDefaults fills in, those of Kubernetes' apps/v1.
const (
	// DefaultDeploymentReplicas is the replica count of a Deployment that
	// names none.
	DefaultDeploymentReplicas int32 = 1
	// DefaultMaxSurge and DefaultMaxUnavailable bound a rolling update that
	// does not say: a quarter of the replicas each way.
	DefaultMaxSurge       = "25%"
	DefaultMaxUnavailable = "25%"
	// DefaultRevisionHistoryLimit is how many old revisions are kept.
	DefaultRevisionHistoryLimit int32 = 10
	// DefaultProgressDeadlineSeconds is how long a rollout may make no
	// progress before it is reported as failed.
	DefaultProgressDeadlineSeconds int32 = 600
)

// SetDeploymentDefaults fills in what a Deployment manifest may leave out,
// where the Kubernetes API server would, so that the stored object says
// what the controller will do and `get -o yaml` shows it:
//
//   - metadata.namespace: "default";
//   - spec.replicas: 1;
//   - spec.strategy.type: RollingUpdate, and for RollingUpdate,
//     rollingUpdate.maxSurge and maxUnavailable: 25% each;
//   - spec.revisionHistoryLimit: 10; spec.progressDeadlineSeconds: 600;
//   - spec.template.spec: as SetPodDefaults defaults a pod's spec
//     (restartPolicy Always, terminationGracePeriodSeconds 30,
//     imagePullPolicy, port protocols, requests from limits), so that pods
//     made from the template, and its TemplateHash, do not depend on
//     when defaulting happened.
//
// The template's own metadata is left alone: its namespace is the
// Deployment's. Like SetPodDefaults it only sets empty fields and is
// idempotent. Call it before ValidateDeployment.
func SetDeploymentDefaults(d *Deployment) {
	if d.Namespace == "" {
		d.Namespace = DefaultNamespace
	}
	s := &d.Spec
	if s.Replicas == nil {
		v := DefaultDeploymentReplicas
		s.Replicas = &v
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &RollingUpdateDeployment{}
		}
		ru := s.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			v := intstr.FromString(DefaultMaxUnavailable)
			ru.MaxUnavailable = &v
		}
		if ru.MaxSurge == nil {
			v := intstr.FromString(DefaultMaxSurge)
			ru.MaxSurge = &v
		}
	}
	if s.RevisionHistoryLimit == nil {
		v := DefaultRevisionHistoryLimit
		s.RevisionHistoryLimit = &v
	}
	if s.ProgressDeadlineSeconds == nil {
		v := DefaultProgressDeadlineSeconds
		s.ProgressDeadlineSeconds = &v
	}
	setPodSpecDefaults(&s.Template.Spec)
}
