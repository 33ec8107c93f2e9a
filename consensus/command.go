package consensus

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// CommandType names what a Command does to the State.
type CommandType string

// The commands the FSM applies. Each payload type below documents its own.
const (
	CmdRegisterNode      CommandType = "RegisterNode"
	CmdSetNodeConditions CommandType = "SetNodeConditions"
	CmdDeleteNode        CommandType = "DeleteNode"
)

// Command is the one envelope every change to the State travels in, through
// the Raft log and between agents when a follower forwards a write to the
// leader. Time is stamped once by the leader before the entry is appended, so
// every replica applies the same timestamps and Apply stays deterministic.
type Command struct {
	Type    CommandType     `json:"type"`
	Time    time.Time       `json:"time"`
	Payload json.RawMessage `json:"payload"`
}

// NewCommand wraps payload in an envelope of type t.
func NewCommand(t CommandType, payload any) (Command, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Command{}, fmt.Errorf("encode %s command: %w", t, err)
	}
	return Command{Type: t, Payload: raw}, nil
}

// RegisterNode creates a node or updates what its agent reports about itself:
// labels, addresses, capacity, allocatable and system info. Fields the cluster
// owns (uid, creation time, conditions, spec) are kept when the node exists;
// for a new node uid comes from the command and the creation time is the
// command's time. A registration api.ValidateNode refuses is a 422.
type RegisterNode struct {
	Node api.Node `json:"node"`
}

// SetNodeConditions sets conditions on several nodes in one log entry.
// Updates for nodes that do not exist are skipped: the node may have been
// deleted after the leader decided. A condition's lastTransitionTime changes
// only when its status does.
type SetNodeConditions struct {
	Updates []NodeConditionUpdate `json:"updates"`
}

// NodeConditionUpdate is one condition for one node.
type NodeConditionUpdate struct {
	Node      string            `json:"node"`
	Condition api.NodeCondition `json:"condition"`
}

// DeleteNode removes a node object.
type DeleteNode struct {
	Name string `json:"name"`
}

// Pod commands.
const (
	CmdCreatePod            CommandType = "CreatePod"
	CmdUpdatePod            CommandType = "UpdatePod"
	CmdDeletePod            CommandType = "DeletePod"
	CmdBindPods             CommandType = "BindPods"
	CmdSetPodsUnschedulable CommandType = "SetPodsUnschedulable"
	CmdSetPodStatuses       CommandType = "SetPodStatuses"
	CmdRecordEvents         CommandType = "RecordEvents"
)

// CreatePod stores a new pod. The proposer sets its uid; the FSM sets the
// creation time, resourceVersion and phase Pending. A pod created with
// spec.nodeName is bound at once if it fits on that node, and otherwise
// Failed with the kubelet's OutOf<resource> reason, as Kubernetes does. The
// response is the stored pod; a pod that exists already is a 409, and one
// that api.ValidateNewPod refuses (an invalid name, uid, volume…) is a 422
// Invalid naming the field, identically on every replica.
type CreatePod struct {
	Pod api.Pod `json:"pod"`
}

// UpdatePod replaces a pod's labels, annotations and spec. A non-empty
// resourceVersion must match the stored one, or the update is a 409
// Conflict. The FSM checks the result against the committed pod with
// api.ValidatePodUpdate (only what Kubernetes allows may change) and
// refuses anything else with a 422, whatever the API layer checked against
// the version it read. An empty spec.nodeName keeps the pod's binding. The
// response is the stored pod.
type UpdatePod struct {
	Pod api.Pod `json:"pod"`
}

// DeletePod deletes a pod. An unbound or finished pod, or one deleted with
// a grace period of 0, goes at once; a pod bound to a node becomes
// Terminating (deletionTimestamp set) and goes when its node confirms with
// a grace period of 0. UID, if set, must match. The response is the pod.
type DeletePod struct {
	Namespace          string    `json:"namespace"`
	Name               string    `json:"name"`
	UID                types.UID `json:"uid,omitempty"`
	GracePeriodSeconds *int64    `json:"gracePeriodSeconds,omitempty"`
}

// BindPods binds pods to nodes in one log entry. Each binding is checked
// against the committed state: the pod must exist with that uid, be unbound
// and not terminating, and fit on the node given every pod already bound
// there (resources, pod slots, host ports). A binding that fails the check
// is rejected, identically on every replica, and the others still apply;
// this is what keeps a stale leader view from overcommitting a node.
type BindPods struct {
	Bindings []PodBinding `json:"bindings"`
}

// PodBinding places one pod on one node.
type PodBinding struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	Node      string    `json:"node"`
}

// BindResult is the response of BindPods.
type BindResult struct {
	Bound    []string        `json:"bound,omitempty"`
	Rejected []BindRejection `json:"rejected,omitempty"`
}

// BindRejection says why one binding was refused.
type BindRejection struct {
	Pod    string `json:"pod"`
	Reason string `json:"reason"`
}

// SetPodsUnschedulable records that pods fit on no node: PodScheduled is
// False with reason Unschedulable and the scheduler's message. A
// FailedScheduling event is recorded only when the message changes, so
// retries do not grow the log of a quiet cluster.
type SetPodsUnschedulable struct {
	Updates []UnschedulablePod `json:"updates"`
}

// UnschedulablePod is one pod that could not be placed.
type UnschedulablePod struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	Message   string    `json:"message"`
}

// SetPodStatuses records the status that nodes observe of their pods, in
// one log entry per batch. An update is ignored unless the pod exists with
// that uid and is bound to the reporting node.
type SetPodStatuses struct {
	Node    string            `json:"node"`
	Updates []PodStatusUpdate `json:"updates"`
}

// PodStatusUpdate is one pod's observed status.
type PodStatusUpdate struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	UID       types.UID     `json:"uid"`
	Status    api.PodStatus `json:"status"`
}

// RecordEvents stores events; an event with the same object, reason and
// message as a stored one increments its count instead, as Kubernetes'
// event aggregation does. Missing timestamps are the command's time.
type RecordEvents struct {
	Events []api.Event `json:"events"`
}

// Cluster network commands.
const (
	CmdSetClusterNetwork CommandType = "SetClusterNetwork"
	CmdAssignPodCIDRs    CommandType = "AssignPodCIDRs"
)

// ClusterNetwork is the cluster-wide network configuration: the range pod
// IPs come from and the size of each node's share of it. The first leader
// records it from its flags; afterwards the recorded value is the truth,
// so agents started with different flags cannot split the range.
type ClusterNetwork struct {
	ClusterCIDR      string `json:"clusterCIDR"`
	NodeCIDRMaskSize int    `json:"nodeCIDRMaskSize"`
	// ServiceCIDR is the range cluster IPs come from (--service-cidr).
	// A cluster recorded by a gossipod without Services has none until
	// its next leader records it.
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
}

// SetClusterNetwork records the cluster network once; a second, different
// value is rejected with a 409.
type SetClusterNetwork struct {
	Network ClusterNetwork `json:"network"`
}

// AssignPodCIDRs gives nodes their pod CIDRs in one entry. An assignment
// is skipped, identically on every replica, if the node is gone, already
// has a CIDR, or the CIDR is outside the cluster CIDR, of the wrong size
// or overlaps another node's.
type AssignPodCIDRs struct {
	Assignments []PodCIDRAssignment `json:"assignments"`
}

// PodCIDRAssignment is one node's pod CIDR.
type PodCIDRAssignment struct {
	Node string `json:"node"`
	CIDR string `json:"cidr"`
}

// Deployment, batch pod and node-lifecycle commands.
const (
	CmdCreateDeployment     CommandType = "CreateDeployment"
	CmdUpdateDeployment     CommandType = "UpdateDeployment"
	CmdDeleteDeployment     CommandType = "DeleteDeployment"
	CmdSetDeploymentStatus  CommandType = "SetDeploymentStatus"
	CmdCreatePods           CommandType = "CreatePods"
	CmdDeletePods           CommandType = "DeletePods"
	CmdSetPodsFailed        CommandType = "SetPodsFailed"
	CmdSetNodeUnschedulable CommandType = "SetNodeUnschedulable"
	CmdEvictPod             CommandType = "EvictPod"
)

// CreateDeployment stores a new Deployment (uid set by the proposer); the
// response is the stored object, a 409 if it exists, a 422 if
// api.ValidateNewDeployment refuses it.
type CreateDeployment struct {
	Deployment api.Deployment `json:"deployment"`
}

// UpdateDeployment replaces a Deployment's labels, annotations and spec,
// with the resourceVersion precondition of UpdatePod; generation moves
// when the spec changes. The result must pass api.ValidateDeploymentUpdate
// against the committed Deployment (a 422 otherwise). The response is the
// stored object.
type UpdateDeployment struct {
	Deployment api.Deployment `json:"deployment"`
}

// DeleteDeployment deletes a Deployment and, as Kubernetes' garbage
// collector does, its dependents (its ReplicaSets, and theirs, the pods:
// unbound pods at once, bound ones gracefully), as PropagationPolicy says:
// Background (the default, when empty) removes the Deployment at once;
// Foreground keeps it, with deletionTimestamp and the foregroundDeletion
// finalizer, until the dependents are gone; Orphan keeps the dependents
// and removes their reference to it. UID, when set, is a precondition
// (409). The response is the Deployment as last stored.
type DeleteDeployment struct {
	Namespace         string                  `json:"namespace"`
	Name              string                  `json:"name"`
	UID               types.UID               `json:"uid,omitempty"`
	PropagationPolicy api.DeletionPropagation `json:"propagationPolicy,omitempty"`
}

// SetDeploymentStatus records what the controller observed, and the
// revision of the Deployment's newest ReplicaSet as its
// deployment.kubernetes.io/revision annotation when Revision is set (as
// Kubernetes' controller writes it with the status).
type SetDeploymentStatus struct {
	Namespace string               `json:"namespace"`
	Name      string               `json:"name"`
	UID       types.UID            `json:"uid"`
	Status    api.DeploymentStatus `json:"status"`
	Revision  string               `json:"revision,omitempty"`
}

// CreatePods creates several pods in one entry, as a controller scaling up
// does; a pod that already exists, or that CreatePod would refuse as
// invalid, is skipped. The response is the number created.
type CreatePods struct {
	Pods []api.Pod `json:"pods"`
}

// DeletePods deletes several pods in one entry; a missing pod is skipped.
type DeletePods struct {
	Deletes []DeletePod `json:"deletes"`
}

// SetPodsFailed marks pods Failed with a reason, e.g. NodeLost for the
// pods of a node gossip lost: they stop holding the node's resources and
// their controllers replace them.
type SetPodsFailed struct {
	Updates []FailedPod `json:"updates"`
}

// FailedPod is one pod to mark Failed.
type FailedPod struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
}

// SetNodeUnschedulable cordons or uncordons a node.
type SetNodeUnschedulable struct {
	Name          string `json:"name"`
	Unschedulable bool   `json:"unschedulable"`
}

// EvictPod deletes a pod gracefully unless that would leave its
// Deployment with fewer available pods than replicas − maxUnavailable;
// then it is a 429, as Kubernetes' eviction API answers when a disruption
// budget would be violated. The check is against the committed state, so
// concurrent evictions cannot both pass it.
type EvictPod struct {
	Namespace          string    `json:"namespace"`
	Name               string    `json:"name"`
	UID                types.UID `json:"uid,omitempty"`
	GracePeriodSeconds *int64    `json:"gracePeriodSeconds,omitempty"`
}

// API token commands.
const (
	CmdCreateToken CommandType = "CreateToken"
	CmdDeleteToken CommandType = "DeleteToken"
)

// CreateToken stores a new API token: its id, role, description and the
// SHA-256 of its secret, never the secret. The creation time is the
// command's; the token expires TTLSeconds later, or never when 0. The FSM
// checks every field's format and refuses an id in use (409); expired
// tokens are pruned on the way. The response is the stored token.
type CreateToken struct {
	ID          string         `json:"id"`
	Role        api.AccessRole `json:"role"`
	Description string         `json:"description,omitempty"`
	SecretHash  string         `json:"secretHash"`
	TTLSeconds  int64          `json:"ttlSeconds,omitempty"`
}

// DeleteToken revokes a token; the response is the token as it was, a 404
// if there is none with that id.
type DeleteToken struct {
	ID string `json:"id"`
}
