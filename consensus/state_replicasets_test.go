package consensus

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// testRS is the ReplicaSet the Deployment controller makes for d's
// template under hash, controlled by d.
func testRS(d api.Deployment, hash, uid string, replicas int32) api.ReplicaSet {
	sel := &api.LabelSelector{MatchLabels: maps.Clone(d.Spec.Selector.MatchLabels)}
	sel.MatchLabels[api.LabelPodTemplateHash] = hash
	tmpl := d.Spec.Template
	tmpl.Labels = maps.Clone(tmpl.Labels)
	tmpl.Labels[api.LabelPodTemplateHash] = hash
	return api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{Name: d.Name + "-" + hash, Namespace: d.Namespace, UID: types.UID(uid), Labels: tmpl.Labels,
			OwnerReferences: []api.OwnerReference{api.NewControllerRef("apps/v1", "Deployment", d.Name, d.UID)}},
		Spec: api.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl},
	}
}

// rsPod is a pod of rs, as the ReplicaSet controller makes it.
func rsPod(rs api.ReplicaSet, name, uid string) api.Pod {
	p := testPod(name, uid, 0, "100Mi")
	p.Namespace = rs.Namespace
	p.Labels = maps.Clone(rs.Spec.Template.Labels)
	p.OwnerReferences = []api.OwnerReference{api.NewControllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)}
	return p
}

// gcFSM holds a Deployment web (uid d-1) with a ReplicaSet web-h1 (rs-1)
// of two pods, a (bound to node-1) and b (unbound).
func gcFSM(t *testing.T) *fsm {
	t.Helper()
	f := podFSM(t)
	d := gateDeployment("web", "d-1")
	mustApply(t, f, 3, command(t, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0))
	rs := testRS(d, "h1", "rs-1", 2)
	mustApply(t, f, 4, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs}, t0))
	mustApply(t, f, 5, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{rsPod(rs, "web-h1-a", "p-a"), rsPod(rs, "web-h1-b", "p-b")}}, t0))
	bind(t, f, 6, PodBinding{Namespace: "default", Name: "web-h1-a", UID: "p-a", Node: "node-1"})
	return f
}

func TestReplicaSetCommands(t *testing.T) {
	f := gcFSM(t)
	d := gateDeployment("web", "d-1")
	rs := testRS(d, "h1", "rs-2", 1)
	if _, err := applyErr(t, f, 7, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs}, t0)); statusCode(err) != http.StatusConflict ||
		err.Error() != `replicasets.apps "web-h1" already exists` {
		t.Fatalf("duplicate: %v", err)
	}
	bad := testRS(d, "h2", "rs-2", 1)
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	if _, err := applyErr(t, f, 8, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: bad}, t0)); statusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("selector not matching the template: %v, want 422", err)
	}
	elsewhere := testRS(d, "h2", "rs-2", 1)
	elsewhere.Namespace, elsewhere.OwnerReferences = "nowhere", nil
	if _, err := applyErr(t, f, 9, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: elsewhere}, t0)); statusCode(err) != http.StatusNotFound {
		t.Fatalf("missing namespace: %v, want 404", err)
	}

	stored, _ := f.state.ReplicaSet("default", "web-h1")
	if stored.Generation != 1 || stored.Kind != "ReplicaSet" || stored.APIVersion != "apps/v1" || stored.ResourceVersion != "4" {
		t.Fatalf("stored: %+v", stored.ObjectMeta)
	}
	scaled := *stored.DeepCopy()
	three := int32(3)
	scaled.Spec.Replicas = &three
	scaled.Annotations = map[string]string{api.AnnotationRevision: "1"}
	scaled.OwnerReferences = nil // ignored: ownership is the collector's
	got := mustApply(t, f, 10, command(t, CmdUpdateReplicaSet, UpdateReplicaSet{ReplicaSet: scaled}, t0)).(*api.ReplicaSet)
	if *got.Spec.Replicas != 3 || got.Generation != 2 || got.Annotations[api.AnnotationRevision] != "1" || api.ControllerOf(&got.ObjectMeta) == nil {
		t.Fatalf("scaled: replicas %d generation %d annotations %v owners %v", *got.Spec.Replicas, got.Generation, got.Annotations, got.OwnerReferences)
	}
	if _, err := applyErr(t, f, 11, command(t, CmdUpdateReplicaSet, UpdateReplicaSet{ReplicaSet: scaled}, t0)); statusCode(err) != http.StatusConflict ||
		!strings.Contains(err.Error(), `Operation cannot be fulfilled on replicasets.apps "web-h1"`) {
		t.Fatalf("stale resourceVersion: %v, want 409", err)
	}
	moved := *got.DeepCopy()
	moved.Spec.Selector = &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	if _, err := applyErr(t, f, 12, command(t, CmdUpdateReplicaSet, UpdateReplicaSet{ReplicaSet: moved}, t0)); statusCode(err) != http.StatusUnprocessableEntity ||
		!strings.Contains(err.Error(), "field is immutable") {
		t.Fatalf("selector change: %v, want 422 immutable", err)
	}

	mustApply(t, f, 13, command(t, CmdSetReplicaSetStatuses, SetReplicaSetStatuses{Updates: []ReplicaSetStatusUpdate{
		{Namespace: "default", Name: "web-h1", UID: "rs-1", Status: api.ReplicaSetStatus{Replicas: 2, ObservedGeneration: 2}},
		{Namespace: "default", Name: "web-h1", UID: "replaced", Status: api.ReplicaSetStatus{Replicas: 9}},
		{Namespace: "default", Name: "gone", UID: "x", Status: api.ReplicaSetStatus{Replicas: 9}},
	}}, t0))
	if rs, _ := f.state.ReplicaSet("default", "web-h1"); rs.Status.Replicas != 2 || rs.Status.ObservedGeneration != 2 || rs.ResourceVersion != "13" {
		t.Fatalf("status: %+v (rv %s)", rs.Status, rs.ResourceVersion)
	}
}

// TestReplicaSetCeiling: the FSM holds ReplicaSets to the replica ceiling
// it holds Deployments to, on create and on update.
func TestReplicaSetCeiling(t *testing.T) {
	d := gateDeployment("web", "d-1")
	big := func(replicas int32, uid string) api.ReplicaSet {
		rs := testRS(d, "h1", uid, replicas)
		rs.OwnerReferences = nil
		return rs
	}
	applySteps(t, []step{
		{cmd: command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: big(api.MaxDeploymentReplicasCeiling+1, "u1")}, t0), wantErr: true, wantCode: http.StatusUnprocessableEntity},
		{cmd: command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: big(api.MaxDeploymentReplicasCeiling, "u1")}, t0)},
		{cmd: command(t, CmdUpdateReplicaSet, UpdateReplicaSet{ReplicaSet: big(2000000, "")}, t0), wantErr: true, wantCode: http.StatusUnprocessableEntity},
	})
}

// TestControllerMustExist: the FSM creates no pod or ReplicaSet for a
// controller that is gone or being deleted; a stale controller's create is
// refused, not left for the collector.
func TestControllerMustExist(t *testing.T) {
	f := gcFSM(t)
	rs, _ := f.state.ReplicaSet("default", "web-h1")
	orphan := rsPod(*rs, "web-h1-c", "p-c")
	orphan.OwnerReferences[0].UID = "not-rs-1"
	if _, err := applyErr(t, f, 7, command(t, CmdCreatePod, CreatePod{Pod: orphan}, t0)); statusCode(err) != http.StatusUnprocessableEntity ||
		!strings.Contains(err.Error(), `metadata.ownerReferences[0].uid: Invalid value: "not-rs-1": no replicasets.apps "web-h1" with this uid exists`) {
		t.Fatalf("pod of a missing ReplicaSet: %v", err)
	}
	d := gateDeployment("gone", "d-gone")
	if _, err := applyErr(t, f, 8, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: testRS(d, "h1", "rs-9", 1)}, t0)); statusCode(err) != http.StatusUnprocessableEntity ||
		!strings.Contains(err.Error(), `no deployments.apps "gone" with this uid exists`) {
		t.Fatalf("ReplicaSet of a missing Deployment: %v", err)
	}
	fg := api.DeletePropagationForeground
	mustApply(t, f, 9, command(t, CmdDeleteReplicaSet, DeleteReplicaSet{Namespace: "default", Name: "web-h1", PropagationPolicy: fg}, t0))
	if _, err := applyErr(t, f, 10, command(t, CmdCreatePod, CreatePod{Pod: rsPod(*rs, "web-h1-d", "p-d")}, t0)); statusCode(err) != http.StatusUnprocessableEntity ||
		!strings.Contains(err.Error(), `replicasets.apps "web-h1" is being deleted`) {
		t.Fatalf("pod of a ReplicaSet being deleted: %v", err)
	}
	bare := testPod("bare", "p-bare", 0, "1Mi")
	bare.OwnerReferences = []api.OwnerReference{api.NewControllerRef("batch/v1", "Job", "j", "j-1")}
	mustApply(t, f, 11, command(t, CmdCreatePod, CreatePod{Pod: bare}, t0)) // kinds gossipod does not store are not checked
}

// TestGarbageCollection: deleting a Deployment or a ReplicaSet with each
// propagation policy, in one log entry each, and the foreground owner
// going with its last dependent.
func TestGarbageCollection(t *testing.T) {
	zero := int64(0)
	confirm := func(t *testing.T, f *fsm, index uint64) {
		t.Helper() // node-1 confirms pod a stopped
		mustApply(t, f, index, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "web-h1-a", UID: "p-a", GracePeriodSeconds: &zero}, t0))
	}
	t.Run("Background", func(t *testing.T) {
		f := gcFSM(t)
		got := mustApply(t, f, 7, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web"}, t0)).(*api.Deployment)
		if got.UID != "d-1" {
			t.Fatalf("response %+v", got.ObjectMeta)
		}
		if _, ok := f.state.Deployment("default", "web"); ok {
			t.Fatalf("Deployment still stored")
		}
		if _, ok := f.state.ReplicaSet("default", "web-h1"); ok {
			t.Fatalf("its ReplicaSet still stored")
		}
		if _, ok := f.state.Pod("default", "web-h1-b"); ok {
			t.Fatalf("unbound pod not removed")
		}
		if a, ok := f.state.Pod("default", "web-h1-a"); !ok || a.DeletionTimestamp == nil {
			t.Fatalf("bound pod: present %v, want Terminating", ok)
		}
		confirm(t, f, 8)
		if n := len(f.state.dependents); n != 0 {
			t.Fatalf("owner index keeps %d owners after everything went", n)
		}
	})
	t.Run("Foreground", func(t *testing.T) {
		f := gcFSM(t)
		fg := api.DeletePropagationForeground
		got := mustApply(t, f, 7, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web", UID: "d-1", PropagationPolicy: fg}, t0)).(*api.Deployment)
		if got.DeletionTimestamp == nil || !api.HasFinalizer(&got.ObjectMeta, api.FinalizerForegroundDeletion) {
			t.Fatalf("response: deletionTimestamp %v finalizers %v, want both", got.DeletionTimestamp, got.Finalizers)
		}
		rs, ok := f.state.ReplicaSet("default", "web-h1")
		if !ok || rs.DeletionTimestamp == nil || !api.HasFinalizer(&rs.ObjectMeta, api.FinalizerForegroundDeletion) {
			t.Fatalf("ReplicaSet: present %v, want it deleted in the foreground too", ok)
		}
		if _, ok := f.state.Pod("default", "web-h1-b"); ok {
			t.Fatalf("unbound pod not removed")
		}
		if _, err := applyErr(t, f, 8, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web"}, t0)); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, ok := f.state.Deployment("default", "web"); !ok {
			t.Fatalf("Deployment removed while its pod still terminates")
		}
		confirm(t, f, 9)
		if _, ok := f.state.ReplicaSet("default", "web-h1"); ok {
			t.Fatalf("ReplicaSet still stored after its last pod went")
		}
		if _, ok := f.state.Deployment("default", "web"); ok {
			t.Fatalf("Deployment still stored after its last dependent went")
		}
		events, _, _ := f.state.WatchSince(6, "")
		var order []string
		for _, e := range events {
			if e.Type == WatchDeleted {
				order = append(order, e.Kind)
			}
		}
		if strings.Join(order, ",") != "Pod,Pod,ReplicaSet,Deployment" {
			t.Fatalf("deletions in order %v, want the pods, then the ReplicaSet, then the Deployment", order)
		}
	})
	t.Run("Orphan Deployment", func(t *testing.T) {
		f := gcFSM(t)
		or := api.DeletePropagationOrphan
		mustApply(t, f, 7, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web", PropagationPolicy: or}, t0))
		rs, ok := f.state.ReplicaSet("default", "web-h1")
		if !ok || len(rs.OwnerReferences) != 0 || rs.DeletionTimestamp != nil {
			t.Fatalf("orphaned ReplicaSet: present %v, owners %v", ok, rs.OwnerReferences)
		}
		if a, _ := f.state.Pod("default", "web-h1-a"); !api.IsControlledBy(&a.ObjectMeta, "rs-1") || a.DeletionTimestamp != nil {
			t.Fatalf("the ReplicaSet's pods changed: %+v", a.ObjectMeta)
		}
	})
	t.Run("Orphan ReplicaSet", func(t *testing.T) {
		f := gcFSM(t)
		or := api.DeletePropagationOrphan
		mustApply(t, f, 7, command(t, CmdDeleteReplicaSet, DeleteReplicaSet{Namespace: "default", Name: "web-h1", UID: "rs-1", PropagationPolicy: or}, t0))
		for _, name := range []string{"web-h1-a", "web-h1-b"} {
			p, ok := f.state.Pod("default", name)
			if !ok || len(p.OwnerReferences) != 0 || p.DeletionTimestamp != nil {
				t.Fatalf("orphaned pod %s: present %v, %+v", name, ok, p.ObjectMeta)
			}
		}
	})
	t.Run("another live owner keeps the dependent", func(t *testing.T) {
		f := gcFSM(t)
		other := testRS(gateDeployment("web", "d-1"), "h2", "rs-2", 0)
		mustApply(t, f, 7, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: other}, t0))
		b, _ := f.state.Pod("default", "web-h1-b")
		shared := b.DeepCopy()
		shared.Name, shared.UID = "shared", "p-s"
		shared.OwnerReferences = append(shared.OwnerReferences, api.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-h2", UID: "rs-2"})
		mustApply(t, f, 8, command(t, CmdCreatePod, CreatePod{Pod: *shared}, t0))
		mustApply(t, f, 9, command(t, CmdDeleteReplicaSet, DeleteReplicaSet{Namespace: "default", Name: "web-h1"}, t0))
		p, ok := f.state.Pod("default", "shared")
		if !ok || p.DeletionTimestamp != nil || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != "rs-2" {
			t.Fatalf("pod with another owner: present %v, %+v", ok, p.ObjectMeta)
		}
	})
	t.Run("preconditions and policies", func(t *testing.T) {
		f := gcFSM(t)
		if _, err := applyErr(t, f, 7, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web", UID: "other"}, t0)); statusCode(err) != http.StatusConflict {
			t.Fatalf("uid precondition: %v, want 409", err)
		}
		if _, err := applyErr(t, f, 8, command(t, CmdDeleteReplicaSet, DeleteReplicaSet{Namespace: "default", Name: "web-h1", PropagationPolicy: "Later"}, t0)); statusCode(err) != http.StatusBadRequest {
			t.Fatalf("unknown policy: %v, want 400", err)
		}
		if _, ok := f.state.ReplicaSet("default", "web-h1"); !ok {
			t.Fatalf("a refused delete deleted")
		}
	})
	t.Run("namespace", func(t *testing.T) {
		f := podFSM(t)
		mustApply(t, f, 3, nsCmd(t, "apps", "ns-a"))
		rs := testRS(gateDeployment("web", "d-1"), "h1", "rs-1", 1)
		rs.Namespace, rs.OwnerReferences = "apps", nil
		mustApply(t, f, 4, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs}, t0))
		mustApply(t, f, 5, command(t, CmdCreatePod, CreatePod{Pod: rsPod(rs, "web-h1-a", "p-a")}, t0))
		bind(t, f, 6, PodBinding{Namespace: "apps", Name: "web-h1-a", UID: "p-a", Node: "node-1"})
		mustApply(t, f, 7, command(t, CmdDeleteNamespace, DeleteNamespace{Name: "apps"}, t0))
		if _, ok := f.state.ReplicaSet("apps", "web-h1"); ok {
			t.Fatalf("ReplicaSet of a deleted namespace still stored")
		}
		if _, ok := f.state.Namespace("apps"); !ok {
			t.Fatalf("namespace went before its pod")
		}
		mustApply(t, f, 8, command(t, CmdDeletePod, DeletePod{Namespace: "apps", Name: "web-h1-a", GracePeriodSeconds: &zero}, t0))
		if _, ok := f.state.Namespace("apps"); ok {
			t.Fatalf("namespace stays after its last pod")
		}
	})
}

// TestGarbageCollectionIsDeterministic: three replicas applying the same
// foreground deletion end in the same state, event for event.
func TestGarbageCollectionIsDeterministic(t *testing.T) {
	var snaps []string
	for range 3 {
		f := gcFSM(t)
		rs2 := testRS(gateDeployment("web", "d-1"), "h2", "rs-2", 1)
		mustApply(t, f, 7, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs2}, t0))
		mustApply(t, f, 8, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{rsPod(rs2, "web-h2-a", "p2-a"), rsPod(rs2, "web-h2-b", "p2-b")}}, t0))
		mustApply(t, f, 9, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web", PropagationPolicy: api.DeletePropagationForeground}, t0))
		snaps = append(snaps, string(snapshotOf(t, f)))
	}
	if snaps[0] != snaps[1] || snaps[1] != snaps[2] {
		t.Fatalf("replicas diverge after the same deletion")
	}
}

// TestSnapshotKeepsReplicaSets: a snapshot holds ReplicaSets, and the
// owner index is rebuilt from it, so the collector works after a restore.
func TestSnapshotKeepsReplicaSets(t *testing.T) {
	f := gcFSM(t)
	data := snapshotOf(t, f)
	g := &fsm{state: NewState()}
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	rs, ok := g.state.ReplicaSet("default", "web-h1")
	if !ok || rs.UID != "rs-1" || *rs.Spec.Replicas != 2 {
		t.Fatalf("restored ReplicaSet: %v %+v", ok, rs)
	}
	if string(snapshotOf(t, g)) != string(data) {
		t.Fatalf("a restored state snapshots differently")
	}
	mustApply(t, g, 7, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web"}, t0))
	if _, ok := g.state.ReplicaSet("default", "web-h1"); ok {
		t.Fatalf("after a restore, deleting the Deployment left its ReplicaSet")
	}
	if a, _ := g.state.Pod("default", "web-h1-a"); a.DeletionTimestamp == nil {
		t.Fatalf("after a restore, deleting the Deployment left its pod running")
	}
}

// TestAdoptLegacyPods: a Deployment stored before ReplicaSets owns its pods
// directly; one entry creates a ReplicaSet per template hash and moves the
// pods to them, and the pods are otherwise unchanged (nothing restarts).
func TestAdoptLegacyPods(t *testing.T) {
	f := podFSM(t)
	d := gateDeployment("web", "d-1")
	mustApply(t, f, 3, command(t, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0))
	legacy := func(name, uid, hash string) api.Pod {
		p := testPod(name, uid, 0, "100Mi")
		p.Labels = map[string]string{"app": "web", api.LabelPodTemplateHash: hash}
		controller := true
		p.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "d-1", Controller: &controller}}
		return p
	}
	mustApply(t, f, 4, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{
		legacy("web-old-a", "p1", "old"), legacy("web-new-a", "p2", "new"), legacy("web-new-b", "p3", "new"), legacy("web-odd-a", "p4", "odd")}}, t0))
	bind(t, f, 5, PodBinding{Namespace: "default", Name: "web-new-a", UID: "p2", Node: "node-1"})
	before, _ := f.state.Pod("default", "web-new-a")

	adopt := AdoptLegacyPods{Namespace: "default", Name: "web", UID: "d-1", ReplicaSets: []api.ReplicaSet{
		testRS(d, "old", "rs-old", 1), testRS(d, "new", "rs-new", 2)}}
	exists := testRS(d, "new", "rs-x", 0)
	exists.OwnerReferences = nil
	mustApply(t, f, 6, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: exists}, t0))
	if _, err := applyErr(t, f, 7, command(t, CmdAdoptLegacyPods, adopt, t0)); statusCode(err) != http.StatusConflict {
		t.Fatalf("adoption onto an existing ReplicaSet name: %v, want 409", err)
	}
	if _, ok := f.state.ReplicaSet("default", "web-old"); ok {
		t.Fatalf("a refused adoption created a ReplicaSet")
	}
	mustApply(t, f, 8, command(t, CmdDeleteReplicaSet, DeleteReplicaSet{Namespace: "default", Name: "web-new"}, t0))

	res := mustApply(t, f, 9, command(t, CmdAdoptLegacyPods, adopt, t0)).(AdoptResult)
	if res.ReplicaSets != 2 || res.Adopted != 3 {
		t.Fatalf("result %+v, want 2 ReplicaSets and 3 pods", res)
	}
	for name, want := range map[string]types.UID{"web-old-a": "rs-old", "web-new-a": "rs-new", "web-new-b": "rs-new", "web-odd-a": "d-1"} {
		p, _ := f.state.Pod("default", name)
		if r := api.ControllerOf(&p.ObjectMeta); r == nil || r.UID != want || len(p.OwnerReferences) != 1 {
			t.Errorf("pod %s: owners %+v, want controller %s", name, p.OwnerReferences, want)
		}
	}
	after, _ := f.state.Pod("default", "web-new-a")
	if after.UID != before.UID || after.Spec.NodeName != "node-1" || !equality.Semantic.DeepEqual(after.Spec, before.Spec) || !equality.Semantic.DeepEqual(after.Status, before.Status) || after.Generation != before.Generation {
		t.Fatalf("adoption changed the running pod beyond its owner")
	}
	// Deleting the Deployment now collects through the ReplicaSets.
	mustApply(t, f, 10, command(t, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web"}, t0))
	if pods, _ := f.state.Pods(func(p *api.Pod) bool { return p.DeletionTimestamp == nil }); len(pods) != 0 {
		t.Fatalf("pods left running after the Deployment's deletion: %d", len(pods))
	}
}

// TestClaimObjects: a ReplicaSet adopts an orphan its selector matches and
// releases a pod relabelled out of it; a claim whose check fails is
// skipped.
func TestClaimObjects(t *testing.T) {
	f := gcFSM(t)
	rs, _ := f.state.ReplicaSet("default", "web-h1")
	orphan := rsPod(*rs, "stray", "p-s")
	orphan.OwnerReferences = nil
	other := testPod("other", "p-o", 0, "1Mi")
	mustApply(t, f, 7, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{orphan, other}}, t0))
	a, _ := f.state.Pod("default", "web-h1-a")
	relabelled := a.DeepCopy()
	relabelled.Labels = map[string]string{"app": "debug"}
	mustApply(t, f, 8, command(t, CmdUpdatePod, UpdatePod{Pod: *relabelled}, t0))

	res := mustApply(t, f, 9, command(t, CmdClaimObjects, ClaimObjects{Namespace: "default", OwnerKind: "ReplicaSet", OwnerName: "web-h1", OwnerUID: "rs-1",
		Adopt:   []ObjectKey{{Name: "stray", UID: "p-s"}, {Name: "other", UID: "p-o"}, {Name: "web-h1-b", UID: "p-b"}},
		Release: []ObjectKey{{Name: "web-h1-a", UID: "p-a"}, {Name: "web-h1-b", UID: "p-b"}}}, t0)).(AdoptResult)
	if res.Adopted != 1 || res.Released != 1 {
		t.Fatalf("result %+v, want the stray adopted and the relabelled pod released", res)
	}
	if p, _ := f.state.Pod("default", "stray"); !api.IsControlledBy(&p.ObjectMeta, "rs-1") {
		t.Errorf("stray not adopted: %+v", p.OwnerReferences)
	}
	if p, _ := f.state.Pod("default", "web-h1-a"); len(p.OwnerReferences) != 0 {
		t.Errorf("relabelled pod not released: %+v", p.OwnerReferences)
	}
	if p, _ := f.state.Pod("default", "other"); len(p.OwnerReferences) != 0 {
		t.Errorf("a pod the selector does not match was adopted")
	}
}

// TestEvictionBudgetSpansReplicaSets: the eviction budget of a
// Deployment's pod counts the available pods of all its ReplicaSets.
func TestEvictionBudgetSpansReplicaSets(t *testing.T) {
	f := podFSM(t)
	d := gateDeployment("web", "d-1") // 2 replicas, maxUnavailable 25% of 2 = 0
	mustApply(t, f, 3, command(t, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0))
	rs1, rs2 := testRS(d, "h1", "rs-1", 1), testRS(d, "h2", "rs-2", 1)
	mustApply(t, f, 4, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs1}, t0))
	mustApply(t, f, 5, command(t, CmdCreateReplicaSet, CreateReplicaSet{ReplicaSet: rs2}, t0))
	mustApply(t, f, 6, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{rsPod(rs1, "a", "p-a"), rsPod(rs2, "b", "p-b")}}, t0))
	bind(t, f, 7, PodBinding{Namespace: "default", Name: "a", UID: "p-a", Node: "node-1"}, PodBinding{Namespace: "default", Name: "b", UID: "p-b", Node: "node-2"})
	running := api.PodStatus{Phase: api.PodRunning, Conditions: []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}}
	mustApply(t, f, 8, command(t, CmdSetPodStatuses, SetPodStatuses{Node: "node-1", Updates: []PodStatusUpdate{{Namespace: "default", Name: "a", UID: "p-a", Status: running}}}, t0))
	mustApply(t, f, 9, command(t, CmdSetPodStatuses, SetPodStatuses{Node: "node-2", Updates: []PodStatusUpdate{{Namespace: "default", Name: "b", UID: "p-b", Status: running}}}, t0))
	_, err := applyErr(t, f, 10, command(t, CmdEvictPod, EvictPod{Namespace: "default", Name: "a"}, t0))
	if statusCode(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "disruption budget") {
		t.Fatalf("evicting 1 of 2 with maxUnavailable 0: %v, want 429", err)
	}
	var st *api.Status
	if s, ok := err.(*api.Status); ok {
		st = s
	}
	if st == nil || !strings.Contains(st.Details.Causes[0].Message, "needs 2 healthy pods and has 2 currently") {
		t.Fatalf("cause %+v, want both ReplicaSets' pods counted", st)
	}
}
