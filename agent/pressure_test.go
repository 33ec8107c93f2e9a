package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// diskRuntime is a PodRuntime that runs no pods and whose eviction
// manager measures the real file system of dir against thresholds, as
// runtime.Runtime's housekeeping does.
type diskRuntime struct {
	spoolRuntime
	dir        string
	thresholds []eviction.Threshold
	mu         sync.Mutex
	pressure   eviction.Pressure
}

func (r *diskRuntime) Pressure() []api.NodeConditionType {
	obs := eviction.Observations{}
	if err := eviction.FsObservations(r.dir, eviction.SignalNodeFsAvailable, eviction.SignalNodeFsInodesFree, obs); err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pressure.Update(eviction.ThresholdsMet(r.thresholds, obs), time.Now())
}

// TestDiskPressureKeepsPodsOff: an agent whose data dir's file system is
// below its nodefs.available threshold (99%, so any test machine is)
// reports DiskPressure on its Node with kubelet's reason, the node gets
// the disk-pressure taint, a pod is not placed there and says why in
// kube-scheduler's words, and a pod that tolerates the taint is placed.
func TestDiskPressureKeepsPodsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	thresholds, err := eviction.ParseEvictionHard("nodefs.available<99%")
	if err != nil {
		t.Fatal(err)
	}
	a := startOneAgent(t, func(c *Config) {
		c.Runtime = &diskRuntime{dir: c.DataDir, thresholds: thresholds,
			pressure: eviction.Pressure{TransitionPeriod: time.Minute}}
	})
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var node *api.Node
	eventually(t, 20*time.Second, func() error {
		if node, err = cl.Node(ctx, "agent-00"); err != nil {
			return err
		}
		c := api.GetNodeCondition(node, api.NodeDiskPressure)
		if c == nil || c.Status != api.ConditionTrue {
			return fmt.Errorf("DiskPressure = %+v", c)
		}
		return nil
	})
	for _, want := range []struct {
		typ            api.NodeConditionType
		status         api.ConditionStatus
		reason, detail string
	}{
		{api.NodeDiskPressure, api.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure"},
		{api.NodeMemoryPressure, api.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		{api.NodePIDPressure, api.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	} {
		c := api.GetNodeCondition(node, want.typ)
		if c == nil || c.Status != want.status || c.Reason != want.reason || c.Message != want.detail {
			t.Errorf("%s = %+v, want %s %s %q", want.typ, c, want.status, want.reason, want.detail)
		}
	}
	if !slices.Contains(node.Spec.Taints, api.Taint{Key: api.TaintNodeDiskPressure, Effect: api.TaintEffectNoSchedule}) {
		t.Errorf("taints = %+v, want node.kubernetes.io/disk-pressure:NoSchedule", node.Spec.Taints)
	}
	if _, ok := node.Status.Allocatable[api.ResourceEphemeralStorage]; ok {
		t.Errorf("allocatable %v has ephemeral-storage, which this agent's config does not offer", node.Status.Allocatable)
	}

	if _, err := cl.CreatePod(ctx, testPodSpec("kept-off", "1Mi")); err != nil {
		t.Fatal(err)
	}
	tolerant := testPodSpec("tolerant", "1Mi")
	tolerant.Spec.Tolerations = []api.Toleration{{Key: api.TaintNodeDiskPressure, Operator: api.TolerationOpExists, Effect: api.TaintEffectNoSchedule}}
	if _, err := cl.CreatePod(ctx, tolerant); err != nil {
		t.Fatal(err)
	}
	const want = "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }."
	eventually(t, 20*time.Second, func() error {
		p, err := cl.Pod(ctx, "default", "kept-off")
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "" {
			t.Fatalf("kept-off was placed on %s, a node under disk pressure", p.Spec.NodeName)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == api.PodScheduled && c.Status == api.ConditionFalse && c.Message == want {
				return nil
			}
		}
		return fmt.Errorf("kept-off conditions %+v, want PodScheduled False %q", p.Status.Conditions, want)
	})
	eventually(t, 20*time.Second, func() error {
		p, err := cl.Pod(ctx, "default", "tolerant")
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "agent-00" {
			return fmt.Errorf("tolerant not placed yet (%+v)", p.Status.Conditions)
		}
		return nil
	})
}

// TestEphemeralStorageOnTheNode: the ephemeral-storage an agent offers is
// on its Node, and a pod requesting more than it is not placed.
func TestEphemeralStorageOnTheNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	a := startOneAgent(t, func(c *Config) {
		c.Capacity.EphemeralStorage = 10 << 30
		c.Allocatable.EphemeralStorage = 9 << 30
	})
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eventually(t, 20*time.Second, func() error {
		n, err := cl.Node(ctx, "agent-00")
		if err != nil {
			return err
		}
		c, al := n.Status.Capacity[api.ResourceEphemeralStorage], n.Status.Allocatable[api.ResourceEphemeralStorage]
		if c.String() != "10Gi" || al.String() != "9Gi" {
			return fmt.Errorf("ephemeral-storage capacity %s, allocatable %s; want 10Gi, 9Gi", c.String(), al.String())
		}
		return nil
	})
	big := testPodSpec("big", "1Mi")
	big.Spec.Containers[0].Resources.Requests[api.ResourceEphemeralStorage] = resource.MustParse("10Gi")
	if _, err := cl.CreatePod(ctx, big); err != nil {
		t.Fatal(err)
	}
	const want = "0/1 nodes are available: 1 Insufficient ephemeral-storage."
	eventually(t, 20*time.Second, func() error {
		p, err := cl.Pod(ctx, "default", "big")
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == api.PodScheduled && c.Message == want {
				return nil
			}
		}
		return fmt.Errorf("big: node %q, conditions %+v; want %q", p.Spec.NodeName, p.Status.Conditions, want)
	})
}
