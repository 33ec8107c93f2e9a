package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// TestInProcessCluster runs three control-plane agents in one process (real
// gossip, Raft with bolt stores, HTTP) under the race detector: bootstrap
// from gossip, node registration, a pod created through a follower placed
// by the leader, an unschedulable pod explained, forwarding of writes, and
// a clean leadership handover on shutdown.
func TestInProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three agents")
	}
	agents, stop := startAgents(t, nextBlock(), 3, 3)
	defer stop()
	leaderName := waitForLeader(t, agents, 30*time.Second)
	var follower *Agent
	for _, a := range agents {
		if a.cfg.NodeName != leaderName {
			follower = a
			break
		}
	}
	cl := adminClient(t, follower)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	eventually(t, 20*time.Second, func() error {
		nodes, err := cl.Nodes(ctx)
		if err != nil {
			return err
		}
		ready := 0
		for i := range nodes.Items {
			if api.NodeIsReady(&nodes.Items[i]) && nodes.Items[i].Spec.PodCIDR != "" {
				ready++
			}
		}
		if ready != 3 {
			return errors.New("not all 3 nodes are Ready with a pod CIDR yet")
		}
		return nil
	})

	// The agents offer 4Gi each (testConfig): a 1Gi pod fits, a 5Gi one nowhere.
	small := testPodSpec("small", "1Gi")
	if _, err := cl.CreatePod(ctx, small); err != nil {
		t.Fatalf("create through a follower: %v", err)
	}
	if _, err := cl.CreatePod(ctx, small); !isStatus(err, http.StatusConflict) {
		t.Fatalf("second create: %v, want 409 AlreadyExists", err)
	}
	if _, err := cl.CreatePod(ctx, testPodSpec("big", "5Gi")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		p, err := cl.Pod(ctx, "default", "small")
		if err != nil {
			return err
		}
		if p.Spec.NodeName == "" {
			return errors.New("small pod not bound yet")
		}
		b, err := cl.Pod(ctx, "default", "big")
		if err != nil {
			return err
		}
		c := api.GetPodCondition(b, api.PodScheduled)
		if c == nil || c.Status != api.ConditionFalse || c.Message != "0/3 nodes are available: 3 Insufficient memory." {
			return errors.New("big pod not reported unschedulable yet")
		}
		return nil
	})

	// A pod pinned to a node that never registered has nobody to run it:
	// the leader's pod garbage collector deletes it after the quarantine
	// (1 s here, 40 s by default).
	ghost := testPodSpec("ghost", "1Gi")
	ghost.Spec.NodeName = "ghost-node"
	if _, err := cl.CreatePod(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if _, err := cl.Pod(ctx, "default", "ghost"); !isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("pod bound to a node that does not exist: %v, want 404 after PodGC", err)
		}
		return nil
	})
	if _, err := cl.Pod(ctx, "default", "small"); err != nil {
		t.Fatalf("PodGC touched a pod on a live node: %v", err)
	}
}

func testPodSpec(name, memory string) *api.Pod {
	return &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default"},
		Spec: api.PodSpec{
			RestartPolicy: api.RestartPolicyAlways,
			Containers: []api.Container{{Name: "c", Image: "busybox:1", ImagePullPolicy: api.PullIfNotPresent,
				Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceMemory: resource.MustParse(memory)}}}},
		},
	}
}

func isStatus(err error, code int) bool {
	var st *api.Status
	return errors.As(err, &st) && st.Code == code
}

func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not within %v: %v", timeout, err)
}
