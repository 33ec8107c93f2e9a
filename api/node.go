package api

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// ResourceName names a schedulable resource, as in Kubernetes.
type ResourceName = corev1.ResourceName

// The resources gossipod accounts for.
const (
	ResourceCPU    = corev1.ResourceCPU
	ResourceMemory = corev1.ResourceMemory
	ResourcePods   = corev1.ResourcePods
	// ResourceEphemeralStorage is local ephemeral storage, in bytes: the
	// node's data dir file system, which holds the pods' writable layers,
	// logs and emptyDirs.
	ResourceEphemeralStorage = corev1.ResourceEphemeralStorage
)

// ResourceList maps resource names to quantities ("cpu": "500m", "memory": "3Gi").
type ResourceList = corev1.ResourceList

// Well-known node labels that gossipod sets on every node, as the kubelet does.
const (
	LabelHostname = corev1.LabelHostname
	LabelOS       = corev1.LabelOSStable
	LabelArch     = corev1.LabelArchStable
)

// AnnotationAllocated is the annotation in which the cluster reports, on
// every node it returns, the sum of the requests of the pods bound to the
// node and not yet finished: what `kubectl describe node` calls "Allocated
// resources", as a JSON ResourceList ({"cpu":"1500m","memory":"3Gi","pods":"4"}).
// v1 NodeStatus has no field for it (kubectl sums the node's pods itself);
// gossipod derives it from the committed state on every read so that `get
// nodes -o wide` can show it without listing every pod. It is never stored:
// a value sent by a client is dropped.
const AnnotationAllocated = "gossipod.io/allocated"

// NodeAllocated reads AnnotationAllocated; nil when absent or unreadable.
func NodeAllocated(n *Node) ResourceList {
	v, ok := n.Annotations[AnnotationAllocated]
	if !ok {
		return nil
	}
	var l ResourceList
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		return nil
	}
	return l
}

// SetNodeAllocated writes l to n's AnnotationAllocated.
func SetNodeAllocated(n *Node, l ResourceList) {
	b, err := json.Marshal(l)
	if err != nil {
		// A ResourceList of Quantities always marshals.
		return
	}
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[AnnotationAllocated] = string(b)
}

// Node is a v1 Node, Kubernetes' own type: one machine running a gossipod
// agent. The agent registers it with its capacity, allocatable resources,
// addresses and system info, and the cluster keeps its Ready condition in
// step with gossip; spec.podCIDR(s) come from the leader's allocator and
// spec.unschedulable from cordon.
type Node = corev1.Node

// NodeSpec is the desired state of a node that users and the cluster may set.
type NodeSpec = corev1.NodeSpec

// NodeStatus is what the cluster observes about a node.
type NodeStatus = corev1.NodeStatus

// NodeConditionType names a node condition; gossipod maintains Ready.
type NodeConditionType = corev1.NodeConditionType

// NodeReady is the condition that follows the agent's gossip state.
const NodeReady = corev1.NodeReady

// ConditionStatus is True, False or Unknown, as in Kubernetes.
type ConditionStatus = corev1.ConditionStatus

// The three condition states.
const (
	ConditionTrue    = corev1.ConditionTrue
	ConditionFalse   = corev1.ConditionFalse
	ConditionUnknown = corev1.ConditionUnknown
)

// NodeCondition is one observed aspect of a node's health.
type NodeCondition = corev1.NodeCondition

// NodeAddressType says what kind of address a NodeAddress is.
type NodeAddressType = corev1.NodeAddressType

// The address types gossipod reports.
const (
	NodeHostName   = corev1.NodeHostName
	NodeInternalIP = corev1.NodeInternalIP
)

// NodeAddress is one way to reach a node.
type NodeAddress = corev1.NodeAddress

// NodeSystemInfo describes the node's software, as `kubectl get nodes -o wide` shows it.
type NodeSystemInfo = corev1.NodeSystemInfo

// NodeList is the response of GET /api/v1/nodes.
type NodeList = corev1.NodeList

// GetNodeCondition returns the node's condition of type t, or nil.
func GetNodeCondition(n *Node, t NodeConditionType) *NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// NodeIsReady reports whether the node's Ready condition is True.
func NodeIsReady(n *Node) bool {
	c := GetNodeCondition(n, NodeReady)
	return c != nil && c.Status == ConditionTrue
}

// NodeInternalIPOf returns the node's first InternalIP address, or "".
func NodeInternalIPOf(n *Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
