package api

import "k8s.io/apimachinery/pkg/api/resource"

// ResourceName names a schedulable resource, as in Kubernetes.
type ResourceName string

// The resources gossipod accounts for.
const (
	ResourceCPU    ResourceName = "cpu"
	ResourceMemory ResourceName = "memory"
	ResourcePods   ResourceName = "pods"
)

// ResourceList maps resource names to quantities ("cpu": "500m", "memory": "3Gi").
type ResourceList map[ResourceName]resource.Quantity

// Well-known node labels that gossipod sets on every node, as the kubelet does.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelOS       = "kubernetes.io/os"
	LabelArch     = "kubernetes.io/arch"
)

// Node is one machine running a gossipod agent, in the shape of a Kubernetes v1 Node.
type Node struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       NodeSpec   `json:"spec"`
	Status     NodeStatus `json:"status"`
}

// NodeSpec is the desired state of a node that users and the cluster may set.
type NodeSpec struct {
	// PodCIDR is the range this node's pods take their IPs from, given by
	// the leader out of the cluster CIDR; PodCIDRs repeats it, as in
	// Kubernetes (one entry: gossipod is IPv4 only).
	PodCIDR  string   `json:"podCIDR,omitempty"`
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// Unschedulable keeps new pods off the node (cordon).
	Unschedulable bool `json:"unschedulable,omitempty"`
}

// NodeStatus is what the cluster observes about a node.
type NodeStatus struct {
	Capacity    ResourceList `json:"capacity,omitempty"`
	Allocatable ResourceList `json:"allocatable,omitempty"`
	// Allocated is the sum of the requests of the pods bound to the node
	// and not yet finished: what `kubectl describe node` calls "Allocated
	// resources". gossipod reports it in the status, computed by the
	// cluster, so `get nodes -o wide` can show it.
	Allocated  ResourceList    `json:"allocated,omitempty"`
	Conditions []NodeCondition `json:"conditions,omitempty"`
	Addresses  []NodeAddress   `json:"addresses,omitempty"`
	NodeInfo   NodeSystemInfo  `json:"nodeInfo"`
}

// NodeConditionType names a node condition; gossipod maintains Ready.
type NodeConditionType string

// NodeReady is the condition that follows the agent's gossip state.
const NodeReady NodeConditionType = "Ready"

// ConditionStatus is True, False or Unknown, as in Kubernetes.
type ConditionStatus string

// The three condition states.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// NodeCondition is one observed aspect of a node's health.
type NodeCondition struct {
	Type               NodeConditionType `json:"type"`
	Status             ConditionStatus   `json:"status"`
	LastHeartbeatTime  Time              `json:"lastHeartbeatTime,omitempty"`
	LastTransitionTime Time              `json:"lastTransitionTime,omitempty"`
	Reason             string            `json:"reason,omitempty"`
	Message            string            `json:"message,omitempty"`
}

// NodeAddressType says what kind of address a NodeAddress is.
type NodeAddressType string

// The address types gossipod reports.
const (
	NodeHostName   NodeAddressType = "Hostname"
	NodeInternalIP NodeAddressType = "InternalIP"
)

// NodeAddress is one way to reach a node.
type NodeAddress struct {
	Type    NodeAddressType `json:"type"`
	Address string          `json:"address"`
}

// NodeSystemInfo describes the node's software, as `kubectl get nodes -o wide` shows it.
type NodeSystemInfo struct {
	OperatingSystem string `json:"operatingSystem,omitempty"`
	Architecture    string `json:"architecture,omitempty"`
	KernelVersion   string `json:"kernelVersion,omitempty"`
	OSImage         string `json:"osImage,omitempty"`
	KubeletVersion  string `json:"kubeletVersion,omitempty"`
}

// NodeList is the response of GET /api/v1/nodes.
type NodeList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Node `json:"items"`
}

// Condition returns the node's condition of type t, or nil.
func (n *Node) Condition(t NodeConditionType) *NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// IsReady reports whether the node's Ready condition is True.
func (n *Node) IsReady() bool {
	c := n.Condition(NodeReady)
	return c != nil && c.Status == ConditionTrue
}

// InternalIP returns the node's first InternalIP address, or "".
func (n *Node) InternalIP() string {
	for _, a := range n.Status.Addresses {
		if a.Type == NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
