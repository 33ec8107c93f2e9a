package consensus

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// gateDeployment is a defaulted Deployment that passes validation, as the
// API proposes it.
func gateDeployment(name, uid string) api.Deployment {
	replicas := int32(2)
	d := api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
	api.SetDeploymentDefaults(&d)
	return d
}

// wantInvalid fails unless err is a 422 Invalid Status with a cause at
// field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var st *api.Status
	if !errors.As(err, &st) {
		t.Fatalf("error %v (%T), want a 422 *api.Status", err, err)
	}
	if st.Code != http.StatusUnprocessableEntity || st.Reason != api.StatusReasonInvalid || st.Details == nil {
		t.Fatalf("status %d %s %+v, want 422 Invalid: %s", st.Code, st.Reason, st.Details, st.Message)
	}
	if !slices.ContainsFunc(st.Details.Causes, func(c api.StatusCause) bool { return c.Field == field }) {
		t.Fatalf("causes %+v do not name %s (message %q)", st.Details.Causes, field, st.Message)
	}
}

// TestFSMRejectsInvalidCreates sends raw create commands, as a forwarded
// write, an old client or a post to the internal apply endpoint could,
// straight to the FSM: each invalid object is refused with a 422 naming
// the field and is not stored.
func TestFSMRejectsInvalidCreates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pod   func(*api.Pod)
		field string
	}{
		{"uid walking out of the data dir", func(p *api.Pod) { p.UID = "../../etc" }, "metadata.uid"},
		{"uid with a slash", func(p *api.Pod) { p.UID = "a/b" }, "metadata.uid"},
		{"uid dot-dot", func(p *api.Pod) { p.UID = ".." }, "metadata.uid"},
		{"no uid", func(p *api.Pod) { p.UID = "" }, "metadata.uid"},
		{"name", func(p *api.Pod) { p.Name = "Bad_Name" }, "metadata.name"},
		{"namespace", func(p *api.Pod) { p.Namespace = "../kube-system" }, "metadata.namespace"},
		{"label", func(p *api.Pod) { p.Labels = map[string]string{"app": "-x-"} }, "metadata.labels"},
		{"volume name dot-dot", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "..", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}, "spec.volumes[0].name"},
		{"volume name with a slash", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "../../x", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}, "spec.volumes[0].name"},
		{"relative hostPath", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "h", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: "etc"}}}}
		}, "spec.volumes[0].hostPath.path"},
		{"container name", func(p *api.Pod) { p.Spec.Containers[0].Name = "../a" }, "spec.containers[0].name"},
		{"request beyond the bound", func(p *api.Pod) {
			p.Spec.Containers[0].Resources.Requests[api.ResourceMemory] = resource.MustParse("2Pi")
		}, "spec.containers[0].resources.requests.memory"},
		{"not defaulted", func(p *api.Pod) { p.Spec.RestartPolicy = "" }, "spec.restartPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := podFSM(t)
			p := testPod("p", "up", 0, "1Gi")
			tc.pod(&p)
			_, err := applyErr(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: p}, t0))
			wantInvalid(t, err, tc.field)
			if pods, _ := f.state.Pods(nil); len(pods) != 0 {
				t.Errorf("rejected pod stored: %+v", pods[0].ObjectMeta)
			}
			if f.state.Index() != 3 {
				t.Errorf("index %d after a rejected command, want 3", f.state.Index())
			}
			// A batch (the controller's CreatePods) skips the invalid pod
			// and creates the valid one.
			good := testPod("q", "uq", 0, "1Mi")
			n := mustApply(t, f, 4, command(t, CmdCreatePods, CreatePods{Pods: []api.Pod{p, good}}, t0))
			if n != 1 {
				t.Errorf("CreatePods created %v, want 1", n)
			}
			if pods, _ := f.state.Pods(nil); len(pods) != 1 || pods[0].Name != "q" {
				t.Errorf("after CreatePods: %d pods", len(pods))
			}
		})
	}
}

// TestFSMChecksUpdatesAgainstCommitted sends updates that change what
// Kubernetes does not let change: the FSM refuses them against the pod it
// holds, whatever the proposer read.
func TestFSMChecksUpdatesAgainstCommitted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		update func(*api.Pod)
		field  string // "" for an update that must pass
	}{
		{"image may change", func(p *api.Pod) { p.Spec.Containers[0].Image = "busybox:1.37" }, ""},
		{"labels may change", func(p *api.Pod) { p.Labels = map[string]string{"tier": "front"} }, ""},
		{"binding left out is kept", func(p *api.Pod) { p.Spec.NodeName = "" }, ""},
		{"command", func(p *api.Pod) { p.Spec.Containers[0].Command = []string{"sh"} }, "spec"},
		{"requests", func(p *api.Pod) {
			p.Spec.Containers[0].Resources.Requests[api.ResourceMemory] = resource.MustParse("1Mi")
		}, "spec"},
		{"binding moved", func(p *api.Pod) { p.Spec.NodeName = "node-2" }, "spec"},
		{"volume added", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}, "spec"},
		{"invalid volume added", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "..", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}, "spec.volumes[0].name"},
		{"invalid label", func(p *api.Pod) { p.Labels = map[string]string{"a/b/c": "x"} }, "metadata.labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := podFSM(t)
			mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Gi")}, t0))
			bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
			before, _ := f.state.Pod("default", "p")
			in := *before.DeepCopy()
			in.ResourceVersion = ""
			tc.update(&in)
			_, err := applyErr(t, f, 5, command(t, CmdUpdatePod, UpdatePod{Pod: in}, t0))
			after, _ := f.state.Pod("default", "p")
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid update refused: %v", err)
				}
				if after.Spec.NodeName != "node-1" {
					t.Errorf("binding %q after update, want node-1", after.Spec.NodeName)
				}
				return
			}
			wantInvalid(t, err, tc.field)
			if after != before {
				t.Errorf("rejected update changed the stored pod")
			}
		})
	}
}

// TestFSMChecksDeployments: a raw invalid Deployment, and an update of an
// immutable field, are refused by the FSM.
func TestFSMChecksDeployments(t *testing.T) {
	f := &fsm{state: NewState()}
	bad := gateDeployment("web", "../../etc")
	_, err := applyErr(t, f, 1, command(t, CmdCreateDeployment, CreateDeployment{Deployment: bad}, t0))
	wantInvalid(t, err, "metadata.uid")

	mismatch := gateDeployment("web", "uid-web")
	mismatch.Spec.Template.Labels = map[string]string{"app": "db"}
	_, err = applyErr(t, f, 2, command(t, CmdCreateDeployment, CreateDeployment{Deployment: mismatch}, t0))
	wantInvalid(t, err, "spec.template.metadata.labels")

	badVolume := gateDeployment("web", "uid-web")
	badVolume.Spec.Template.Spec.Volumes = []api.Volume{{Name: "../v", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	_, err = applyErr(t, f, 3, command(t, CmdCreateDeployment, CreateDeployment{Deployment: badVolume}, t0))
	wantInvalid(t, err, "spec.template.spec.volumes[0].name")
	if ds, _ := f.state.Deployments(nil); len(ds) != 0 {
		t.Fatalf("rejected Deployments stored: %d", len(ds))
	}

	mustApply(t, f, 4, command(t, CmdCreateDeployment, CreateDeployment{Deployment: gateDeployment("web", "uid-web")}, t0))
	sel := gateDeployment("web", "")
	sel.Spec.Selector = &api.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "x"}}
	sel.Spec.Template.Labels = map[string]string{"app": "web", "tier": "x"}
	_, err = applyErr(t, f, 5, command(t, CmdUpdateDeployment, UpdateDeployment{Deployment: sel}, t0))
	wantInvalid(t, err, "spec.selector")

	negative := gateDeployment("web", "")
	n := int32(-1)
	negative.Spec.Replicas = &n
	_, err = applyErr(t, f, 6, command(t, CmdUpdateDeployment, UpdateDeployment{Deployment: negative}, t0))
	wantInvalid(t, err, "spec.replicas")

	scaled := gateDeployment("web", "")
	three := int32(3)
	scaled.Spec.Replicas = &three
	mustApply(t, f, 7, command(t, CmdUpdateDeployment, UpdateDeployment{Deployment: scaled}, t0))
	if d, _ := f.state.Deployment("default", "web"); *d.Spec.Replicas != 3 || d.Generation != 2 {
		t.Errorf("scaled Deployment: replicas %d generation %d", *d.Spec.Replicas, d.Generation)
	}
}

// TestFSMChecksNodes: a registration with an unsafe uid or an invalid
// name or label is refused.
func TestFSMChecksNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		node  func(*api.Node)
		field string
	}{
		{"uid", func(n *api.Node) { n.UID = "../x" }, "metadata.uid"},
		{"no uid for a new node", func(n *api.Node) { n.UID = "" }, "metadata.uid"},
		{"name", func(n *api.Node) { n.Name = "Node_1" }, "metadata.name"},
		{"label", func(n *api.Node) { n.Labels["bad key!"] = "x" }, "metadata.labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fsm{state: NewState()}
			n := testNode("node-1", "uid-n1", "10.0.0.1", "4", "3Gi")
			tc.node(&n)
			_, err := applyErr(t, f, 1, registerCmd(t, n, t0))
			wantInvalid(t, err, tc.field)
			if nodes, _ := f.state.Nodes(); len(nodes) != 0 {
				t.Errorf("rejected node stored")
			}
		})
	}
}

// TestGateIsDeterministic applies the same entries, valid and invalid, to
// two replicas: they reject the same ones with the same Status and end in
// the same state.
func TestGateIsDeterministic(t *testing.T) {
	bad := testPod("bad", "../../etc", 0, "1Mi")
	badUpdate := testPod("p", "up", 0, "1Gi")
	badUpdate.Spec.Containers[0].Command = []string{"sh"}
	cmds := []Command{
		command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Gi")}, t0),
		command(t, CmdCreatePod, CreatePod{Pod: bad}, t0),
		command(t, CmdUpdatePod, UpdatePod{Pod: badUpdate}, t0),
		command(t, CmdCreateDeployment, CreateDeployment{Deployment: gateDeployment("web", "a/b")}, t0),
	}
	var states [][]byte
	var errs [][]string
	for range 2 {
		f := podFSM(t)
		var got []string
		for i, cmd := range cmds {
			_, err := applyErr(t, f, uint64(3+i), cmd)
			got = append(got, string(mustJSON(t, err)))
		}
		states = append(states, mustJSON(t, f.state.export()))
		errs = append(errs, got)
	}
	if !slices.Equal(errs[0], errs[1]) {
		t.Errorf("replicas answered differently:\n%v\n%v", errs[0], errs[1])
	}
	if string(states[0]) != string(states[1]) {
		t.Errorf("replicas diverged")
	}
	if errs[0][0] != "null" || errs[0][1] == "null" || errs[0][2] == "null" || errs[0][3] == "null" {
		t.Errorf("answers %v: want the first accepted and the others refused", errs[0])
	}
}

// TestRawCommitIsRejected commits a raw command through a real Raft store,
// the path the internal apply endpoint takes: the leader answers 422 and
// no replica stores the pod.
func TestRawCommitIsRejected(t *testing.T) {
	stores := newCluster(t, 3, nil)
	leader := waitLeader(t, stores)
	p := testPod("evil", "../../../etc", 0, "1Mi")
	p.Spec.Volumes = []api.Volume{{Name: "../../root", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	cmd, err := NewCommand(CmdCreatePod, CreatePod{Pod: p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = leader.Commit(context.Background(), cmd)
	wantInvalid(t, err, "metadata.uid")
	wantInvalid(t, err, "spec.volumes[0].name")
	waitSameState(t, leader, stores...)
	for _, s := range stores {
		if _, ok := s.State().Pod("default", "evil"); ok {
			t.Errorf("%s stored the rejected pod", s.ID())
		}
	}
}

// TestFSMRefusesNegativeGrace: a raw delete or eviction with a negative
// grace period, which the API refuses, is refused by the FSM too.
func TestFSMRefusesNegativeGrace(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Gi")}, t0))
	bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	neg := int64(-5)
	for i, cmd := range []Command{
		command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p", GracePeriodSeconds: &neg}, t0),
		command(t, CmdEvictPod, EvictPod{Namespace: "default", Name: "p", GracePeriodSeconds: &neg}, t0),
	} {
		var st *api.Status
		if _, err := applyErr(t, f, uint64(5+i), cmd); !errors.As(err, &st) || st.Code != http.StatusBadRequest {
			t.Errorf("%s with grace -5: %v, want 400", cmd.Type, err)
		}
	}
	if n := mustApply(t, f, 7, command(t, CmdDeletePods, DeletePods{Deletes: []DeletePod{{Namespace: "default", Name: "p", GracePeriodSeconds: &neg}}}, t0)); n != 0 {
		t.Errorf("DeletePods deleted %v with a negative grace period", n)
	}
	if p, _ := f.state.Pod("default", "p"); p.DeletionTimestamp != nil {
		t.Errorf("pod marked for deletion by a refused command")
	}
}
