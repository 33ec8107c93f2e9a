package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/controllers"
	"github.com/gossipod/gossipod/placement"
)

// runCluster makes the test server a cluster that converges: the leader's
// real Deployment and ReplicaSet controllers and scheduler run over its
// MemStore, as agent/leader.go wires them, and the nodes' agents are
// played by runNodes. All of it stops when the test ends.
func (f *testServer) runCluster(nodes ...string) {
	f.t.Helper()
	for _, n := range nodes {
		f.addNode(n, false)
		// Ready, as the leader marks a node gossip finds alive.
		f.commit(consensus.CmdSetNodeConditions, consensus.SetNodeConditions{Updates: []consensus.NodeConditionUpdate{{
			Node: n, Condition: api.NodeCondition{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady"}}}}, nil)
	}
	commit := controllers.CommitFunc(func(ctx context.Context, t consensus.CommandType, payload any) (json.RawMessage, error) {
		res, err := f.store.CommitPayload(ctx, t, payload)
		return res.Response, err
	})
	log := slog.New(slog.DiscardHandler)
	apps := &controllers.Apps{State: f.store.State(), Commit: commit, Log: log, NewUID: apiserver.NewUID}
	sched := &controllers.Scheduler{State: f.store.State(), Gossip: allAlive{}, Commit: commit, Log: log, Config: placement.DefaultConfig()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){apps.Run, sched.Run, f.runNodes} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	f.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// allAlive is gossip in a cluster whose every node is alive and gossips no
// free resources of its own (the scheduler then goes by the committed
// state).
type allAlive struct{}

func (allAlive) Liveness(string) (api.MemberStatus, time.Time, bool) {
	return api.MemberAlive, time.Time{}, true
}
func (allAlive) Free(string) (api.Resources, bool) { return api.Resources{}, false }
func (allAlive) Changed() <-chan struct{}          { return nil }

// runNodes plays every node's agent until ctx ends, with the commands an
// agent commits: a pod bound to the node that is still Pending starts at
// once (Running, every container ready), and a pod deleted from it is
// confirmed stopped (DeletePod with a grace period of 0). A command the
// state machine refuses (the pod went meanwhile) is skipped, as an agent
// skips it.
func (f *testServer) runNodes(ctx context.Context) {
	st := f.store.State()
	zero := int64(0)
	for {
		changed := st.Changed()
		pods, _ := st.Pods(func(p *api.Pod) bool {
			return p.Spec.NodeName != "" && (p.DeletionTimestamp != nil || p.Status.Phase == api.PodPending)
		})
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				_, _ = f.store.CommitPayload(ctx, consensus.CmdDeletePod, consensus.DeletePod{
					Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: &zero})
				continue
			}
			status := api.PodStatus{Phase: api.PodRunning, PodIP: "10.1.0.9",
				Conditions: []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}}
			for _, c := range p.Spec.Containers {
				cs := running(true, 0)
				cs.Name, cs.Image = c.Name, c.Image
				status.ContainerStatuses = append(status.ContainerStatuses, cs)
			}
			_, _ = f.store.CommitPayload(ctx, consensus.CmdSetPodStatuses, consensus.SetPodStatuses{Node: p.Spec.NodeName,
				Updates: []consensus.PodStatusUpdate{{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Status: status}}})
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// TestRolloutWithTheControllers runs the Deployment commands against a
// cluster that does what they wait for: the real controllers and
// scheduler roll the Deployment out, the nodes start and stop its pods.
func TestRolloutWithTheControllers(t *testing.T) {
	f := newTestServer(t)
	f.runCluster("node-1", "node-2")
	dir := t.TempDir()
	file := writeFile(t, dir, "web.yaml", webDeployment)

	// rolledOut runs rollout status, which must end with the rollout done,
	// having printed only kubectl's waiting lines before.
	rolledOut := func(step string) {
		t.Helper()
		out, errOut, err := f.run("", "rollout", "status", "deployment/web", "--timeout", "20s")
		got := lines(out)
		if err != nil || got[len(got)-1] != `deployment "web" successfully rolled out` {
			pods, _ := f.store.State().Pods(nil)
			for _, p := range pods {
				t.Logf("pod %s: node %q, phase %s, conditions %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
			}
			t.Fatalf("%s: rollout status = %q, %q, %v", step, out, errOut, err)
		}
		for _, l := range got[:len(got)-1] {
			if !strings.HasPrefix(l, "Waiting for deployment") {
				t.Errorf("%s: rollout status printed %q", step, l)
			}
		}
	}
	// readyPods polls get pods until n pods of web run, all ready, and no
	// other is left.
	readyPods := func(n int) {
		t.Helper()
		eventually(t, "the pods of web", func() bool {
			out, _, err := f.run("", "get", "pods", "-l", "app=web", "--no-headers")
			return err == nil && len(lines(out)) == n && strings.Count(out, " 1/1   Running ") == n
		})
	}

	if out, errOut, err := f.run("", "apply", "-f", file); err != nil || out != "deployment.apps/web created\n" {
		t.Fatalf("apply = %q, %q, %v", out, errOut, err)
	}
	rolledOut("create")
	if out, _, err := f.run("", "get", "deploy", "web", "--no-headers"); err != nil || !slices.Equal(strings.Fields(out)[:4], []string{"web", "4/4", "4", "4"}) {
		t.Errorf("get deploy after the rollout = %q, %v", out, err)
	}
	readyPods(4)

	// A new template: a second ReplicaSet takes over from the first.
	writeFile(t, dir, "web.yaml", strings.Replace(webDeployment, "localhost/busybox:latest", "localhost/busybox:1.36", 1))
	if out, errOut, err := f.run("", "apply", "-f", file); err != nil || out != "deployment.apps/web configured\n" {
		t.Fatalf("apply of a new image = %q, %q, %v", out, errOut, err)
	}
	rolledOut("new image")
	out, _, err := f.run("", "get", "rs", "-o", "wide", "--no-headers")
	// NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR, by name,
	// which is the template's hash: sorted here.
	var counts []string
	for _, l := range lines(out) {
		if f := strings.Fields(l); len(f) == 8 {
			counts = append(counts, strings.Join(append(f[1:4], f[6]), " "))
		}
	}
	slices.Sort(counts)
	if want := []string{"0 0 0 localhost/busybox:latest", "4 4 4 localhost/busybox:1.36"}; err != nil || !slices.Equal(counts, want) {
		t.Errorf("get rs after the second rollout = %q, %v; want the counts and images %q", out, err, want)
	}
	readyPods(4)

	if out, _, err := f.run("", "scale", "deployment", "web", "--replicas", "2"); err != nil || out != "deployment.apps/web scaled\n" {
		t.Fatalf("scale = %q, %v", out, err)
	}
	rolledOut("scale")
	readyPods(2)

	// delete waits until the nodes have stopped the pods.
	if out, errOut, err := f.run("", "delete", "deployment", "web"); err != nil || out != "deployment.apps \"web\" deleted\n" {
		t.Fatalf("delete = %q, %q, %v", out, errOut, err)
	}
	if pods, _ := f.store.State().Pods(nil); len(pods) != 0 {
		t.Errorf("%d pods left after delete deployment", len(pods))
	}
	if rs, _ := f.store.State().ReplicaSets(nil); len(rs) != 0 {
		t.Errorf("%d ReplicaSets left after delete deployment", len(rs))
	}
}
