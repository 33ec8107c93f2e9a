package controllers

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// t0 is the tests' clock.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

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
	api.SetDeploymentDefaults(d)
	return d
}

// pod states for fixtures.
const (
	running  = "running"  // Running and Ready
	starting = "starting" // bound, not ready yet
	pending  = "pending"  // not bound
	failed   = "failed"   // Failed (e.g. NodeLost)
	stopping = "stopping" // Running, being deleted
)

// fixturePods makes pods prefix-0, prefix-1, … in the given states, one
// second apart in age (later ones newer).
func fixturePods(prefix string, states ...string) []*api.Pod {
	var out []*api.Pod
	for i, st := range states {
		p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("%s-%d", prefix, i), Namespace: "default", UID: types.UID(fmt.Sprintf("%s-%d", prefix, i)),
			CreationTimestamp: api.NewTime(t0.Add(time.Duration(i) * time.Second))}}
		setPodState(p, st)
		out = append(out, p)
	}
	return out
}

func setPodState(p *api.Pod, st string) {
	switch st {
	case running, stopping:
		p.Spec.NodeName = "n1"
		p.Status.Phase = api.PodRunning
		p.Status.Conditions = []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: api.NewTime(t0)}}
		if st == stopping {
			ts := api.NewTime(t0)
			p.DeletionTimestamp = &ts
		}
	case starting:
		p.Spec.NodeName = "n1"
		p.Status.Phase = api.PodPending
	case failed:
		p.Spec.NodeName = "n1"
		p.Status.Phase = api.PodFailed
		p.Status.Reason = api.PodReasonNodeLost
	}
}

// world is a Deployment with its ReplicaSets and pods, which the tests
// drive with the controllers' plans as the state machine would apply
// them: ReplicaSets are created and updated, pods created (running and
// ready at once unless podsStart is set) and deleted at once.
type world struct {
	t         *testing.T
	d         *api.Deployment
	rss       map[string]*api.ReplicaSet
	pods      map[string]*api.Pod
	now       time.Time
	uids      int
	podsStart bool // new pods are starting, not ready
	events    []string
}

func newWorld(t *testing.T, d *api.Deployment) *world {
	return &world{t: t, d: d, rss: map[string]*api.ReplicaSet{}, pods: map[string]*api.Pod{}, now: t0}
}

func (w *world) newUID() types.UID {
	w.uids++
	return types.UID(fmt.Sprintf("uid-%d", w.uids))
}

func (w *world) view() deploymentView {
	v := deploymentView{d: w.d, pods: map[types.UID][]*api.Pod{}}
	for _, name := range slices.Sorted(maps.Keys(w.rss)) {
		rs := w.rss[name]
		if api.IsControlledBy(&rs.ObjectMeta, w.d.UID) {
			v.owned = append(v.owned, rs)
		} else if api.ControllerOf(&rs.ObjectMeta) == nil {
			v.orphans = append(v.orphans, rs)
		}
	}
	for _, p := range w.sortedPods() {
		if r := api.ControllerOf(&p.ObjectMeta); r != nil {
			v.pods[r.UID] = append(v.pods[r.UID], p)
		}
	}
	return v
}

func (w *world) sortedPods() []*api.Pod {
	var out []*api.Pod
	for _, name := range slices.Sorted(maps.Keys(w.pods)) {
		out = append(out, w.pods[name])
	}
	return out
}

// deploymentStep plans the Deployment and applies the plan; it reports
// whether anything changed.
func (w *world) deploymentStep() (deploymentPlan, bool) {
	w.t.Helper()
	plan := planDeployment(w.view(), w.now, w.newUID)
	changed := false
	if plan.adopt != nil || plan.claim != nil {
		w.t.Fatalf("unexpected ownership plan %+v %+v", plan.adopt, plan.claim)
	}
	for _, wr := range plan.writes {
		rs := wr.rs.DeepCopy()
		if wr.create {
			if _, exists := w.rss[rs.Name]; exists {
				w.t.Fatalf("plan creates ReplicaSet %s, which exists", rs.Name)
			}
			rs.CreationTimestamp = api.NewTime(w.now)
			rs.Generation = 1
		} else {
			rs.Generation++
		}
		w.rss[rs.Name] = rs
		if wr.event != "" {
			w.events = append(w.events, wr.event)
		}
		changed = true
	}
	for _, del := range plan.cleanup {
		delete(w.rss, del.Name)
		changed = true
	}
	if !equality.Semantic.DeepEqual(w.d.Status, plan.status) {
		changed = true
	}
	w.d.Status = plan.status
	if plan.revision != "" {
		w.d.Annotations = map[string]string{api.AnnotationRevision: plan.revision}
	}
	return plan, changed
}

// replicaSetStep plans every ReplicaSet and applies the plans; it reports
// whether anything changed.
func (w *world) replicaSetStep() bool {
	w.t.Helper()
	changed := false
	byRS := map[types.UID][]*api.Pod{}
	var all []*api.Pod
	for _, p := range w.sortedPods() {
		if r := api.ControllerOf(&p.ObjectMeta); r != nil {
			byRS[r.UID] = append(byRS[r.UID], p)
			all = append(all, p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.rss)) {
		rs := w.rss[name]
		plan := planReplicaSet(rs, byRS[rs.UID], nil, all, w.now)
		for range plan.create {
			p := newReplicaSetPod(rs, w.newUID(), nil)
			p.Name = fmt.Sprintf("%s-%d", rs.Name, w.uids)
			p.CreationTimestamp = api.NewTime(w.now)
			if w.podsStart {
				setPodState(&p, starting)
			} else {
				setPodState(&p, running)
			}
			w.pods[p.Name] = &p
			changed = true
		}
		for _, del := range plan.deletes {
			delete(w.pods, del.Name)
			changed = true
		}
		if !equality.Semantic.DeepEqual(plan.status.Replicas, rs.Status.Replicas) || rs.Status.ObservedGeneration != plan.status.ObservedGeneration {
			changed = true
		}
		rs.Status = plan.status
	}
	return changed
}

// settle runs both controllers until nothing changes, at most 100 rounds.
func (w *world) settle() {
	w.t.Helper()
	for round := 0; round < 100; round++ {
		_, dc := w.deploymentStep()
		rc := w.replicaSetStep()
		if !dc && !rc {
			return
		}
		w.now = w.now.Add(time.Second)
	}
	w.t.Fatalf("did not settle in 100 rounds: %s", w)
}

// readyAll makes every starting pod running and ready.
func (w *world) readyAll() {
	for _, p := range w.pods {
		if p.Status.Phase == api.PodPending {
			setPodState(p, running)
		}
	}
}

// replicas is the spec.replicas of each ReplicaSet by name.
func (w *world) replicas() map[string]int32 {
	out := map[string]int32{}
	for name, rs := range w.rss {
		out[name] = replicasOf(rs.Spec.Replicas)
	}
	return out
}

func (w *world) String() string {
	s := ""
	for _, name := range slices.Sorted(maps.Keys(w.rss)) {
		rs := w.rss[name]
		n := 0
		for _, p := range w.pods {
			if api.IsControlledBy(&p.ObjectMeta, rs.UID) {
				n++
			}
		}
		s += fmt.Sprintf("%s(rev %s, replicas %d, pods %d) ", name, rs.Annotations[api.AnnotationRevision], replicasOf(rs.Spec.Replicas), n)
	}
	return s
}

// addRS puts a ReplicaSet of the Deployment's template (or, with image,
// of that image) in the world, with pods in the given states.
func (w *world) addRS(image string, replicas int32, revision string, created time.Time, states ...string) *api.ReplicaSet {
	d := *w.d.DeepCopy()
	if image != "" {
		d.Spec.Template.Spec.Containers[0].Image = image
	}
	p := &planner{d: &d, newUID: w.newUID, replicas: int32(consensus.DesiredReplicas(&d)), surge: int32(consensus.MaxSurge(&d))}
	r := p.createNewRS(revision, replicas)
	rs := r.obj
	rs.CreationTimestamp = api.NewTime(created)
	rs.Generation = 1
	rs.Status.ObservedGeneration = 1
	w.rss[rs.Name] = rs
	for i, st := range states {
		pod := newReplicaSetPod(rs, w.newUID(), nil)
		pod.Name = fmt.Sprintf("%s-%d", rs.Name, i)
		pod.CreationTimestamp = api.NewTime(created.Add(time.Duration(i) * time.Second))
		setPodState(&pod, st)
		w.pods[pod.Name] = &pod
	}
	rs.Status.Replicas = int32(len(states))
	return rs
}
