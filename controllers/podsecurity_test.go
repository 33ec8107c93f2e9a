package controllers

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// TestPodSecurityDefaults: the leader records its --pod-security-default;
// a later leader with another one records its own; a pass with nothing to
// change commits nothing.
func TestPodSecurityDefaults(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	for i, tc := range []struct {
		flag   string
		commit bool
	}{{"baseline", true}, {"baseline", false}, {"restricted", true}} {
		_, before := c.store.State().Pods(nil)
		ctrl := &PodSecurityDefaults{State: c.store.State(), Commit: c.committer(), Log: discard, Enforce: tc.flag}
		if !ctrl.Reconcile(ctx) {
			t.Fatalf("pass %d: not recorded", i)
		}
		if d, ok := c.store.State().PodSecurityDefaults(); !ok || d.Enforce != tc.flag || d.Latest != api.PodSecurityLatestVersion() {
			t.Fatalf("pass %d: recorded %+v %v, want %s", i, d, ok, tc.flag)
		}
		if _, after := c.store.State().Pods(nil); (after != before) != tc.commit {
			t.Fatalf("pass %d: committed %v, want %v", i, after != before, tc.commit)
		}
	}
	// A leader whose binary knows another latest version records its own.
	c.must(consensus.CmdSetPodSecurityDefaults, consensus.SetPodSecurityDefaults{Defaults: consensus.PodSecurityDefaults{Enforce: "restricted", Latest: "v1.30"}})
	_, before := c.store.State().Pods(nil)
	(&PodSecurityDefaults{State: c.store.State(), Commit: c.committer(), Log: discard, Enforce: "restricted"}).Reconcile(ctx)
	if d, _ := c.store.State().PodSecurityDefaults(); d.Latest != api.PodSecurityLatestVersion() {
		t.Fatalf("latest %q, want this binary's %s", d.Latest, api.PodSecurityLatestVersion())
	}
	if _, after := c.store.State().Pods(nil); after == before {
		t.Fatal("a different latest version was not recorded")
	}
	bad := &PodSecurityDefaults{State: c.store.State(), Commit: c.committer(), Log: discard, Enforce: "strict"}
	if bad.Reconcile(ctx) {
		t.Fatal("a level the state machine refuses reported recorded")
	}
}

// TestReplicaSetPodSecurity: the ReplicaSet controller creates pods
// straight through the state machine, which refuses them in a baseline
// namespace; the ReplicaSet shows Kubernetes' FailedCreate event with
// PodSecurity's message, and its ReplicaFailure condition.
func TestReplicaSetPodSecurity(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	(&PodSecurityDefaults{State: c.store.State(), Commit: c.committer(), Log: discard, Enforce: "privileged"}).Reconcile(ctx)
	c.must(consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{
		Name: "shop", UID: c.uid(), Labels: map[string]string{api.PodSecurityEnforceLabel: "baseline"}}}})
	rs := testReplicaSet(3)
	rs.Namespace = "shop"
	rs.Spec.Template.Spec.Volumes = []api.Volume{{Name: "data", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: "/srv"}}}}
	rs.Spec.Template.Spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "data", MountPath: "/data"}}
	c.must(consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *rs})

	apps := &Apps{State: c.store.State(), Commit: c.committer(), Log: slog.New(slog.DiscardHandler), Now: c.clock}
	apps.Sync(ctx)
	if pods, _ := c.store.State().Pods(nil); len(pods) != 0 {
		t.Fatalf("%d pods created in a baseline namespace from a hostPath template", len(pods))
	}
	var failed []string
	for _, e := range c.store.State().EventsFor(rs.UID) {
		if e.Reason == "FailedCreate" {
			failed = append(failed, e.Type+" "+e.Message)
		}
	}
	const wantPrefix = `Warning Error creating: pods "web-`
	const wantSuffix = `" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "data")`
	if len(failed) != 1 || !strings.HasPrefix(failed[0], wantPrefix) || !strings.HasSuffix(failed[0], wantSuffix) {
		t.Fatalf("FailedCreate events %q, want one %s…%s", failed, wantPrefix, wantSuffix)
	}
	got, _ := c.store.State().ReplicaSet("shop", "web")
	var cond *api.ReplicaSetCondition
	for i := range got.Status.Conditions {
		if got.Status.Conditions[i].Type == api.ReplicaSetReplicaFailure {
			cond = &got.Status.Conditions[i]
		}
	}
	if cond == nil || cond.Reason != "FailedCreate" || !strings.HasSuffix(cond.Message, wantSuffix) {
		t.Fatalf("ReplicaFailure condition %+v", cond)
	}

	// Relabelled privileged, the next pass creates the pods.
	ns, _ := c.store.State().Namespace("shop")
	ns.Labels[api.PodSecurityEnforceLabel] = "privileged"
	c.must(consensus.CmdUpdateNamespace, consensus.UpdateNamespace{Namespace: *ns})
	c.now = c.now.Add(time.Minute)
	apps.Sync(ctx)
	apps.Sync(ctx)
	if pods, _ := c.store.State().Pods(nil); len(pods) != 3 {
		t.Fatalf("%d pods after relabelling privileged, want 3", len(pods))
	}
}

// TestReplicaSetRefusedBacksOff: run as on the leader (Run, the real
// clock, every change of the state waking it), a ReplicaSet whose pods
// are refused is retried with the back-off, not at every change its own
// FailedCreate events make. Before the back-off it failed every 1-3 ms.
func TestReplicaSetRefusedBacksOff(t *testing.T) {
	c := newCluster(t)
	c.store.Now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	(&PodSecurityDefaults{State: c.store.State(), Commit: c.committer(), Log: discard, Enforce: "baseline"}).Reconcile(ctx)
	rs := testReplicaSet(1)
	rs.Spec.Template.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: api.ProtocolTCP}}
	c.must(consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *rs})

	apps := &Apps{State: c.store.State(), Commit: c.committer(), Log: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { defer close(done); apps.Run(ctx) }()
	const window = 400 * time.Millisecond
	time.Sleep(window)
	cancel()
	<-done
	failed := 0
	for _, e := range c.store.State().EventsFor(rs.UID) {
		if e.Reason == "FailedCreate" {
			failed++
		}
	}
	// 5 ms, 10, 20, … : at most 7 failures fit in 400 ms (5·(2⁷−1) = 635).
	if failed < 1 || failed > 8 {
		t.Fatalf("%d FailedCreate events in %v, want 1 to 8 (a retry per back-off step)", failed, window)
	}
}
