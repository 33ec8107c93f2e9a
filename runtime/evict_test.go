package runtime

import (
	"testing"

	"github.com/gossipod/gossipod/api"
)

// TestComputeStatusEvicted: an evicted pod is Failed with reason Evicted
// and the eviction's message, whatever its containers' exits say, and only
// a node-pressure eviction adds the DisruptionTarget condition.
func TestComputeStatusEvicted(t *testing.T) {
	pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: api.PodSpec{
		RestartPolicy: api.RestartPolicyAlways,
		Containers:    []api.Container{{Name: "app", Image: "img"}},
	}}
	// The container was killed with SIGKILL: exit 137.
	app := &containerRecord{Name: "app", Started: true, StartedAt: planNow,
		Exit: &termination{ExitCode: 137, Reason: "Error", StartedAt: planNow, FinishedAt: planNow}}
	tests := []struct {
		name       string
		record     evictionRecord
		disruption bool
	}{
		{"over its own limits", evictionRecord{Message: `Usage of EmptyDir volume "x" exceeds the limit "1Mi". `}, false},
		{"node pressure", evictionRecord{Message: "The node was low on resource: ephemeral-storage. ", NodePressure: true, At: planNow}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &podState{Pod: pod, Containers: []*containerRecord{app}, Terminal: true, Evicted: &tt.record}
			s := computeStatus(st, planNow)
			if s.Phase != api.PodFailed || s.Reason != "Evicted" || s.Message != tt.record.Message {
				t.Errorf("phase %s, reason %q, message %q; want Failed, Evicted, %q", s.Phase, s.Reason, s.Message, tt.record.Message)
			}
			found := false
			for _, c := range s.Conditions {
				if c.Type == "DisruptionTarget" {
					found = c.Status == api.ConditionTrue && c.Reason == "TerminationByKubelet" && c.Message == tt.record.Message
				}
			}
			if found != tt.disruption {
				t.Errorf("DisruptionTarget condition %v, want %v (conditions %+v)", found, tt.disruption, s.Conditions)
			}
		})
	}
}
