package consensus

import (
	"maps"
	"slices"

	"github.com/gossipod/gossipod/api"
)

// syncPressureTaints keeps a node's pressure taints in step with its
// conditions, as Kubernetes' node lifecycle controller does
// (TaintNodesByCondition): node.kubernetes.io/disk-pressure:NoSchedule
// while DiskPressure is True, and likewise for memory and PID pressure.
// It runs in the FSM, on the entry that changes the condition, so the
// taint and the condition can never disagree on any replica. Other taints
// (none yet: no command sets them) are kept. It reports whether the
// taints changed.
func syncPressureTaints(n *api.Node) bool {
	changed := false
	// In the conditions' order, so every replica appends alike.
	for _, cond := range slices.Sorted(maps.Keys(api.PressureTaints)) {
		key := api.PressureTaints[cond]
		c := api.GetNodeCondition(n, cond)
		want := c != nil && c.Status == api.ConditionTrue
		i := slices.IndexFunc(n.Spec.Taints, func(t api.Taint) bool {
			return t.Key == key && t.Effect == api.TaintEffectNoSchedule
		})
		switch {
		case want && i < 0:
			n.Spec.Taints = append(slices.Clip(n.Spec.Taints), api.Taint{Key: key, Effect: api.TaintEffectNoSchedule})
			changed = true
		case !want && i >= 0:
			n.Spec.Taints = slices.Delete(slices.Clone(n.Spec.Taints), i, i+1)
			changed = true
		}
	}
	if changed && len(n.Spec.Taints) == 0 {
		n.Spec.Taints = nil
	}
	return changed
}
