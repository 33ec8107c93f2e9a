package placement

import (
	"math/bits"

	"github.com/gossipod/gossipod/api"
)

// The reasons a node can be infeasible for a pod, in kube-scheduler's words
// where kube-scheduler has the same check, so users recognise them.
const (
	// ReasonNotReady: the node's agent is not alive in gossip. (kube-scheduler
	// says "had untolerated taint {node.kubernetes.io/not-ready: }"; gossipod
	// has no taints, so it says what it means.)
	ReasonNotReady = "node(s) were not ready"
	// ReasonUnschedulable: the node is cordoned.
	ReasonUnschedulable = "node(s) were unschedulable"
	// ReasonNodeSelector: the node lacks a label of the pod's nodeSelector.
	ReasonNodeSelector = "node(s) didn't match Pod's node affinity/selector"
	// ReasonTooManyPods: the node has no free pod slot.
	ReasonTooManyPods = "Too many pods"
	// ReasonInsufficientCPU: the node's free CPU is below the pod's request.
	ReasonInsufficientCPU = "Insufficient cpu"
	// ReasonInsufficientMemory: the node's free memory is below the request.
	ReasonInsufficientMemory = "Insufficient memory"
	// ReasonHostPorts: a host port the pod wants is taken on the node.
	ReasonHostPorts = "node(s) didn't have free ports for the requested pod ports"
	// ReasonInsufficientEphemeralStorage: the node's free local ephemeral
	// storage (allocatable minus the requests of its pods) is below the
	// pod's ephemeral-storage request.
	ReasonInsufficientEphemeralStorage = "Insufficient ephemeral-storage"
	// ReasonMemoryPressure, ReasonDiskPressure and ReasonPIDPressure: the
	// node carries the taint the cluster sets with the pressure condition,
	// and the pod does not tolerate it (kube-scheduler's TaintToleration
	// words, "untolerated taint {key: value}").
	ReasonMemoryPressure = "node(s) had untolerated taint {" + api.TaintNodeMemoryPressure + ": }"
	ReasonDiskPressure   = "node(s) had untolerated taint {" + api.TaintNodeDiskPressure + ": }"
	ReasonPIDPressure    = "node(s) had untolerated taint {" + api.TaintNodePIDPressure + ": }"
	// ReasonUntoleratedTaint: another NoSchedule or NoExecute taint the pod
	// does not tolerate. kube-scheduler names the taint; placement's
	// reasons are a fixed set, so it says what they have in common.
	ReasonUntoleratedTaint = "node(s) had untolerated taint(s)"
)

// reasonSet holds reasons as bits, so filtering a node allocates nothing.
type reasonSet uint16

const (
	rNotReady reasonSet = 1 << iota
	rUnschedulable
	rNodeSelector
	rTooManyPods
	rInsufficientCPU
	rInsufficientMemory
	rHostPorts
	rInsufficientEphemeralStorage
	rMemoryPressure
	rDiskPressure
	rPIDPressure
	rUntoleratedTaint
	numReasons = iota
)

// reasonText is indexed by bit position.
var reasonText = [numReasons]string{
	ReasonNotReady, ReasonUnschedulable, ReasonNodeSelector,
	ReasonTooManyPods, ReasonInsufficientCPU, ReasonInsufficientMemory,
	ReasonHostPorts, ReasonInsufficientEphemeralStorage,
	ReasonMemoryPressure, ReasonDiskPressure, ReasonPIDPressure, ReasonUntoleratedTaint,
}

// strings lists the reasons in bit order (the order the checks run).
func (r reasonSet) strings() []string {
	if r == 0 {
		return nil
	}
	out := make([]string, 0, bits.OnesCount16(uint16(r)))
	for b := 0; b < numReasons; b++ {
		if r&(1<<b) != 0 {
			out = append(out, reasonText[b])
		}
	}
	return out
}

// filter is one feasibility check. It returns the reasons the node fails
// for the pod, or 0 if the node passes.
type filter struct {
	name  string
	check func(n *nodeState, p *pending) reasonSet
}

// filterChain is the feasibility chain, cheapest and most decisive first;
// a node's verdict is the first filter it fails (like kube-scheduler, which
// stops at the first failing plugin), so the order also decides which reason
// a user sees for a node that fails several:
//
//  1. NodeReady and 2. NodeUnschedulable read one bool each, and a node that
//     is down or cordoned is out whatever the pod asks, so nothing else about
//     it is worth reporting.
//  3. TaintToleration reads the node's taints (none unless the node is
//     under pressure) against the pod's tolerations; it runs where
//     kube-scheduler runs it, right after NodeUnschedulable, so a node under
//     disk pressure says so rather than what else the pod lacks there.
//  4. NodeSelector costs one label lookup per selector entry (none for most
//     pods); a node the pod may never use should say so rather than report
//     resources the pod could not use anyway (kube-scheduler's NodeAffinity
//     also runs before NodeResourcesFit).
//  5. NodeResourcesFit is four integer comparisons and the check that
//     rejects most nodes in a busy cluster. Like kube-scheduler's plugin of
//     that name it reports every shortage at once — Too many pods,
//     Insufficient cpu, Insufficient memory, Insufficient
//     ephemeral-storage — so the message counts each.
//  6. NodePorts costs a map lookup per host port and concerns few pods; it
//     runs last. (kube-scheduler runs NodePorts before NodeResourcesFit, so
//     for a node short of both it reports the port and we report resources.)
var filterChain = [...]filter{
	{"NodeReady", filterReady},
	{"NodeUnschedulable", filterUnschedulable},
	{"TaintToleration", filterTaints},
	{"NodeSelector", filterNodeSelector},
	{"NodeResourcesFit", filterResources},
	{"NodePorts", filterHostPorts},
}

// runFilters returns the index in filterChain of the first filter the node
// fails and its reasons, or -1 and 0 when the node is feasible.
func runFilters(n *nodeState, p *pending) (int, reasonSet) {
	for i := range filterChain {
		if r := filterChain[i].check(n, p); r != 0 {
			return i, r
		}
	}
	return -1, 0
}

func filterReady(n *nodeState, _ *pending) reasonSet {
	if !n.Ready {
		return rNotReady
	}
	return 0
}

func filterUnschedulable(n *nodeState, _ *pending) reasonSet {
	if n.Unschedulable {
		return rUnschedulable
	}
	return 0
}

// filterNodeSelector: every key of the selector must be a node label with
// the same value.
func filterNodeSelector(n *nodeState, p *pending) reasonSet {
	for k, v := range p.NodeSelector {
		if got, ok := n.Labels[k]; !ok || got != v {
			return rNodeSelector
		}
	}
	return 0
}

// filterResources: the pod's request must fit in allocatable minus
// requested, in every dimension. Unlike kube-scheduler it also rejects a
// zero request on a node already over its allocatable (it can happen when an
// agent restarts with less to offer), because the FSM's check is "requested
// after the binding fits in allocatable" and we must agree with it.
func filterResources(n *nodeState, p *pending) reasonSet {
	var r reasonSet
	free := n.Allocatable.Sub(n.Requested)
	if p.req.Pods > free.Pods {
		r |= rTooManyPods
	}
	if p.req.MilliCPU > free.MilliCPU {
		r |= rInsufficientCPU
	}
	if p.req.Memory > free.Memory {
		r |= rInsufficientMemory
	}
	if p.req.EphemeralStorage > free.EphemeralStorage {
		r |= rInsufficientEphemeralStorage
	}
	return r
}

// filterTaints: the pod must tolerate every NoSchedule and NoExecute taint
// of the node (kube-scheduler's TaintToleration filter; PreferNoSchedule
// only lowers a score there, and placement has no such score yet). The
// reason names the first untolerated taint.
func filterTaints(n *nodeState, p *pending) reasonSet {
	if len(n.Taints) == 0 {
		return 0
	}
	taint, found := api.FindUntoleratedTaint(n.Taints, p.Tolerations, api.TaintEffectNoSchedule, api.TaintEffectNoExecute)
	if !found {
		return 0
	}
	switch taint.Key {
	case api.TaintNodeMemoryPressure:
		return rMemoryPressure
	case api.TaintNodeDiskPressure:
		return rDiskPressure
	case api.TaintNodePIDPressure:
		return rPIDPressure
	}
	return rUntoleratedTaint
}

// filterHostPorts: none of the pod's host ports (protocol and number) may
// be in use on the node, counting pods placed earlier in the batch.
func filterHostPorts(n *nodeState, p *pending) reasonSet {
	for _, hp := range p.HostPorts {
		if n.HostPorts[hp] {
			return rHostPorts
		}
	}
	return 0
}
