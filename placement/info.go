package placement

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// NodeInfo is placement's view of one node: what it offers and what the
// pods already bound to it take. The leader builds it from committed state
// (NewNodeInfo) so that its decisions agree with the FSM's overcommit check.
// Place reads it and never writes to it or to its maps.
type NodeInfo struct {
	Name          string
	Labels        map[string]string
	Ready         bool
	Unschedulable bool
	// Taints are the node's taints; the pod must tolerate those with the
	// NoSchedule and NoExecute effects. Shared with the node object.
	Taints      []api.Taint
	Allocatable api.Resources
	// Requested is the sum of api.PodRequests of the non-terminal pods
	// bound to the node; Requested.Pods is how many there are.
	Requested api.Resources
	// HostPorts are the host ports those pods take.
	HostPorts map[api.HostPort]bool
	// OwnerPods counts those pods by controller owner UID, for owner spread.
	OwnerPods map[types.UID]int
}

// NewNodeInfo builds a node's view from the node object and the pods bound
// to it. Terminal pods (Succeeded, Failed) are skipped: they no longer hold
// resources or ports. The pods are trusted to be bound to n; the node's
// label map is shared, not copied, since placement only reads it.
func NewNodeInfo(n *api.Node, bound []*api.Pod) NodeInfo {
	ni := NodeInfo{
		Name:          n.Name,
		Labels:        n.Labels,
		Ready:         api.NodeIsReady(n),
		Unschedulable: n.Spec.Unschedulable,
		Taints:        n.Spec.Taints,
		Allocatable:   api.ResourcesOf(n.Status.Allocatable),
	}
	for _, p := range bound {
		if p == nil || api.IsTerminal(p) {
			continue
		}
		ni.Requested = ni.Requested.Add(api.PodRequests(p))
		for _, hp := range api.PodHostPorts(p) {
			if ni.HostPorts == nil {
				ni.HostPorts = make(map[api.HostPort]bool)
			}
			ni.HostPorts[hp] = true
		}
		if uid := ControllerUID(p); uid != "" {
			if ni.OwnerPods == nil {
				ni.OwnerPods = make(map[types.UID]int)
			}
			ni.OwnerPods[uid]++
		}
	}
	return ni
}

// PodInfo is what placement needs to know about a pending pod.
type PodInfo struct {
	// Key is "namespace/name"; it names the pod in Bindings and Failures
	// and seeds the pod's sampling offset and tie-break.
	Key string
	// Request is api.PodRequests of the pod. Request.Pods is ignored:
	// every pod takes exactly one pod slot.
	Request      api.Resources
	NodeSelector map[string]string
	// Tolerations are the pod's; shared with the pod object.
	Tolerations []api.Toleration
	HostPorts   []api.HostPort
	// OwnerUID is the UID of the pod's controller (ownerReference with
	// controller=true), or "" for a bare pod, which gets no owner spread.
	OwnerUID types.UID
}

// NewPodInfo extracts what placement needs from a pod. The namespace
// defaults to "default", as the API server defaults it.
func NewPodInfo(p *api.Pod) PodInfo {
	ns := p.Namespace
	if ns == "" {
		ns = "default"
	}
	return PodInfo{
		Key:          ns + "/" + p.Name,
		Request:      api.PodRequests(p),
		NodeSelector: p.Spec.NodeSelector,
		Tolerations:  p.Spec.Tolerations,
		HostPorts:    api.PodHostPorts(p),
		OwnerUID:     ControllerUID(p),
	}
}

// ControllerUID returns the UID of the pod's controlling owner (the owner
// reference with controller=true, as metav1.GetControllerOf finds it), or
// "". Pods of one controller are spread over nodes.
func ControllerUID(p *api.Pod) types.UID {
	for _, r := range p.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			return r.UID
		}
	}
	return ""
}
