package agent

import (
	"github.com/gossipod/gossipod/api"
)

// pressureBits is a node's pressure conditions in its gossip metadata, one
// bit each, so they cost a few bytes of memberlist's 512.
type pressureBits uint8

const (
	pressureMemory pressureBits = 1 << iota
	pressureDisk
	pressurePID
)

// pressureConditions are the pressure conditions every node reports, in
// this order, with kubelet's reasons and messages (its node status
// setters MemoryPressureCondition, DiskPressureCondition,
// PIDPressureCondition).
var pressureConditions = []struct {
	typ                 api.NodeConditionType
	bit                 pressureBits
	trueReason, trueMsg string
	falseReason, falMsg string
}{
	{api.NodeMemoryPressure, pressureMemory,
		"KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
		"KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
	{api.NodeDiskPressure, pressureDisk,
		"KubeletHasDiskPressure", "kubelet has disk pressure",
		"KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
	{api.NodePIDPressure, pressurePID,
		"KubeletHasInsufficientPID", "kubelet has insufficient PID available",
		"KubeletHasSufficientPID", "kubelet has sufficient PID available"},
}

// pressureOf packs conditions into bits; unknown types are ignored.
func pressureOf(conds []api.NodeConditionType) pressureBits {
	var b pressureBits
	for _, c := range conds {
		for _, pc := range pressureConditions {
			if pc.typ == c {
				b |= pc.bit
			}
		}
	}
	return b
}

// pressureReporter is implemented by a PodRuntime with an eviction manager
// (runtime.Runtime): the node conditions under pressure now.
type pressureReporter interface {
	Pressure() []api.NodeConditionType
}

// memberPressureConditions are the pressure conditions of a member as the
// leader writes them on its Node: from its gossip while it is alive; all
// Unknown when gossip says it is not, as the node lifecycle controller
// marks a node whose kubelet stopped posting status.
func memberPressureConditions(m member) []api.NodeCondition {
	out := make([]api.NodeCondition, 0, len(pressureConditions))
	alive := m.Status == api.MemberAlive || m.Status == api.MemberSuspect
	for _, pc := range pressureConditions {
		c := api.NodeCondition{Type: pc.typ}
		switch {
		case !alive:
			c.Status, c.Reason, c.Message = api.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
		case m.Meta.Pressure&pc.bit != 0:
			c.Status, c.Reason, c.Message = api.ConditionTrue, pc.trueReason, pc.trueMsg
		default:
			c.Status, c.Reason, c.Message = api.ConditionFalse, pc.falseReason, pc.falMsg
		}
		out = append(out, c)
	}
	return out
}
