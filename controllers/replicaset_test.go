package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"

	"k8s.io/apimachinery/pkg/api/equality"
)

// testReplicaSet is a user's ReplicaSet app=web of n replicas, uid rs-uid.
func testReplicaSet(n int32) *api.ReplicaSet {
	rs := &api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 3},
		Spec: api.ReplicaSetSpec{Replicas: &n, Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox"}}}}},
	}
	api.SetReplicaSetDefaults(rs)
	return rs
}

// ownedBy makes pods the ReplicaSet's, labelled as its template.
func ownedBy(rs *api.ReplicaSet, pods []*api.Pod) []*api.Pod {
	for _, p := range pods {
		p.Labels = map[string]string{"app": "web", "tier": "front"}
		p.OwnerReferences = []api.OwnerReference{api.NewControllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)}
	}
	return pods
}

func TestPlanReplicaSet(t *testing.T) {
	tests := []struct {
		name        string
		replicas    int32
		deleting    bool
		owned       []string
		orphans     []string
		wantCreate  int
		wantDeletes []string
		wantAdopt   []string
	}{
		{name: "fresh: every replica", replicas: 3, wantCreate: 3},
		{name: "steady", replicas: 2, owned: []string{running, running}},
		{name: "scale down: unbound first, then newest", replicas: 1, owned: []string{running, running, pending},
			wantDeletes: []string{"p-2", "p-1"}},
		{name: "NodeLost pods are removed and replaced", replicas: 2, owned: []string{running, failed},
			wantCreate: 1, wantDeletes: []string{"p-1"}},
		{name: "a terminating pod is replaced at once", replicas: 2, owned: []string{running, stopping}, wantCreate: 1},
		{name: "orphans the selector matches are adopted first", replicas: 3, owned: []string{running}, orphans: []string{running, failed},
			wantAdopt: []string{"o-0"}},
		{name: "a ReplicaSet being deleted creates nothing", replicas: 3, deleting: true, owned: []string{running}, orphans: []string{running}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := testReplicaSet(tt.replicas)
			if tt.deleting {
				rs.DeletionTimestamp = &api.Time{Time: t0}
			}
			owned := ownedBy(rs, fixturePods("p", tt.owned...))
			orphans := fixturePods("o", tt.orphans...)
			for _, p := range orphans {
				p.Labels = map[string]string{"app": "web"}
			}
			plan := planReplicaSet(rs, owned, orphans, owned, t0)
			var adopt []string
			if plan.claim != nil {
				for _, k := range plan.claim.Adopt {
					adopt = append(adopt, k.Name)
				}
			}
			if fmt.Sprint(adopt) != fmt.Sprint(tt.wantAdopt) {
				t.Fatalf("adopt %v, want %v", adopt, tt.wantAdopt)
			}
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

// TestReplicaSetReleasesAndCounts: a pod relabelled out of the selector is
// released; the status counts what the ReplicaSet controller observes.
func TestReplicaSetReleasesAndCounts(t *testing.T) {
	rs := testReplicaSet(3)
	rs.Spec.MinReadySeconds = 30
	pods := ownedBy(rs, fixturePods("p", running, running, starting, failed))
	pods[1].Labels = map[string]string{"app": "web"} // still selected, no longer fully labelled
	plan := planReplicaSet(rs, pods, nil, pods, t0.Add(10*time.Second))
	want := api.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 0, ObservedGeneration: 3}
	if !equality.Semantic.DeepEqual(plan.status, want) || plan.recheck != 20*time.Second {
		t.Fatalf("status %+v recheck %v, want %+v and 20s", plan.status, plan.recheck, want)
	}
	pods[0].Labels = map[string]string{"app": "debug"}
	plan = planReplicaSet(rs, pods, nil, pods, t0)
	if plan.claim == nil || len(plan.claim.Release) != 1 || plan.claim.Release[0].Name != "p-0" {
		t.Fatalf("claim %+v, want p-0 released", plan.claim)
	}
}

// TestScaleDownKeepsSpread: scaling pods spread 3/2/2 down to 4 removes
// them so that every node keeps one or two, as Kubernetes does, rather
// than emptying a node; the pods of a sibling ReplicaSet count in the
// spread.
func TestScaleDownKeepsSpread(t *testing.T) {
	rs := testReplicaSet(4)
	var pods []*api.Pod
	for i, node := range []string{"n1", "n1", "n2", "n2", "n3", "n3", "n1"} {
		p := fixturePods(fmt.Sprintf("p%d", i), running)[0]
		p.Spec.NodeName = node
		pods = append(pods, p)
	}
	ownedBy(rs, pods)
	plan := planReplicaSet(rs, pods, nil, pods, t0)
	left := map[string]int{"n1": 3, "n2": 2, "n3": 2}
	for _, del := range plan.deletes {
		for _, p := range pods {
			if p.Name == del.Name {
				left[p.Spec.NodeName]--
			}
		}
	}
	lo, hi := 99, 0
	for _, n := range left {
		lo, hi = min(lo, n), max(hi, n)
	}
	if len(plan.deletes) != 3 || hi-lo > 1 {
		t.Fatalf("deleted %d, left per node %v: want 3 deleted and the spread kept", len(plan.deletes), left)
	}

	// A sibling's two pods on n3 make n3 the fullest: it loses first.
	sibling := fixturePods("s", running, running)
	for _, p := range sibling {
		p.Spec.NodeName = "n3"
	}
	three := pods[2:5] // n2, n2, n3
	rs.Spec.Replicas = ptr(int32(2))
	plan = planReplicaSet(rs, three, nil, append(append([]*api.Pod{}, three...), sibling...), t0)
	if len(plan.deletes) != 1 || plan.deletes[0].Name != "p4-0" {
		t.Fatalf("deletes %v, want the pod on n3, where the sibling's pods are", plan.deletes)
	}
}

func ptr[T any](v T) *T { return &v }

// fakeState is a State over fixed objects.
type fakeState struct {
	deployments []*api.Deployment
	rss         []*api.ReplicaSet
	pods        []*api.Pod
}

func (s *fakeState) Deployments(keep func(*api.Deployment) bool) ([]*api.Deployment, uint64) {
	return s.deployments, 1
}
func (s *fakeState) ReplicaSets(keep func(*api.ReplicaSet) bool) ([]*api.ReplicaSet, uint64) {
	return s.rss, 1
}
func (s *fakeState) Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64) { return s.pods, 1 }
func (s *fakeState) ServiceAccount(namespace, name string) (*api.ServiceAccount, bool) {
	return nil, false
}
func (s *fakeState) Changed() <-chan struct{} { return make(chan struct{}) }

// recorder is a Committer that records commands and refuses those refuse
// says.
type recorder struct {
	cmds   []consensus.CommandType
	events []string
	status []consensus.SetReplicaSetStatuses
	refuse func(t consensus.CommandType, payload any) error
}

func (r *recorder) Commit(_ context.Context, t consensus.CommandType, payload any) (json.RawMessage, error) {
	if r.refuse != nil {
		if err := r.refuse(t, payload); err != nil {
			return nil, err
		}
	}
	r.cmds = append(r.cmds, t)
	switch p := payload.(type) {
	case consensus.RecordEvents:
		for _, e := range p.Events {
			r.events = append(r.events, e.Type+" "+e.Reason+" "+e.Message)
		}
	case consensus.SetReplicaSetStatuses:
		r.status = append(r.status, p)
	case consensus.CreatePods:
		return json.Marshal(len(p.Pods))
	}
	return json.RawMessage("null"), nil
}

// TestReplicaSetFailure: a template the state machine refuses fails after
// one pod (slow start), with a FailedCreate event in Kubernetes' words and
// the ReplicaFailure condition; the next pass that creates clears it.
func TestReplicaSetFailure(t *testing.T) {
	rs := testReplicaSet(5)
	state := &fakeState{rss: []*api.ReplicaSet{rs}}
	refused := api.NewForbidden("", "pods", "web-x", `error looking up service account default/robot: serviceaccount "robot" not found`)
	rec := &recorder{refuse: func(t consensus.CommandType, _ any) error {
		if t == consensus.CmdCreatePod || t == consensus.CmdCreatePods {
			return refused
		}
		return nil
	}}
	now := t0
	apps := &Apps{State: state, Commit: rec, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}
	if next := apps.Sync(context.Background()); next != replicaSetBackoffBase {
		t.Fatalf("a failed pass asks to run again in %v, want %v", next, replicaSetBackoffBase)
	}
	if len(rec.events) != 1 || rec.events[0] != "Warning FailedCreate Error creating: "+refused.Error() {
		t.Fatalf("events %q", rec.events)
	}
	if len(rec.status) != 1 {
		t.Fatalf("statuses %+v", rec.status)
	}
	cond := rec.status[0].Updates[0].Status.Conditions
	if len(cond) != 1 || cond[0].Type != api.ReplicaSetReplicaFailure || cond[0].Reason != "FailedCreate" || cond[0].Status != api.ConditionTrue {
		t.Fatalf("conditions %+v", cond)
	}

	rs.Status = rec.status[0].Updates[0].Status

	// Backing off, as kube-controller-manager's workqueue requeues a
	// failed key: a pass before the delay does nothing, however the state
	// changed (its own event changed it); each failure doubles the delay.
	rec.cmds, rec.events, rec.status = nil, nil, nil
	if next := apps.Sync(context.Background()); next != replicaSetBackoffBase || len(rec.cmds) != 0 {
		t.Fatalf("a pass during the back-off: next %v, commands %v; want %v and none", next, rec.cmds, replicaSetBackoffBase)
	}
	now = now.Add(replicaSetBackoffBase)
	if next := apps.Sync(context.Background()); next != 2*replicaSetBackoffBase || len(rec.events) != 1 {
		t.Fatalf("second failure: next %v, events %q; want %v and one FailedCreate", next, rec.events, 2*replicaSetBackoffBase)
	}
	now = now.Add(2 * replicaSetBackoffBase)
	rec.refuse, rec.events, rec.status = nil, nil, nil
	apps.Sync(context.Background())
	if len(rec.events) != 5 || !strings.HasPrefix(rec.events[0], "Normal SuccessfulCreate Created pod: web-") {
		t.Fatalf("events %q", rec.events)
	}
	if len(rec.status) != 1 || len(rec.status[0].Updates[0].Status.Conditions) != 0 {
		t.Fatalf("the failure condition stays after a pass that created: %+v", rec.status)
	}
	if statusCode(refused) != http.StatusForbidden {
		t.Fatal("fixture")
	}
}

func statusCode(err error) int {
	if st, ok := err.(*api.Status); ok {
		return st.Code
	}
	return 0
}

// TestDeploymentPassCommitsInOrder: a Deployment pass creates the new
// ReplicaSet before it scales the old one down, records the
// ScalingReplicaSet events and the status with the revision, and the
// ReplicaSet pass then sizes the pods.
func TestDeploymentPassCommitsInOrder(t *testing.T) {
	d := testDeployment(2, api.RollingUpdateDeploymentStrategyType, "1", "0")
	w := newWorld(t, d)
	old := w.addRS("busybox:1", 2, "1", t0, running, running)
	state := &fakeState{deployments: []*api.Deployment{d}, rss: []*api.ReplicaSet{old}}
	for _, p := range w.sortedPods() {
		state.pods = append(state.pods, p)
	}
	rec := &recorder{}
	apps := &Apps{State: state, Commit: rec, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }}
	apps.Sync(context.Background())
	want := []consensus.CommandType{consensus.CmdCreateReplicaSet, consensus.CmdSetDeploymentStatus, consensus.CmdRecordEvents, consensus.CmdSetReplicaSetStatuses}
	if fmt.Sprint(rec.cmds) != fmt.Sprint(want) {
		t.Fatalf("commands %v, want %v (surge 1, unavailable 0: the old ReplicaSet keeps its size)", rec.cmds, want)
	}
	if len(rec.events) != 1 || !strings.HasPrefix(rec.events[0], "Normal ScalingReplicaSet Scaled up replica set web-") || !strings.HasSuffix(rec.events[0], " from 0 to 1") {
		t.Fatalf("events %q", rec.events)
	}
}

// A ReplicaSet's pods mount their ServiceAccount's token as admission
// would add it, unless the ServiceAccount or the template opts out, and
// the template itself is left as it was.
func TestReplicaSetPodServiceAccountToken(t *testing.T) {
	no := false
	for _, tt := range []struct {
		name      string
		sa        *api.ServiceAccount
		automount *bool
		want      bool
	}{
		{name: "ServiceAccount not made yet", want: true},
		{name: "ServiceAccount says nothing", sa: &api.ServiceAccount{}, want: true},
		{name: "ServiceAccount opts out", sa: &api.ServiceAccount{AutomountServiceAccountToken: &no}, want: false},
		{name: "template opts out", sa: &api.ServiceAccount{}, automount: &no, want: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "shop", UID: "rs-1"}}
			rs.Spec.Template.Spec = api.PodSpec{AutomountServiceAccountToken: tt.automount,
				Containers: []api.Container{{Name: "c", Image: "busybox"}}}
			pod := newReplicaSetPod(rs, "pod-1", tt.sa)
			name := api.ServiceAccountTokenVolumeName(&pod.Spec)
			if got := name != ""; got != tt.want {
				t.Fatalf("token volume %q, want one: %v", name, tt.want)
			}
			if tt.want && (len(pod.Spec.Containers[0].VolumeMounts) != 1 || pod.Spec.Containers[0].VolumeMounts[0].MountPath != api.ServiceAccountTokenMountPath) {
				t.Fatalf("container mounts %+v", pod.Spec.Containers[0].VolumeMounts)
			}
			if len(rs.Spec.Template.Spec.Containers[0].VolumeMounts) != 0 || len(rs.Spec.Template.Spec.Volumes) != 0 {
				t.Fatal("the template was changed")
			}
		})
	}
}
