package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
)

// BenchmarkBindingThroughput is issue 3's end-to-end figure: a 3-voter
// cluster of real agents in one process (raft-boltdb on disk, loopback
// transport) with 1,000 simulated nodes registered, then 10,000 pods
// created through Raft by 32 concurrent clients; it measures from the
// first create to the last pod bound by the leader's placement loop, and
// prints placement_pods_per_sec (`make bench-placement`).
func BenchmarkBindingThroughput(b *testing.B) {
	const (
		nodes   = 1000
		pods    = 10000
		clients = 32
	)
	for i := 0; i < b.N; i++ {
		agents, stop := startAgents(b, nextBlock(), 3, 3)
		leaderName := waitForLeader(b, agents, 30*time.Second)
		var leader *Agent
		for _, a := range agents {
			if a.cfg.NodeName == leaderName {
				leader = a
			}
		}
		ctx := context.Background()
		registerSimulatedNodes(b, ctx, leader, nodes)

		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1)
					if n > pods {
						return
					}
					p := api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("p-%05d", n), Namespace: "default", UID: apiserver.NewUID()},
						Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox",
							Resources: api.ResourceRequirements{Requests: api.ResourceList{
								api.ResourceCPU: resource.MustParse("100m"), api.ResourceMemory: resource.MustParse("64Mi")}}}}}}
					api.SetPodDefaults(&p) // as the API does; the FSM refuses an undefaulted pod
					cmd, _ := consensus.NewCommand(consensus.CmdCreatePod, consensus.CreatePod{Pod: p})
					if _, err := leader.Commit(ctx, cmd); err != nil {
						b.Errorf("create pod: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for {
			unbound, _ := leader.store.State().Pods(func(p *api.Pod) bool { return p.Spec.NodeName == "" })
			if len(unbound) == 0 {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("%d pods still unbound after 5 minutes", len(unbound))
			}
			<-leader.store.State().Changed()
		}
		elapsed := time.Since(start)
		stop()
		rate := float64(pods) / elapsed.Seconds()
		b.ReportMetric(rate, "pods/s")
		fmt.Printf("placement_pods_per_sec=%d\n", int(rate))
	}
}

// registerSimulatedNodes commits n Ready nodes of 32 CPUs and 128Gi each:
// room for the benchmark's pods, so every one of them can be bound.
func registerSimulatedNodes(b *testing.B, ctx context.Context, leader *Agent, n int) {
	b.Helper()
	var ready consensus.SetNodeConditions
	for i := range n {
		name := fmt.Sprintf("sim-%04d", i)
		node := api.Node{ObjectMeta: api.ObjectMeta{Name: name, UID: apiserver.NewUID(), Labels: map[string]string{api.LabelHostname: name}},
			Status: api.NodeStatus{Allocatable: api.ResourceList{
				api.ResourceCPU: resource.MustParse("32"), api.ResourceMemory: resource.MustParse("128Gi"), api.ResourcePods: resource.MustParse("110")}}}
		node.Status.Capacity = node.Status.Allocatable
		if err := leader.commitPayload(ctx, consensus.CmdRegisterNode, consensus.RegisterNode{Node: node}); err != nil {
			b.Fatalf("register %s: %v", name, err)
		}
		ready.Updates = append(ready.Updates, consensus.NodeConditionUpdate{Node: name,
			Condition: api.NodeCondition{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady"}})
	}
	if err := leader.commitPayload(ctx, consensus.CmdSetNodeConditions, ready); err != nil {
		b.Fatalf("mark nodes ready: %v", err)
	}
}
