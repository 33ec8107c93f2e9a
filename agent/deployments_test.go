package agent

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

func testDeployment(replicas int32, strategy api.DeploymentStrategyType, surge, unavailable string) *api.Deployment {
	d := &api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "d-uid", Generation: 2},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox:2"}}},
			},
			Strategy: api.DeploymentStrategy{Type: strategy},
		},
	}
	if strategy == api.RollingUpdateDeploymentStrategyType {
		s, u := intstr.Parse(surge), intstr.Parse(unavailable)
		d.Spec.Strategy.RollingUpdate = &api.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}
	}
	return d
}

// pod states for fixtures.
const (
	running  = "running"  // Running and Ready
	starting = "starting" // bound, not ready yet
	pending  = "pending"  // not bound
	failed   = "failed"   // Failed (e.g. NodeLost)
)

func fixturePods(prefix string, states ...string) []*api.Pod {
	var out []*api.Pod
	for i, st := range states {
		p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: "default", UID: fmt.Sprintf("%s-%d", prefix, i),
			CreationTimestamp: api.NewTime(time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC))}}
		switch st {
		case running:
			p.Spec.NodeName = "n1"
			p.Status.Phase = api.PodRunning
			p.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}
		case starting:
			p.Spec.NodeName = "n1"
			p.Status.Phase = api.PodPending
		case failed:
			p.Spec.NodeName = "n1"
			p.Status.Phase = api.PodFailed
			p.Status.Reason = api.PodReasonNodeLost
		}
		out = append(out, p)
	}
	return out
}

func TestPlanDeployment(t *testing.T) {
	rolling := api.RollingUpdateDeploymentStrategyType
	tests := []struct {
		name        string
		d           *api.Deployment
		pods        deploymentPods
		wantCreate  int
		wantDeletes []string
	}{
		{name: "fresh: create all replicas", d: testDeployment(4, rolling, "25%", "25%"), wantCreate: 4},
		{name: "steady", d: testDeployment(2, rolling, "25%", "25%"),
			pods: deploymentPods{newPods: fixturePods("new", running, running)}},
		{name: "scale down: unbound first, then newest",
			d:           testDeployment(1, rolling, "25%", "25%"),
			pods:        deploymentPods{newPods: fixturePods("new", running, running, pending)},
			wantDeletes: []string{"new-2", "new-1"}},
		{name: "NodeLost pods are removed and replaced",
			d:           testDeployment(2, rolling, "25%", "25%"),
			pods:        deploymentPods{newPods: fixturePods("new", running), finished: fixturePods("lost", failed)},
			wantCreate:  1,
			wantDeletes: []string{"lost-0"}},
		{name: "rolling start: surge one, keep all old while the new is not ready",
			d:    testDeployment(4, rolling, "25%", "25%"),
			pods: deploymentPods{oldPods: fixturePods("old", running, running, running, running)},
			// maxSurge 1: create 1; maxUnavailable 1: one old may go.
			wantCreate: 1, wantDeletes: []string{"old-3"}},
		{name: "rolling: never below replicas - maxUnavailable available",
			d:    testDeployment(4, rolling, "25%", "25%"),
			pods: deploymentPods{newPods: fixturePods("new", starting, starting), oldPods: fixturePods("old", running, running, running)},
			// 3 available = minimum: nothing old may go, total 5 = max.
			wantCreate: 0},
		{name: "rolling: unavailable old pods go first",
			d:           testDeployment(4, rolling, "25%", "25%"),
			pods:        deploymentPods{newPods: fixturePods("new", running), oldPods: fixturePods("old", running, starting, running)},
			wantCreate:  1,
			wantDeletes: []string{"old-1"}},
		{name: "maxSurge 0 maxUnavailable 1: delete before create",
			d:           testDeployment(3, rolling, "0", "1"),
			pods:        deploymentPods{oldPods: fixturePods("old", running, running, running)},
			wantDeletes: []string{"old-2"}},
		{name: "recreate: delete all old first",
			d:           testDeployment(2, api.RecreateDeploymentStrategyType, "", ""),
			pods:        deploymentPods{oldPods: fixturePods("old", running, running)},
			wantDeletes: []string{"old-0", "old-1"}},
		{name: "recreate: wait for old pods to terminate",
			d:    testDeployment(2, api.RecreateDeploymentStrategyType, "", ""),
			pods: deploymentPods{terminating: fixturePods("old", running)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := planDeployment(tt.d, tt.pods)
			if plan.create != tt.wantCreate {
				t.Errorf("create %d, want %d", plan.create, tt.wantCreate)
			}
			var got []string
			for _, d := range plan.deletes {
				got = append(got, d.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantDeletes) {
				t.Errorf("deletes %v, want %v", got, tt.wantDeletes)
			}
		})
	}
}

// TestRollingUpdateKeepsAvailability simulates a rollout step by step
// (every created pod becomes ready before the next step, every deleted pod
// goes at once) and checks the bounds at every step.
func TestRollingUpdateKeepsAvailability(t *testing.T) {
	for _, tc := range []struct {
		replicas           int32
		surge, unavailable string
	}{
		{4, "25%", "25%"}, {20, "25%", "25%"}, {3, "0", "1"}, {5, "2", "0"}, {10, "50%", "10%"},
	} {
		d := testDeployment(tc.replicas, api.RollingUpdateDeploymentStrategyType, tc.surge, tc.unavailable)
		pods := deploymentPods{oldPods: fixturePods("old", repeat(running, int(tc.replicas))...)}
		minAvail := int(tc.replicas) - maxUnavailableOf(d)
		maxTotal := int(tc.replicas) + maxSurgeOf(d)
		for step := 0; len(pods.oldPods) > 0 || len(pods.newPods) < int(tc.replicas); step++ {
			if step > 100 {
				t.Fatalf("%+v: rollout did not finish in 100 steps", tc)
			}
			plan := planDeployment(d, pods)
			deleted := map[string]bool{}
			for _, del := range plan.deletes {
				deleted[del.Name] = true
			}
			pods.oldPods = without(pods.oldPods, deleted)
			pods.newPods = without(pods.newPods, deleted)
			if avail := countAvailable(pods.oldPods) + countAvailable(pods.newPods); avail < minAvail {
				t.Fatalf("%+v step %d: %d available, below %d", tc, step, avail, minAvail)
			}
			pods.newPods = append(pods.newPods, fixturePods(fmt.Sprintf("new%d", step), repeat(running, plan.create)...)...)
			if total := len(pods.oldPods) + len(pods.newPods); total > maxTotal {
				t.Fatalf("%+v step %d: %d pods, above %d", tc, step, total, maxTotal)
			}
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func without(pods []*api.Pod, names map[string]bool) []*api.Pod {
	var out []*api.Pod
	for _, p := range pods {
		if !names[p.Name] {
			out = append(out, p)
		}
	}
	return out
}

func TestDeploymentStatus(t *testing.T) {
	d := testDeployment(4, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	hash := api.TemplateHash(&d.Spec.Template)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := deploymentStatus(d, hash, deploymentPods{newPods: fixturePods("new", running, running), oldPods: fixturePods("old", running, starting)}, 4, 1, now)
	if st.Replicas != 4 || st.UpdatedReplicas != 2 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UnavailableReplicas != 1 || st.ObservedGeneration != 2 {
		t.Fatalf("status %+v", st)
	}
	if c := st.Conditions[0]; c.Type != api.DeploymentAvailable || c.Status != api.ConditionTrue {
		t.Fatalf("Available = %+v, want True with 3 of 4 available and maxUnavailable 1", c)
	}
	if c := st.Conditions[1]; c.Reason != "ReplicaSetUpdated" {
		t.Fatalf("Progressing reason %q during a rollout", c.Reason)
	}
	d.Status = st
	done := deploymentStatus(d, hash, deploymentPods{newPods: fixturePods("new", running, running, running, running)}, 4, 1, now.Add(time.Minute))
	if c := done.Conditions[1]; c.Reason != "NewReplicaSetAvailable" {
		t.Fatalf("Progressing reason %q after the rollout", c.Reason)
	}
	if !done.Conditions[0].LastTransitionTime.Equal(st.Conditions[0].LastTransitionTime.Time) {
		t.Fatalf("Available's transition time moved without a status change")
	}
	if again := deploymentStatus(d, hash, deploymentPods{newPods: fixturePods("new", running, running), oldPods: fixturePods("old", running, starting)}, 4, 1, now.Add(time.Hour)); !sameStatus(again, st) {
		t.Fatalf("an unchanged status differs when computed later: nothing must be written")
	}
}

func maxUnavailableOf(d *api.Deployment) int { return consensus.MaxUnavailable(d) }
func maxSurgeOf(d *api.Deployment) int       { return consensus.MaxSurge(d) }

// TestScaleDownKeepsSpread: scaling 6 pods spread 2/2/2 down to 3 removes
// one from each node, as Kubernetes does, rather than emptying a node.
func TestScaleDownKeepsSpread(t *testing.T) {
	var pods []*api.Pod
	for i, node := range []string{"n1", "n1", "n2", "n2", "n3", "n3"} {
		p := fixturePods(fmt.Sprintf("p%d", i), running)[0]
		p.Spec.NodeName = node
		pods = append(pods, p)
	}
	pods = append(pods, fixturePods("extra", running)...) // a 3rd pod on n1
	pods[len(pods)-1].Spec.NodeName = "n1"
	d := testDeployment(4, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	plan := planDeployment(d, deploymentPods{newPods: pods})
	removed := map[string]int{}
	byName := map[string]string{}
	for _, p := range pods {
		byName[p.Name] = p.Spec.NodeName
	}
	for _, del := range plan.deletes {
		removed[byName[del.Name]]++
	}
	// 7 pods (n1:3, n2:2, n3:2) down to 4: first n1's third, then one of
	// the nodes with two, then... the remaining count per node must end
	// within one of each other.
	left := map[string]int{"n1": 3 - removed["n1"], "n2": 2 - removed["n2"], "n3": 2 - removed["n3"]}
	lo, hi := 99, 0
	for _, n := range left {
		lo, hi = min(lo, n), max(hi, n)
	}
	if len(plan.deletes) != 3 || hi-lo > 1 {
		t.Fatalf("deleted %d, left per node %v: want 3 deleted and the spread kept", len(plan.deletes), left)
	}
}
