package api

import corev1 "k8s.io/api/core/v1"

// The node conditions kubelet's eviction manager reports, which gossipod's
// agents report the same way: True while the node's signal is below its
// eviction threshold (and for the pressure transition period after), with
// the taint of the same name (TaintNodeMemoryPressure...) set on the node
// meanwhile.
const (
	NodeMemoryPressure = corev1.NodeMemoryPressure
	NodeDiskPressure   = corev1.NodeDiskPressure
	NodePIDPressure    = corev1.NodePIDPressure
)

// PressureTaints maps each pressure condition to the NoSchedule taint the
// cluster keeps on a node while the condition is True, as Kubernetes' node
// lifecycle controller does (TaintNodesByCondition).
var PressureTaints = map[NodeConditionType]string{
	NodeMemoryPressure: TaintNodeMemoryPressure,
	NodeDiskPressure:   TaintNodeDiskPressure,
	NodePIDPressure:    TaintNodePIDPressure,
}
