package consensus

import (
	"reflect"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestPressureTaints: the FSM keeps the pressure taints in step with the
// pressure conditions, on the same entry, and leaves other taints alone.
func TestPressureTaints(t *testing.T) {
	node := testNode("a", "uid-a", "10.0.0.1", "1", "1Gi")
	reg := step{cmd: registerCmd(t, node, t0)}
	cond := func(typ api.NodeConditionType, st api.ConditionStatus) step {
		return step{cmd: command(t, CmdSetNodeConditions, SetNodeConditions{Updates: []NodeConditionUpdate{
			{Node: "a", Condition: api.NodeCondition{Type: typ, Status: st, Reason: "Test"}}}}, t0.Add(time.Second))}
	}
	disk := api.Taint{Key: api.TaintNodeDiskPressure, Effect: api.TaintEffectNoSchedule}
	mem := api.Taint{Key: api.TaintNodeMemoryPressure, Effect: api.TaintEffectNoSchedule}
	tests := []struct {
		name  string
		steps []step
		want  []api.Taint
	}{
		{"no pressure", []step{reg, cond(api.NodeDiskPressure, api.ConditionFalse)}, nil},
		{"disk pressure", []step{reg, cond(api.NodeDiskPressure, api.ConditionTrue)}, []api.Taint{disk}},
		{"disk then memory pressure", []step{reg, cond(api.NodeDiskPressure, api.ConditionTrue), cond(api.NodeMemoryPressure, api.ConditionTrue)},
			[]api.Taint{disk, mem}},
		{"disk pressure gone", []step{reg, cond(api.NodeDiskPressure, api.ConditionTrue), cond(api.NodeDiskPressure, api.ConditionFalse)},
			nil},
		{"Unknown is no pressure", []step{reg, cond(api.NodeMemoryPressure, api.ConditionTrue), cond(api.NodeMemoryPressure, api.ConditionUnknown)},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := applySteps(t, tt.steps)
			n := mustNode(t, s, "a")
			if !reflect.DeepEqual(n.Spec.Taints, tt.want) {
				t.Errorf("taints = %+v, want %+v", n.Spec.Taints, tt.want)
			}
		})
	}
}
