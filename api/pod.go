package api

import (
	corev1 "k8s.io/api/core/v1"
)

// Pod is a v1 Pod, Kubernetes' own type: the unit of scheduling, a group of
// containers placed on one node together, sharing a sandbox (hostname, IPC,
// network, optionally PIDs) and volumes. gossipod implements a subset of its
// fields; strict decoding rejects every other one by its path (see
// kubernetesOnlyFields), so a manifest never runs as something else than
// what it asks for.
type Pod = corev1.Pod

// PodSpec is the desired state of a pod. Of its fields gossipod implements
// initContainers, containers, volumes, restartPolicy, shareProcessNamespace,
// hostname, nodeSelector, nodeName (set by the leader's placement, or by
// the user to bypass it), terminationGracePeriodSeconds (default 30),
// serviceAccountName (default "default", as ServiceAccount admission sets
// it; serviceAccount is its old alias, kept equal) and
// automountServiceAccountToken (stored; the token volume comes with
// Secrets) and securityContext (see PodSecurityContext).
type PodSpec = corev1.PodSpec

// PodTemplateSpec is the pod a Deployment or ReplicaSet makes its replicas
// from.
type PodTemplateSpec = corev1.PodTemplateSpec

// RestartPolicy says when the containers of a pod are restarted.
type RestartPolicy = corev1.RestartPolicy

// The restart policies of Kubernetes.
const (
	RestartPolicyAlways    = corev1.RestartPolicyAlways
	RestartPolicyOnFailure = corev1.RestartPolicyOnFailure
	RestartPolicyNever     = corev1.RestartPolicyNever
)

// PullPolicy says when an image is pulled.
type PullPolicy = corev1.PullPolicy

// The image pull policies of Kubernetes. The default is Always for the
// :latest tag or no tag, IfNotPresent otherwise.
const (
	PullAlways       = corev1.PullAlways
	PullIfNotPresent = corev1.PullIfNotPresent
	PullNever        = corev1.PullNever
)

// Container is one container of a pod: image, command and args (replacing
// the image's ENTRYPOINT and CMD), env and envFrom (see EnvVar), workingDir,
// ports, resources, volumeMounts and, on app containers, livenessProbe,
// readinessProbe and startupProbe (see Probe) and securityContext (see
// SecurityContext) are implemented.
type Container = corev1.Container

// EnvVar is one environment variable: a literal value ($(NAME) expanded)
// or, through valueFrom, a key of a ConfigMap or Secret, a field of the
// pod (the downward API) or a resource of a container, read once when the
// container starts.
type EnvVar = corev1.EnvVar

// Protocol is TCP, UDP or SCTP.
type Protocol = corev1.Protocol

// The port protocols.
const (
	ProtocolTCP  = corev1.ProtocolTCP
	ProtocolUDP  = corev1.ProtocolUDP
	ProtocolSCTP = corev1.ProtocolSCTP
)

// ContainerPort is a port the container listens on; HostPort, if set,
// makes it reachable on the node's address and takes the port on that node.
type ContainerPort = corev1.ContainerPort

// ResourceRequirements are what a container asks for (Requests, used by
// placement) and may use at most (Limits, enforced by cgroups). As in
// Kubernetes, a limit without a request makes the request equal the limit.
type ResourceRequirements = corev1.ResourceRequirements

// VolumeMount mounts one of the pod's volumes into a container.
type VolumeMount = corev1.VolumeMount

// Volume is a directory shared by the containers of a pod; gossipod
// implements the emptyDir, hostPath, configMap, secret, downwardAPI and
// projected sources.
type Volume = corev1.Volume

// VolumeSource is where a volume's content lives; exactly one is set.
type VolumeSource = corev1.VolumeSource

// EmptyDirVolumeSource is a directory created empty with the pod and
// removed with it; medium "" is the node's disk, "Memory" a tmpfs.
type EmptyDirVolumeSource = corev1.EmptyDirVolumeSource

// HostPathVolumeSource is a path of the node, bind-mounted; its type is
// "", Directory, DirectoryOrCreate, File or FileOrCreate.
type HostPathVolumeSource = corev1.HostPathVolumeSource

// HostPathTypeOf is a hostPath volume's type, "" when unset.
func HostPathTypeOf(h *HostPathVolumeSource) string {
	if h.Type == nil {
		return ""
	}
	return string(*h.Type)
}

// HostPathType says what a hostPath volume's path must be, or be made as.
type HostPathType = corev1.HostPathType

// PodPhase is the pod's place in its lifecycle.
type PodPhase = corev1.PodPhase

// The pod phases of Kubernetes.
const (
	PodPending   = corev1.PodPending
	PodRunning   = corev1.PodRunning
	PodSucceeded = corev1.PodSucceeded
	PodFailed    = corev1.PodFailed
	PodUnknown   = corev1.PodUnknown
)

// PodStatus is what the cluster observes of a pod.
type PodStatus = corev1.PodStatus

// PodIP is one IP address of a pod.
type PodIP = corev1.PodIP

// PodConditionType names a pod condition.
type PodConditionType = corev1.PodConditionType

// The pod conditions gossipod maintains.
const (
	PodScheduled    = corev1.PodScheduled
	PodInitialized  = corev1.PodInitialized
	ContainersReady = corev1.ContainersReady
	PodReady        = corev1.PodReady
)

// PodReasonUnschedulable is PodScheduled=False's reason for a pod that fits
// on no node.
const PodReasonUnschedulable = corev1.PodReasonUnschedulable

// PodReasonNodeLost is the reason of a pod the cluster marked Failed
// because its node was lost: the node must stop it if it comes back.
const PodReasonNodeLost = "NodeLost"

// PodCondition is one observed aspect of a pod.
type PodCondition = corev1.PodCondition

// ContainerStatus is the observed state of one container.
type ContainerStatus = corev1.ContainerStatus

// ContainerState is exactly one of waiting, running or terminated.
type ContainerState = corev1.ContainerState

// ContainerStateWaiting is a container not yet running, with why
// (ContainerCreating, PodInitializing, CrashLoopBackOff, ErrImagePull…).
type ContainerStateWaiting = corev1.ContainerStateWaiting

// ContainerStateRunning is a running container.
type ContainerStateRunning = corev1.ContainerStateRunning

// ContainerStateTerminated is a container that exited, with its exit code
// and reason (Completed, Error, OOMKilled…).
type ContainerStateTerminated = corev1.ContainerStateTerminated

// PodList is the response of the pod list endpoints.
type PodList = corev1.PodList

// GetPodCondition returns the pod's condition of type t, or nil.
func GetPodCondition(p *Pod, t PodConditionType) *PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Event is a v1 Event, Kubernetes' own type: a record of something that
// happened to an object (Scheduled, FailedScheduling, Pulled, Started,
// BackOff…), as `describe` shows it. gossipod records the core/v1 fields
// (involvedObject, reason, message, type, source, first and last
// timestamps, count) and leaves the events.k8s.io ones (eventTime, series,
// action, related, reportingComponent, reportingInstance) empty.
type Event = corev1.Event

// ObjectReference identifies the object an event is about.
type ObjectReference = corev1.ObjectReference

// EventSource is the component (and node) that reported an event.
type EventSource = corev1.EventSource

// EventList is the response of the event list endpoints.
type EventList = corev1.EventList

// The event types.
const (
	EventTypeNormal  = corev1.EventTypeNormal
	EventTypeWarning = corev1.EventTypeWarning
)
