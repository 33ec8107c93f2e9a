package api

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Pod is the unit of scheduling: a group of containers placed on one node
// together, sharing a sandbox (hostname, IPC, network, optionally PIDs) and
// volumes. It has the shape of a Kubernetes v1 Pod, limited to the fields
// gossipod implements; decoding rejects every other field by its path.
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       PodSpec   `json:"spec"`
	Status     PodStatus `json:"status,omitempty"`
}

// PodSpec is the desired state of a pod.
type PodSpec struct {
	// InitContainers run one after the other, each to a successful exit,
	// before any of Containers starts.
	InitContainers []Container `json:"initContainers,omitempty"`
	Containers     []Container `json:"containers"`
	Volumes        []Volume    `json:"volumes,omitempty"`
	// RestartPolicy is Always (default), OnFailure or Never.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// ShareProcessNamespace puts all containers in one PID namespace whose
	// PID 1 is the pause process.
	ShareProcessNamespace *bool `json:"shareProcessNamespace,omitempty"`
	// Hostname is the pod's hostname; default: the pod's name.
	Hostname string `json:"hostname,omitempty"`
	// NodeSelector restricts placement to nodes with all these labels.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// NodeName is the node the pod is bound to. Set by the leader's
	// placement, or by the user to bypass it.
	NodeName string `json:"nodeName,omitempty"`
	// TerminationGracePeriodSeconds is how long containers get between
	// SIGTERM and SIGKILL; default 30.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// ServiceAccountName is the identity the pod runs as, a ServiceAccount
	// of its namespace; default "default", as Kubernetes' ServiceAccount
	// admission sets it. DeprecatedServiceAccount is its old alias, kept
	// equal to it.
	ServiceAccountName       string `json:"serviceAccountName,omitempty"`
	DeprecatedServiceAccount string `json:"serviceAccount,omitempty"`
	// AutomountServiceAccountToken says whether the pod gets its service
	// account's token mounted; accepted and stored (the token volume comes
	// with Secrets).
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`
}

// RestartPolicy says when the containers of a pod are restarted.
type RestartPolicy string

// The restart policies of Kubernetes.
const (
	RestartPolicyAlways    RestartPolicy = "Always"
	RestartPolicyOnFailure RestartPolicy = "OnFailure"
	RestartPolicyNever     RestartPolicy = "Never"
)

// PullPolicy says when an image is pulled.
type PullPolicy string

// The image pull policies of Kubernetes. The default is Always for the
// :latest tag or no tag, IfNotPresent otherwise.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Container is one container of a pod.
type Container struct {
	Name            string     `json:"name"`
	Image           string     `json:"image"`
	ImagePullPolicy PullPolicy `json:"imagePullPolicy,omitempty"`
	// Command replaces the image's ENTRYPOINT; Args replace its CMD.
	Command      []string             `json:"command,omitempty"`
	Args         []string             `json:"args,omitempty"`
	Env          []EnvVar             `json:"env,omitempty"`
	WorkingDir   string               `json:"workingDir,omitempty"`
	Ports        []ContainerPort      `json:"ports,omitempty"`
	Resources    ResourceRequirements `json:"resources,omitempty"`
	VolumeMounts []VolumeMount        `json:"volumeMounts,omitempty"`
}

// EnvVar is one environment variable, with a literal value.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Protocol is TCP, UDP or SCTP.
type Protocol string

// The port protocols.
const (
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
	ProtocolSCTP Protocol = "SCTP"
)

// ContainerPort is a port the container listens on; HostPort, if set,
// makes it reachable on the node's address and takes the port on that node.
type ContainerPort struct {
	Name          string   `json:"name,omitempty"`
	ContainerPort int32    `json:"containerPort"`
	HostPort      int32    `json:"hostPort,omitempty"`
	Protocol      Protocol `json:"protocol,omitempty"`
}

// ResourceRequirements are what a container asks for (Requests, used by
// placement) and may use at most (Limits, enforced by cgroups). As in
// Kubernetes, a limit without a request makes the request equal the limit.
type ResourceRequirements struct {
	Requests ResourceList `json:"requests,omitempty"`
	Limits   ResourceList `json:"limits,omitempty"`
}

// VolumeMount mounts one of the pod's volumes into a container.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// Volume is a directory shared by the containers of a pod.
type Volume struct {
	Name         string `json:"name"`
	VolumeSource `json:",inline"`
}

// VolumeSource is where a volume's content lives; exactly one is set.
type VolumeSource struct {
	EmptyDir *EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
}

// EmptyDirVolumeSource is a directory created empty with the pod and
// removed with it.
type EmptyDirVolumeSource struct {
	// Medium is "" (node disk) or "Memory" (tmpfs).
	Medium    string             `json:"medium,omitempty"`
	SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`
}

// HostPathVolumeSource is a path of the node, bind-mounted.
type HostPathVolumeSource struct {
	Path string `json:"path"`
	// Type is "", Directory, DirectoryOrCreate, File or FileOrCreate.
	Type string `json:"type,omitempty"`
}

// PodPhase is the pod's place in its lifecycle.
type PodPhase string

// The pod phases of Kubernetes.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
	PodUnknown   PodPhase = "Unknown"
)

// PodStatus is what the cluster observes of a pod.
type PodStatus struct {
	Phase                 PodPhase          `json:"phase,omitempty"`
	Conditions            []PodCondition    `json:"conditions,omitempty"`
	Message               string            `json:"message,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	HostIP                string            `json:"hostIP,omitempty"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []PodIP           `json:"podIPs,omitempty"`
	StartTime             *Time             `json:"startTime,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
}

// PodIP is one IP address of a pod.
type PodIP struct {
	IP string `json:"ip"`
}

// PodConditionType names a pod condition.
type PodConditionType string

// The pod conditions gossipod maintains.
const (
	PodScheduled    PodConditionType = "PodScheduled"
	PodInitialized  PodConditionType = "Initialized"
	ContainersReady PodConditionType = "ContainersReady"
	PodReady        PodConditionType = "Ready"
)

// PodReasonUnschedulable is PodScheduled=False's reason for a pod that fits
// on no node.
const PodReasonUnschedulable = "Unschedulable"

// PodReasonNodeLost is the reason of a pod the cluster marked Failed
// because its node was lost: the node must stop it if it comes back.
const PodReasonNodeLost = "NodeLost"

// PodCondition is one observed aspect of a pod.
type PodCondition struct {
	Type               PodConditionType `json:"type"`
	Status             ConditionStatus  `json:"status"`
	LastProbeTime      Time             `json:"lastProbeTime,omitempty"`
	LastTransitionTime Time             `json:"lastTransitionTime,omitempty"`
	Reason             string           `json:"reason,omitempty"`
	Message            string           `json:"message,omitempty"`
}

// ContainerStatus is the observed state of one container.
type ContainerStatus struct {
	Name         string         `json:"name"`
	State        ContainerState `json:"state,omitempty"`
	LastState    ContainerState `json:"lastState,omitempty"`
	Ready        bool           `json:"ready"`
	RestartCount int32          `json:"restartCount"`
	Image        string         `json:"image"`
	ImageID      string         `json:"imageID,omitempty"`
	ContainerID  string         `json:"containerID,omitempty"`
	Started      *bool          `json:"started,omitempty"`
}

// ContainerState is exactly one of waiting, running or terminated.
type ContainerState struct {
	Waiting    *ContainerStateWaiting    `json:"waiting,omitempty"`
	Running    *ContainerStateRunning    `json:"running,omitempty"`
	Terminated *ContainerStateTerminated `json:"terminated,omitempty"`
}

// ContainerStateWaiting is a container not yet running, with why
// (ContainerCreating, PodInitializing, CrashLoopBackOff, ErrImagePull…).
type ContainerStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStateRunning is a running container.
type ContainerStateRunning struct {
	StartedAt Time `json:"startedAt,omitempty"`
}

// ContainerStateTerminated is a container that exited, with its exit code
// and reason (Completed, Error, OOMKilled…).
type ContainerStateTerminated struct {
	ExitCode   int32  `json:"exitCode"`
	Signal     int32  `json:"signal,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Message    string `json:"message,omitempty"`
	StartedAt  Time   `json:"startedAt,omitempty"`
	FinishedAt Time   `json:"finishedAt,omitempty"`
}

// PodList is the response of the pod list endpoints.
type PodList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Pod `json:"items"`
}

// Condition returns the pod's condition of type t, or nil.
func (p *Pod) Condition(t PodConditionType) *PodCondition {
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
