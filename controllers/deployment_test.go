package controllers

import (
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// TestPlanRollout: one Deployment pass over its ReplicaSets, the cases of
// the controller before ReplicaSets, now as ReplicaSet sizes. "old" runs
// busybox:1, the Deployment's template busybox:2.
func TestPlanRollout(t *testing.T) {
	rolling, recreate := api.RollingUpdateDeploymentStrategyType, api.RecreateDeploymentStrategyType
	type rs struct {
		replicas int32
		pods     []string
	}
	tests := []struct {
		name       string
		d          *api.Deployment
		old, cur   *rs // cur: a ReplicaSet of the current template
		wantOld    int32
		wantCur    int32 // -1: no current ReplicaSet
		wantCreate bool
	}{
		{name: "fresh: the new ReplicaSet with every replica", d: testDeployment(4, rolling, "25%", "25%"),
			wantCur: 4, wantCreate: true},
		{name: "steady", d: testDeployment(2, rolling, "25%", "25%"),
			cur: &rs{2, []string{running, running}}, wantCur: 2},
		{name: "rolling start: surge one, one old may go", d: testDeployment(4, rolling, "25%", "25%"),
			old: &rs{4, []string{running, running, running, running}}, wantOld: 3, wantCur: 1, wantCreate: true},
		{name: "rolling: never below replicas - maxUnavailable available", d: testDeployment(4, rolling, "25%", "25%"),
			old: &rs{3, []string{running, running, running}}, cur: &rs{2, []string{starting, starting}}, wantOld: 3, wantCur: 2},
		{name: "rolling: unavailable old replicas go first", d: testDeployment(4, rolling, "25%", "25%"),
			old: &rs{3, []string{running, starting, running}}, cur: &rs{1, []string{running}}, wantOld: 2, wantCur: 2},
		{name: "maxSurge 0 maxUnavailable 1: down before up", d: testDeployment(3, rolling, "0", "1"),
			old: &rs{3, []string{running, running, running}}, wantOld: 2, wantCur: 0, wantCreate: true},
		{name: "rolling: the new ReplicaSet over replicas shrinks", d: testDeployment(2, rolling, "25%", "25%"),
			old: &rs{0, nil}, cur: &rs{3, []string{running, running, running}}, wantOld: 0, wantCur: 2},
		{name: "recreate: every old replica goes first", d: testDeployment(2, recreate, "", ""),
			old: &rs{2, []string{running, running}}, wantOld: 0, wantCur: -1},
		{name: "recreate: wait for old pods to terminate", d: testDeployment(2, recreate, "", ""),
			old: &rs{0, []string{stopping}}, wantOld: 0, wantCur: -1},
		{name: "recreate: then the new ReplicaSet at full size", d: testDeployment(2, recreate, "", ""),
			old: &rs{0, []string{failed}}, wantOld: 0, wantCur: 2, wantCreate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.d)
			var oldRS, curRS *api.ReplicaSet
			if tt.old != nil {
				oldRS = w.addRS("busybox:1", tt.old.replicas, "1", t0, tt.old.pods...)
			}
			if tt.cur != nil {
				curRS = w.addRS("", tt.cur.replicas, "2", t0.Add(time.Minute), tt.cur.pods...)
			}
			plan, _ := w.deploymentStep()
			if oldRS != nil {
				if got := replicasOf(w.rss[oldRS.Name].Spec.Replicas); got != tt.wantOld {
					t.Errorf("old ReplicaSet: %d replicas, want %d", got, tt.wantOld)
				}
			}
			hash := api.TemplateHash(&tt.d.Spec.Template)
			cur, ok := w.rss[tt.d.Name+"-"+hash]
			switch {
			case tt.wantCur < 0 && ok:
				t.Errorf("a new ReplicaSet was created: %s", w)
			case tt.wantCur >= 0 && !ok:
				t.Fatalf("no ReplicaSet of the current template: %s", w)
			case ok && replicasOf(cur.Spec.Replicas) != tt.wantCur:
				t.Errorf("current ReplicaSet: %d replicas, want %d", replicasOf(cur.Spec.Replicas), tt.wantCur)
			}
			created := len(plan.writes) > 0 && plan.writes[0].create
			if created != tt.wantCreate {
				t.Errorf("created a ReplicaSet: %v, want %v", created, tt.wantCreate)
			}
			if ok && curRS == nil {
				// A ReplicaSet made as Kubernetes makes it.
				if cur.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] != hash || cur.Spec.Template.Labels[api.LabelPodTemplateHash] != hash ||
					cur.Labels[api.LabelPodTemplateHash] != hash || !api.IsControlledBy(&cur.ObjectMeta, "d-uid") ||
					*api.ControllerOf(&cur.ObjectMeta).BlockOwnerDeletion != true {
					t.Errorf("new ReplicaSet: %+v", cur.ObjectMeta)
				}
				if err := api.ValidateNewReplicaSet(cur); err != nil {
					t.Errorf("the new ReplicaSet is not valid: %v", err)
				}
			}
		})
	}
}

// TestRollingUpdateKeepsAvailability simulates a rollout across
// ReplicaSets (every created pod becomes ready before the next step, every
// deleted pod goes at once) and checks the bounds at every step.
func TestRollingUpdateKeepsAvailability(t *testing.T) {
	for _, tc := range []struct {
		replicas           int32
		surge, unavailable string
	}{
		{4, "25%", "25%"}, {20, "25%", "25%"}, {3, "0", "1"}, {5, "2", "0"}, {10, "50%", "10%"}, {1, "0", "1"}, {1, "1", "0"},
	} {
		t.Run(fmt.Sprintf("%d replicas, surge %s, unavailable %s", tc.replicas, tc.surge, tc.unavailable), func(t *testing.T) {
			d := testDeployment(tc.replicas, api.RollingUpdateDeploymentStrategyType, tc.surge, tc.unavailable)
			w := newWorld(t, d)
			w.settle()
			d.Spec.Template.Spec.Containers[0].Image = "busybox:3"
			d.Generation++
			minAvail := int(tc.replicas) - consensus.MaxUnavailable(d)
			maxTotal := int(tc.replicas) + consensus.MaxSurge(d)
			for step := 0; ; step++ {
				if step > 100 {
					t.Fatalf("rollout did not finish in 100 steps: %s", w)
				}
				_, dc := w.deploymentStep()
				w.podsStart = true
				rc := w.replicaSetStep()
				available := 0
				for _, p := range w.pods {
					if ok, _ := availability(p, 0, w.now); ok {
						available++
					}
				}
				if available < minAvail {
					t.Fatalf("step %d: %d available, below %d: %s", step, available, minAvail, w)
				}
				if len(w.pods) > maxTotal {
					t.Fatalf("step %d: %d pods, above %d: %s", step, len(w.pods), maxTotal, w)
				}
				w.readyAll()
				if !dc && !rc {
					break
				}
			}
			newRS := w.rss[d.Name+"-"+api.TemplateHash(&d.Spec.Template)]
			if newRS == nil || replicasOf(newRS.Spec.Replicas) != tc.replicas || len(w.rss) != 2 {
				t.Fatalf("after the rollout: %s", w)
			}
			for name, n := range w.replicas() {
				if name != newRS.Name && n != 0 {
					t.Fatalf("old ReplicaSet %s keeps %d replicas", name, n)
				}
			}
			if st := d.Status; st.UpdatedReplicas != tc.replicas || st.AvailableReplicas != tc.replicas || st.Replicas != tc.replicas {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// TestRevisions: each template gets a ReplicaSet with the next revision;
// going back to an earlier template reuses its ReplicaSet, which takes the
// next revision and remembers its old one; the Deployment carries the
// newest revision; ScalingReplicaSet events say what moved.
func TestRevisions(t *testing.T) {
	d := testDeployment(2, api.RollingUpdateDeploymentStrategyType, "1", "0")
	w := newWorld(t, d)
	w.settle()
	image := func(tag string) {
		d.Spec.Template.Spec.Containers[0].Image = tag
		d.Generation++
		w.settle()
	}
	rev := func(tag string) (string, string) {
		c := *d.DeepCopy()
		c.Spec.Template.Spec.Containers[0].Image = tag
		rs := w.rss[d.Name+"-"+api.TemplateHash(&c.Spec.Template)]
		if rs == nil {
			t.Fatalf("no ReplicaSet for %s: %s", tag, w)
		}
		return rs.Annotations[api.AnnotationRevision], rs.Annotations[api.AnnotationRevisionHistory]
	}
	image("busybox:3")
	image("busybox:4")
	if r2, _ := rev("busybox:2"); r2 != "1" {
		t.Fatalf("first template revision %s, want 1", r2)
	}
	if r4, _ := rev("busybox:4"); r4 != "3" || d.Annotations[api.AnnotationRevision] != "3" {
		t.Fatalf("third template revision %s, Deployment says %s; want 3", r4, d.Annotations[api.AnnotationRevision])
	}
	image("busybox:2") // rollout undo to revision 1
	if r, h := rev("busybox:2"); r != "4" || h != "1" {
		t.Fatalf("after going back to the first template: revision %s history %q, want 4 and \"1\"", r, h)
	}
	if len(w.rss) != 3 {
		t.Fatalf("%d ReplicaSets, want 3 (the first one reused): %s", len(w.rss), w)
	}
	for name, n := range w.replicas() {
		if want := map[bool]int32{true: 2, false: 0}[name == d.Name+"-"+api.TemplateHash(&d.Spec.Template)]; n != want {
			t.Errorf("%s has %d replicas, want %d", name, n, want)
		}
	}
	for _, rs := range w.rss {
		if rs.Annotations[api.AnnotationDesiredReplicas] != "2" || rs.Annotations[api.AnnotationMaxReplicas] != "3" {
			t.Errorf("%s: replicas annotations %v, want desired 2 and max 3", rs.Name, rs.Annotations)
		}
	}
	if len(w.events) == 0 || w.events[0] != fmt.Sprintf("Scaled up replica set %s from 0 to 2", w.rsFor(t, "busybox:2")) {
		t.Errorf("first event %q", w.events)
	}
}

// rsFor is the name of the ReplicaSet of the Deployment's template with image.
func (w *world) rsFor(t *testing.T, image string) string {
	c := *w.d.DeepCopy()
	c.Spec.Template.Spec.Containers[0].Image = image
	return c.Name + "-" + api.TemplateHash(&c.Spec.Template)
}

// TestRevisionHistoryLimit: once a rollout is complete, the old
// ReplicaSets beyond revisionHistoryLimit go, lowest revision first; ones
// with replicas or pods left stay.
func TestRevisionHistoryLimit(t *testing.T) {
	d := testDeployment(1, api.RollingUpdateDeploymentStrategyType, "1", "0")
	limit := int32(2)
	d.Spec.RevisionHistoryLimit = &limit
	w := newWorld(t, d)
	for i := 1; i <= 5; i++ {
		w.addRS(fmt.Sprintf("busybox:old%d", i), 0, strconv.Itoa(i), t0.Add(time.Duration(i)*time.Minute))
	}
	w.addRS("busybox:old6", 0, "6", t0.Add(6*time.Minute), stopping) // a pod still going
	w.addRS("", 1, "7", t0.Add(7*time.Minute), running)
	// Not complete yet (the status says nothing): nothing is deleted.
	if plan, _ := w.deploymentStep(); len(plan.cleanup) != 0 {
		t.Fatalf("cleanup before the rollout is complete: %v", plan.cleanup)
	}
	w.settle()
	var left []string
	for name, rs := range w.rss {
		left = append(left, name+"@"+rs.Annotations[api.AnnotationRevision])
	}
	for _, gone := range []string{"busybox:old1", "busybox:old2", "busybox:old3", "busybox:old4"} {
		if _, ok := w.rss[w.rsFor(t, gone)]; ok {
			t.Errorf("%s (beyond the limit) kept: %v", gone, left)
		}
	}
	for _, kept := range []string{"busybox:old5", "busybox:old6", "busybox:2"} {
		if _, ok := w.rss[w.rsFor(t, kept)]; !ok {
			t.Errorf("%s deleted: %v", kept, left)
		}
	}
}

// TestAdoptLegacyPods: a Deployment stored before ReplicaSets, in the
// middle of a rollout, gets one ReplicaSet per template hash sized to its
// running pods, the current template's with the highest revision; after
// that, the rollout goes on across ReplicaSets to its end.
func TestAdoptLegacyPods(t *testing.T) {
	d := testDeployment(3, api.RollingUpdateDeploymentStrategyType, "1", "0")
	current := api.TemplateHash(&d.Spec.Template)
	controller := true
	legacy := func(name, hash, state string, age int) *api.Pod {
		p := fixturePods(name, state)[0]
		p.Name = name
		p.CreationTimestamp = api.NewTime(t0.Add(time.Duration(age) * time.Second))
		p.Labels = map[string]string{"app": "web", api.LabelPodTemplateHash: hash}
		p.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: d.UID, Controller: &controller}}
		p.Spec.Containers = []api.Container{{Name: "c", Image: "busybox:" + hash}}
		api.SetPodDefaults(p)
		return p
	}
	w := newWorld(t, d)
	for _, p := range []*api.Pod{
		legacy("web-older-a", "older", failed, 1),
		legacy("web-old-a", "old", running, 2), legacy("web-old-b", "old", running, 3),
		legacy("web-"+current+"-a", current, running, 4),
	} {
		w.pods[p.Name] = p
	}
	plan := planDeployment(w.view(), t0, w.newUID)
	if plan.adopt == nil {
		t.Fatalf("no adoption planned: %+v", plan)
	}
	got := map[string]string{}
	for _, rs := range plan.adopt.ReplicaSets {
		got[rs.Name] = fmt.Sprintf("rev %s, %d replicas", rs.Annotations[api.AnnotationRevision], *rs.Spec.Replicas)
		if err := api.ValidateNewReplicaSet(&rs); err != nil {
			t.Errorf("ReplicaSet %s is not valid: %v", rs.Name, err)
		}
		hash := rs.Spec.Selector.MatchLabels[api.LabelPodTemplateHash]
		if rs.Name != "web-"+hash || rs.Spec.Template.Labels[api.LabelPodTemplateHash] != hash {
			t.Errorf("ReplicaSet %s selects %s=%s", rs.Name, api.LabelPodTemplateHash, hash)
		}
		if hash == "old" && rs.Spec.Template.Spec.Containers[0].Image != "busybox:old" {
			t.Errorf("the old revision's template is not its pods': %+v", rs.Spec.Template.Spec.Containers)
		}
	}
	want := map[string]string{"web-older": "rev 1, 0 replicas", "web-old": "rev 2, 2 replicas", "web-" + current: "rev 3, 1 replicas"}
	if !maps.Equal(got, want) {
		t.Fatalf("adoption %v, want %v", got, want)
	}

	// Apply it as the FSM would, then let the controllers finish.
	for i := range plan.adopt.ReplicaSets {
		rs := plan.adopt.ReplicaSets[i]
		rs.CreationTimestamp = api.NewTime(t0)
		w.rss[rs.Name] = &rs
		for _, p := range w.pods {
			if p.Labels[api.LabelPodTemplateHash] == rs.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] {
				p.OwnerReferences = []api.OwnerReference{api.NewControllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)}
			}
		}
	}
	before := map[string]types.UID{}
	for name, p := range w.pods {
		before[name] = p.UID
	}
	// The first pass after the move restarts nothing.
	if plan, _ := w.deploymentStep(); plan.adopt != nil {
		t.Fatalf("adopted twice")
	}
	w.settle()
	if _, ok := w.pods["web-"+current+"-a"]; !ok {
		t.Errorf("the running pod of the current template was replaced")
	}
	if n := w.replicas()["web-"+current]; n != 3 || w.replicas()["web-old"] != 0 {
		t.Fatalf("after the rollout: %s", w)
	}
}

// TestClaimReplicaSets: a Deployment adopts an orphaned ReplicaSet its
// selector matches (one left by `delete --cascade=orphan`), and releases
// one relabelled out of it.
func TestClaimReplicaSets(t *testing.T) {
	d := testDeployment(2, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	w := newWorld(t, d)
	orphan := w.addRS("", 2, "1", t0, running, running)
	orphan.OwnerReferences = nil
	other := w.addRS("busybox:9", 0, "", t0)
	other.OwnerReferences = nil
	other.Labels = map[string]string{"app": "db"}
	relabelled := w.addRS("busybox:8", 0, "", t0)
	relabelled.Labels = map[string]string{"app": "web-debug"}
	plan := planDeployment(w.view(), t0, w.newUID)
	if plan.claim == nil || len(plan.claim.Adopt) != 1 || plan.claim.Adopt[0].Name != orphan.Name ||
		len(plan.claim.Release) != 1 || plan.claim.Release[0].Name != relabelled.Name {
		t.Fatalf("claim %+v, want %s adopted and %s released", plan.claim, orphan.Name, relabelled.Name)
	}
	d.DeletionTimestamp = &api.Time{Time: t0}
	if plan := planDeployment(w.view(), t0, w.newUID); plan.claim == nil || len(plan.claim.Adopt) != 0 {
		t.Fatalf("a Deployment being deleted adopts: %+v", plan.claim)
	}
}

// TestScaleProportionally: scaling a Deployment in the middle of a rollout
// shares the new replicas among its ReplicaSets by their size, and a
// paused Deployment scales without rolling out.
func TestScaleProportionally(t *testing.T) {
	d := testDeployment(10, api.RollingUpdateDeploymentStrategyType, "25%", "25%") // surge 3
	w := newWorld(t, d)
	old := w.addRS("busybox:1", 8, "1", t0, repeat(running, 8)...)
	cur := w.addRS("", 5, "2", t0.Add(time.Minute), repeat(starting, 5)...)
	fifteen := int32(15) // surge 4: 19 in all
	d.Spec.Replicas = &fifteen
	d.Generation++
	plan, _ := w.deploymentStep()
	o, c := replicasOf(w.rss[old.Name].Spec.Replicas), replicasOf(w.rss[cur.Name].Spec.Replicas)
	if o+c != 19 || o != 12 || c != 7 {
		t.Fatalf("scaled to old %d + new %d, want 12 + 7 = 19 (plan %+v)", o, c, plan.writes)
	}
	for _, rs := range w.rss {
		if rs.Annotations[api.AnnotationDesiredReplicas] != "15" || rs.Annotations[api.AnnotationMaxReplicas] != "19" {
			t.Errorf("%s annotations %v", rs.Name, rs.Annotations)
		}
	}

	// Paused: a new template is not rolled out, but scaling still is.
	d.Spec.Paused = true
	d.Spec.Template.Spec.Containers[0].Image = "busybox:3"
	two := int32(2)
	d.Spec.Replicas = &two
	w.settle()
	if len(w.rss) != 2 {
		t.Fatalf("a paused Deployment rolled out: %s", w)
	}
	if total := replicasOf(w.rss[old.Name].Spec.Replicas) + replicasOf(w.rss[cur.Name].Spec.Replicas); total > 2+1 {
		t.Fatalf("paused Deployment scaled to %d replicas in all, want at most 3: %s", total, w)
	}
}

// TestDeploymentBeingDeleted: a Deployment deleted in the foreground gets
// its status and nothing else.
func TestDeploymentBeingDeleted(t *testing.T) {
	d := testDeployment(3, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	w := newWorld(t, d)
	w.addRS("busybox:1", 3, "1", t0, running, running, running)
	d.DeletionTimestamp = &api.Time{Time: t0}
	plan := planDeployment(w.view(), t0, w.newUID)
	if len(plan.writes)+len(plan.cleanup) != 0 || plan.status.Replicas != 3 {
		t.Fatalf("plan for a Deployment being deleted: %+v", plan)
	}
}

func TestDeploymentStatus(t *testing.T) {
	d := testDeployment(4, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	w := newWorld(t, d)
	w.addRS("busybox:1", 2, "1", t0, running, starting)
	w.addRS("", 2, "2", t0.Add(time.Minute), running, running)
	st := planDeployment(w.view(), t0, w.newUID).status
	if st.Replicas != 4 || st.UpdatedReplicas != 2 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UnavailableReplicas != 1 || st.ObservedGeneration != 2 {
		t.Fatalf("status %+v", st)
	}
	if c := st.Conditions[0]; c.Type != api.DeploymentAvailable || c.Status != api.ConditionTrue {
		t.Fatalf("Available = %+v, want True with 3 of 4 available and maxUnavailable 1", c)
	}
	if c := st.Conditions[1]; c.Reason != "ReplicaSetUpdated" || c.Message != fmt.Sprintf("ReplicaSet %q is progressing.", w.rsFor(t, "busybox:2")) {
		t.Fatalf("Progressing %+v during a rollout", c)
	}
	d.Status = st
	w.settle()
	done := d.Status
	if c := done.Conditions[1]; c.Reason != "NewReplicaSetAvailable" {
		t.Fatalf("Progressing reason %q after the rollout", c.Reason)
	}
	if !done.Conditions[0].LastTransitionTime.Time.Equal(st.Conditions[0].LastTransitionTime.Time) {
		t.Fatalf("Available's transition time moved without a status change")
	}
	again := planDeployment(w.view(), t0.Add(time.Hour), w.newUID).status
	if !equality.Semantic.DeepEqual(again, done) {
		t.Fatalf("an unchanged status differs when computed later: nothing must be written")
	}
}

// TestMinReadySeconds: a ready pod counts as available only after
// minReadySeconds, and the pass says when to look again.
func TestMinReadySeconds(t *testing.T) {
	d := testDeployment(1, api.RollingUpdateDeploymentStrategyType, "25%", "25%")
	d.Spec.MinReadySeconds = 10
	w := newWorld(t, d)
	w.addRS("", 1, "1", t0, running) // ready since t0
	plan := planDeployment(w.view(), t0.Add(4*time.Second), w.newUID)
	if plan.status.AvailableReplicas != 0 || plan.recheck != 6*time.Second {
		t.Fatalf("4 s after ready: available %d, recheck %v; want 0 and 6s", plan.status.AvailableReplicas, plan.recheck)
	}
	if plan := planDeployment(w.view(), t0.Add(10*time.Second), w.newUID); plan.status.AvailableReplicas != 1 || plan.recheck != 0 {
		t.Fatalf("10 s after ready: available %d, recheck %v", plan.status.AvailableReplicas, plan.recheck)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
