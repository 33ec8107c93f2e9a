package agent

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// pidRuntime is a PodRuntime that runs no pods and whose eviction manager
// observes the node's real pid counts against thresholds, as
// runtime.Runtime's housekeeping does.
type pidRuntime struct {
	spoolRuntime
	thresholds []eviction.Threshold
	mu         sync.Mutex
	pressure   eviction.Pressure
}

func (r *pidRuntime) Pressure() []api.NodeConditionType {
	s, err := runtime.ReadPIDStats()
	if err != nil {
		return nil
	}
	obs := eviction.Observations{eviction.SignalPIDAvailable: {Available: s.Available(), Capacity: s.MaxPID}}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pressure.Update(eviction.ThresholdsMet(r.thresholds, obs), time.Now())
}

// TestPIDPressureKeepsPodsOff: an agent whose node is below its
// pid.available threshold (the node's whole pid capacity, so any machine
// is) reports PIDPressure on its Node with kubelet's reason, the node gets
// the pid-pressure taint, and a pod is not placed there and says why in
// kube-scheduler's words.
func TestPIDPressureKeepsPodsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	s, err := runtime.ReadPIDStats()
	if err != nil {
		t.Fatal(err)
	}
	thresholds, err := eviction.ParseEvictionHard("pid.available<" + strconv.FormatInt(s.MaxPID, 10))
	if err != nil {
		t.Fatal(err)
	}
	a := startOneAgent(t, func(c *Config) {
		c.Runtime = &pidRuntime{thresholds: thresholds, pressure: eviction.Pressure{TransitionPeriod: time.Minute}}
	})
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var node *api.Node
	eventually(t, 20*time.Second, func() error {
		if node, err = cl.Node(ctx, "agent-00"); err != nil {
			return err
		}
		c := api.GetNodeCondition(node, api.NodePIDPressure)
		if c == nil || c.Status != api.ConditionTrue || c.Reason != "KubeletHasInsufficientPID" || c.Message != "kubelet has insufficient PID available" {
			return fmt.Errorf("PIDPressure = %+v", c)
		}
		return nil
	})
	if !slices.Contains(node.Spec.Taints, api.Taint{Key: api.TaintNodePIDPressure, Effect: api.TaintEffectNoSchedule}) {
		t.Errorf("taints = %+v, want node.kubernetes.io/pid-pressure:NoSchedule", node.Spec.Taints)
	}
	if _, err := cl.CreatePod(ctx, testPodSpec("kept-off", "1Mi")); err != nil {
		t.Fatal(err)
	}
	const want = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/pid-pressure: }."
	eventually(t, 20*time.Second, func() error {
		p, err := cl.Pod(ctx, "default", "kept-off")
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "" {
			t.Fatalf("kept-off was placed on %s, a node under PID pressure", p.Spec.NodeName)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == api.PodScheduled && c.Status == api.ConditionFalse && c.Message == want {
				return nil
			}
		}
		return fmt.Errorf("kept-off conditions %+v, want PodScheduled False %q", p.Status.Conditions, want)
	})
}
