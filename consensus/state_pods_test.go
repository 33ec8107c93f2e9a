package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// testPod is a pod of containers each requesting mem of memory and, if
// hostPort is non-zero, that host port on its first container, defaulted
// as the API defaults it before proposing it.
func testPod(name, uid string, hostPort int32, mems ...string) api.Pod {
	p := api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid)}}
	for i, m := range mems {
		c := api.Container{Name: string(rune('a' + i)), Image: "busybox",
			Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceMemory: resource.MustParse(m)}}}
		if i == 0 && hostPort != 0 {
			c.Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: hostPort, Protocol: api.ProtocolTCP}}
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
	}
	api.SetPodDefaults(&p)
	return p
}

// podFSM is an FSM with two nodes: node-1 with 3Gi of memory, node-2 with
// 2560Mi (the seed's scenario), at index 2.
func podFSM(t *testing.T) *fsm {
	t.Helper()
	f := &fsm{state: NewState()}
	mustApply(t, f, 1, registerCmd(t, testNode("node-1", "uid-n1", "10.0.0.1", "4", "3Gi"), t0))
	mustApply(t, f, 2, registerCmd(t, testNode("node-2", "uid-n2", "10.0.0.2", "4", "2560Mi"), t0))
	return f
}

func mustApply(t *testing.T, f *fsm, index uint64, cmd Command) any {
	t.Helper()
	res, ok := f.Apply(logEntry(t, index, cmd)).(applyResult)
	if !ok {
		t.Fatalf("fsm.Apply returned no applyResult")
	}
	if res.err != nil {
		t.Fatalf("apply %s at %d: %v", cmd.Type, index, res.err)
	}
	return res.resp
}

func applyErr(t *testing.T, f *fsm, index uint64, cmd Command) (any, error) {
	t.Helper()
	res := f.Apply(logEntry(t, index, cmd)).(applyResult)
	return res.resp, res.err
}

func bind(t *testing.T, f *fsm, index uint64, bindings ...PodBinding) BindResult {
	t.Helper()
	return mustApply(t, f, index, command(t, CmdBindPods, BindPods{Bindings: bindings}, t0)).(BindResult)
}

// TestStaleRoundsCannotOvercommit is invariant 2 under a stale view: two
// placement rounds computed from the same view (node-1 has room for one
// 3Gi pod) both bind a pod there; the FSM accepts the first and rejects the
// second, identically on every replica.
func TestStaleRoundsCannotOvercommit(t *testing.T) {
	replicas := []*fsm{podFSM(t), podFSM(t), podFSM(t)}
	for _, f := range replicas {
		mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p1", "u1", 0, "1Gi", "1Gi", "1Gi")}, t0))
		mustApply(t, f, 4, command(t, CmdCreatePod, CreatePod{Pod: testPod("p2", "u2", 0, "1Gi", "1Gi", "1Gi")}, t0))
		first := bind(t, f, 5, PodBinding{Namespace: "default", Name: "p1", UID: "u1", Node: "node-1"})
		second := bind(t, f, 6, PodBinding{Namespace: "default", Name: "p2", UID: "u2", Node: "node-1"})
		if len(first.Bound) != 1 || len(first.Rejected) != 0 {
			t.Fatalf("first round: %+v, want p1 bound", first)
		}
		if len(second.Bound) != 0 || len(second.Rejected) != 1 {
			t.Fatalf("second round: %+v, want p2 rejected", second)
		}
		if p2, _ := f.state.Pod("default", "p2"); p2.Spec.NodeName != "" {
			t.Fatalf("p2 bound to %q after rejection", p2.Spec.NodeName)
		}
		n, _ := f.state.Node("node-1")
		alloc := api.NodeAllocated(n)[api.ResourceMemory]
		if alloc.Cmp(resource.MustParse("3Gi")) != 0 {
			t.Fatalf("node-1 allocated memory %s, want 3Gi", alloc.String())
		}
	}
	a, b := mustJSON(t, replicas[0].state.export()), mustJSON(t, replicas[2].state.export())
	if string(a) != string(b) {
		t.Fatalf("replicas diverged:\n%s\n%s", a, b)
	}
}

func TestBindChecks(t *testing.T) {
	tests := []struct {
		name    string
		setup   []Command
		binding PodBinding
		reason  string // substring of the rejection; "" means bound
	}{
		{name: "fits", binding: PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-2"}},
		{name: "missing pod", binding: PodBinding{Namespace: "default", Name: "nope", Node: "node-1"}, reason: "not found"},
		{name: "uid changed", binding: PodBinding{Namespace: "default", Name: "p", UID: "other", Node: "node-1"}, reason: "uid"},
		{name: "unknown node", binding: PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-9"}, reason: "not found"},
		{name: "memory", binding: PodBinding{Namespace: "default", Name: "big", UID: "ub", Node: "node-2"}, reason: "memory"},
		// The nodes report no ephemeral storage: a pod asking for some fits
		// nowhere, as placement decides (found by the fault-run checker).
		{name: "ephemeral storage", binding: PodBinding{Namespace: "default", Name: "disk", UID: "ud", Node: "node-1"}, reason: "ephemeral-storage"},
		{name: "host port taken",
			setup: []Command{
				command(t, CmdCreatePod, CreatePod{Pod: testPod("hp1", "uh1", 8080, "1Mi")}, t0),
			},
			binding: PodBinding{Namespace: "default", Name: "hp2", UID: "uh2", Node: "node-1"}, reason: "ports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := podFSM(t)
			idx := uint64(3)
			disk := testPod("disk", "ud", 0, "1Mi")
			disk.Spec.Containers[0].Resources.Requests[api.ResourceEphemeralStorage] = resource.MustParse("1Gi")
			for _, p := range []api.Pod{testPod("p", "up", 0, "1Gi"), testPod("big", "ub", 0, "3Gi"), testPod("hp2", "uh2", 8080, "1Mi"), disk} {
				mustApply(t, f, idx, command(t, CmdCreatePod, CreatePod{Pod: p}, t0))
				idx++
			}
			for _, c := range tt.setup {
				mustApply(t, f, idx, c)
				idx++
				bind(t, f, idx, PodBinding{Namespace: "default", Name: "hp1", UID: "uh1", Node: "node-1"})
				idx++
			}
			res := bind(t, f, idx, tt.binding)
			if tt.reason == "" {
				if len(res.Bound) != 1 {
					t.Fatalf("got %+v, want bound", res)
				}
				return
			}
			if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, tt.reason) {
				t.Fatalf("got %+v, want a rejection mentioning %q", res, tt.reason)
			}
		})
	}
}

func TestRebindIsRejected(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Mi")}, t0))
	bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	res := bind(t, f, 5, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-2"})
	if len(res.Rejected) != 1 {
		t.Fatalf("rebind: %+v, want rejected", res)
	}
	if p, _ := f.state.Pod("default", "p"); p.Spec.NodeName != "node-1" {
		t.Fatalf("pod moved to %s", p.Spec.NodeName)
	}
}

func TestPodLifecycleCommands(t *testing.T) {
	f := podFSM(t)
	created := mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Gi")}, t0)).(*api.Pod)
	if created.Status.Phase != api.PodPending || created.ResourceVersion != "3" || created.CreationTimestamp.IsZero() {
		t.Fatalf("created pod: phase %q rv %q created %v", created.Status.Phase, created.ResourceVersion, created.CreationTimestamp)
	}
	var st *api.Status
	if _, err := applyErr(t, f, 4, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up2", 0, "1Gi")}, t0)); !errors.As(err, &st) || st.Code != http.StatusConflict || st.Reason != api.StatusReasonAlreadyExists {
		t.Fatalf("duplicate create: %v, want 409 AlreadyExists", err)
	}
	stale := testPod("p", "up", 0, "1Gi")
	stale.ResourceVersion = "1"
	if _, err := applyErr(t, f, 5, command(t, CmdUpdatePod, UpdatePod{Pod: stale}, t0)); !errors.As(err, &st) || st.Code != http.StatusConflict || st.Reason != api.StatusReasonConflict {
		t.Fatalf("stale update: %v, want 409 Conflict", err)
	}
	bind(t, f, 6, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	del := mustApply(t, f, 7, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p"}, t0)).(*api.Pod)
	if del.DeletionTimestamp == nil {
		t.Fatalf("deleting a bound pod: want Terminating (deletionTimestamp set)")
	}
	if _, ok := f.state.Pod("default", "p"); !ok {
		t.Fatalf("terminating pod vanished before its node confirmed")
	}
	zero := int64(0)
	mustApply(t, f, 8, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p", GracePeriodSeconds: &zero}, t0))
	if _, ok := f.state.Pod("default", "p"); ok {
		t.Fatalf("pod still there after a confirmed delete")
	}
	n, _ := f.state.Node("node-1")
	if q := api.NodeAllocated(n)[api.ResourceMemory]; !q.IsZero() {
		t.Fatalf("node-1 still has %s allocated after the delete", q.String())
	}
	if ev := f.state.EventsFor("up"); len(ev) != 0 {
		t.Fatalf("events of a deleted pod kept: %d", len(ev))
	}
}

func TestUnschedulableRecordsEventOnlyOnChange(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "9Gi")}, t0))
	msg := "0/2 nodes are available: 2 Insufficient memory."
	for i := uint64(4); i < 7; i++ {
		mustApply(t, f, i, command(t, CmdSetPodsUnschedulable, SetPodsUnschedulable{Updates: []UnschedulablePod{{Namespace: "default", Name: "p", UID: "up", Message: msg}}}, t0))
	}
	p, _ := f.state.Pod("default", "p")
	c := api.GetPodCondition(p, api.PodScheduled)
	if c == nil || c.Status != api.ConditionFalse || c.Reason != api.PodReasonUnschedulable || c.Message != msg {
		t.Fatalf("PodScheduled = %+v", c)
	}
	ev := f.state.EventsFor("up")
	if len(ev) != 1 || ev[0].Reason != "FailedScheduling" || ev[0].Count != 1 {
		t.Fatalf("events = %+v, want one FailedScheduling", ev)
	}
}

func TestWatchLogResumes(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Mi")}, t0))
	bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	events, index, ok := f.state.WatchSince(3, "Pod")
	if !ok || len(events) != 1 || events[0].Type != WatchModified || index != 4 {
		t.Fatalf("since 3: %+v at %d ok=%v, want one MODIFIED at 4", events, index, ok)
	}
	w := newWatchLog(2)
	for i := uint64(1); i <= 3; i++ {
		w.add(WatchEvent{Index: i})
	}
	if _, ok := w.since(0, ""); ok {
		t.Fatalf("a watch from before the retained window must be told to re-list")
	}
	if ev, ok := w.since(1, ""); !ok || len(ev) != 2 {
		t.Fatalf("since 1: %d events ok=%v, want 2", len(ev), ok)
	}
}

// TestWatchDeletedCarriesDeletionVersion: a DELETED event's object has the
// resourceVersion of the deletion, as kube-apiserver sends it, not the one of
// the object's last change. client-go's reflector resumes a watch from the
// version of the last event it got; with the older version it went back to
// before the changes of other objects that came in between, and received them
// twice (TestInformerThroughLeaderChange found it).
func TestWatchDeletedCarriesDeletionVersion(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("a", "ua", 0, "1Mi")}, t0))
	mustApply(t, f, 4, command(t, CmdCreatePod, CreatePod{Pod: testPod("b", "ub", 0, "1Mi")}, t0))
	mustApply(t, f, 5, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "a"}, t0))
	mustApply(t, f, 6, command(t, CmdDeleteNode, DeleteNode{Name: "node-2"}, t0))

	for _, tc := range []struct {
		kind string
		from uint64
		want uint64
	}{{"Pod", 4, 5}, {"Node", 5, 6}} {
		events, _, ok := f.state.WatchSince(tc.from, tc.kind)
		if !ok || len(events) != 1 || events[0].Type != WatchDeleted {
			t.Fatalf("%s since %d: %+v ok=%v, want one DELETED", tc.kind, tc.from, events, ok)
		}
		rv := events[0].Object.(api.Object).GetResourceVersion()
		if rv != strconv.FormatUint(tc.want, 10) {
			t.Errorf("%s DELETED at index %d carries resourceVersion %s", tc.kind, tc.want, rv)
		}
		// A watch resumed from the DELETED event's version gets nothing again.
		v, _ := strconv.ParseUint(rv, 10, 64)
		if again, _, _ := f.state.WatchSince(v, tc.kind); len(again) != 0 {
			t.Errorf("%s resumed from the DELETED event's version %s: %d events again", tc.kind, rv, len(again))
		}
	}
	// The object as it was stored, which readers and the ADDED event share,
	// keeps its own version.
	events, _, _ := f.state.WatchSince(2, "Pod")
	if rv := events[0].Object.(*api.Pod).ResourceVersion; events[0].Type != WatchAdded || rv != "3" {
		t.Fatalf("ADDED event of pod a: %s at resourceVersion %s, want ADDED at 3", events[0].Type, rv)
	}
}

func TestSnapshotKeepsPodsAndAllocation(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 8080, "1Gi")}, t0))
	bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	b, err := json.Marshal(f.state.export())
	if err != nil {
		t.Fatal(err)
	}
	var d snapshotData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	g := &fsm{state: NewState()}
	g.state.restore(d)
	mustApply(t, g, 5, command(t, CmdCreatePod, CreatePod{Pod: testPod("q", "uq", 8080, "1Mi")}, t0))
	res := bind(t, g, 6, PodBinding{Namespace: "default", Name: "q", UID: "uq", Node: "node-1"})
	if len(res.Rejected) != 1 {
		t.Fatalf("host port held by a restored pod was given away: %+v", res)
	}
}

func TestPodCIDRAssignment(t *testing.T) {
	f := podFSM(t)
	net := ClusterNetwork{ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24}
	mustApply(t, f, 3, command(t, CmdSetClusterNetwork, SetClusterNetwork{Network: net}, t0))
	if _, err := applyErr(t, f, 4, command(t, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{ClusterCIDR: "10.99.0.0/16", NodeCIDRMaskSize: 24}}, t0)); err == nil {
		t.Fatalf("a second, different cluster network was accepted")
	}
	free := f.state.FreePodCIDRs(2)
	if len(free) != 2 || free[0] != "10.88.0.0/24" || free[1] != "10.88.1.0/24" {
		t.Fatalf("free CIDRs = %v", free)
	}
	mustApply(t, f, 5, command(t, CmdAssignPodCIDRs, AssignPodCIDRs{Assignments: []PodCIDRAssignment{
		{Node: "node-1", CIDR: "10.88.0.0/24"},
		{Node: "node-2", CIDR: "10.88.0.0/24"}, // overlaps node-1's: skipped
		{Node: "node-9", CIDR: "10.88.5.0/24"}, // no such node: skipped
	}}, t0))
	n1, _ := f.state.Node("node-1")
	n2, _ := f.state.Node("node-2")
	if n1.Spec.PodCIDR != "10.88.0.0/24" || n2.Spec.PodCIDR != "" {
		t.Fatalf("node-1 %q node-2 %q, want 10.88.0.0/24 and none", n1.Spec.PodCIDR, n2.Spec.PodCIDR)
	}
	for _, bad := range []string{"10.99.0.0/24", "10.88.1.0/25", "10.88.1.7/24"} {
		mustApply(t, f, 6, command(t, CmdAssignPodCIDRs, AssignPodCIDRs{Assignments: []PodCIDRAssignment{{Node: "node-2", CIDR: bad}}}, t0))
		if n2, _ := f.state.Node("node-2"); n2.Spec.PodCIDR != "" {
			t.Fatalf("invalid CIDR %s assigned", bad)
		}
	}
	// Re-registering (an agent restart) keeps the CIDR; deleting releases it.
	mustApply(t, f, 7, registerCmd(t, testNode("node-1", "uid-n1", "10.0.0.1", "4", "3Gi"), t0))
	if n1, _ := f.state.Node("node-1"); n1.Spec.PodCIDR != "10.88.0.0/24" {
		t.Fatalf("re-registration lost the pod CIDR")
	}
	mustApply(t, f, 8, command(t, CmdDeleteNode, DeleteNode{Name: "node-1"}, t0))
	if free := f.state.FreePodCIDRs(1); free[0] != "10.88.0.0/24" {
		t.Fatalf("deleted node's CIDR not released: next free %v", free)
	}
}

func TestSecondDeleteMayOnlyShortenGrace(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Mi")}, t0))
	bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
	grace := func(g int64) *int64 { return &g }
	mustApply(t, f, 5, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p", GracePeriodSeconds: grace(30)}, t0))
	for _, tc := range []struct {
		give, want int64
	}{{60, 30}, {5, 5}, {10, 5}, {1, 1}} {
		mustApply(t, f, 6, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p", GracePeriodSeconds: grace(tc.give)}, t0.Add(time.Minute)))
		p, _ := f.state.Pod("default", "p")
		if p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != tc.want {
			t.Fatalf("after a delete with grace %d: %v, want %d", tc.give, p.DeletionGracePeriodSeconds, tc.want)
		}
		if !p.DeletionTimestamp.Time.Equal(t0) {
			t.Fatalf("deletionTimestamp moved to %v", p.DeletionTimestamp)
		}
	}
}

// TestDeletePodOfMissingNode: a pod bound to a node that does not exist
// (its Node was deleted, or the user named a node that never registered) is
// removed by its delete at once: no agent will ever stop it and confirm, so
// a graceful delete would leave it Terminating forever. A pod on a node that
// exists still waits for its node.
func TestDeletePodOfMissingNode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(t *testing.T, f *fsm)
		wantGone bool
	}{
		{"node exists", func(t *testing.T, f *fsm) {}, false},
		{"node deleted", func(t *testing.T, f *fsm) {
			mustApply(t, f, 5, command(t, CmdDeleteNode, DeleteNode{Name: "node-1"}, t0))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := podFSM(t)
			mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 0, "1Gi")}, t0))
			bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
			tc.setup(t, f)
			mustApply(t, f, 6, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p"}, t0))
			p, ok := f.state.Pod("default", "p")
			if ok == tc.wantGone {
				t.Fatalf("after delete: pod present = %v, want %v", ok, !tc.wantGone)
			}
			if ok && p.DeletionTimestamp == nil {
				t.Fatalf("pod on a live node: want Terminating")
			}
		})
	}

	// A pod created with the name of a node that never registered.
	f := podFSM(t)
	pinned := testPod("pinned", "upin", 0, "1Gi")
	pinned.Spec.NodeName = "node-9"
	mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: pinned}, t0))
	mustApply(t, f, 4, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "pinned"}, t0))
	if _, ok := f.state.Pod("default", "pinned"); ok {
		t.Fatalf("pod pinned to an unknown node still there after delete")
	}
}

// TestWatchLogSince finds the events after a resourceVersion by binary
// search, across the ring's wrap, with the kind filter, and equal indexes
// (one command's events) kept together.
func TestWatchLogSince(t *testing.T) {
	w := newWatchLog(8)
	// Indexes 1..12 with two events at 5 (one Raft entry changing two
	// objects); the ring keeps the last 8.
	for i := uint64(1); i <= 12; i++ {
		kind := "Pod"
		if i%3 == 0 {
			kind = "Node"
		}
		w.add(WatchEvent{Index: i, Kind: kind})
		if i == 5 {
			w.add(WatchEvent{Index: 5, Kind: "Node"})
		}
	}
	indexes := func(ev []WatchEvent) (out []uint64) {
		for _, e := range ev {
			out = append(out, e.Index)
		}
		return out
	}
	for _, tc := range []struct {
		rv   uint64
		kind string
		want []uint64
		ok   bool
	}{
		// 1..5 and the first event at 5 were dropped: the floor is 5.
		{rv: 3, ok: false},
		{rv: 4, ok: false},
		{rv: 5, want: []uint64{6, 7, 8, 9, 10, 11, 12}, ok: true},
		{rv: 8, kind: "Node", want: []uint64{9, 12}, ok: true},
		{rv: 9, kind: "Pod", want: []uint64{10, 11}, ok: true},
		{rv: 12, want: nil, ok: true},
		{rv: 100, want: nil, ok: true},
	} {
		ev, ok := w.since(tc.rv, tc.kind)
		if ok != tc.ok || !slices.Equal(indexes(ev), tc.want) {
			t.Errorf("since %d %q = %v ok=%v, want %v ok=%v", tc.rv, tc.kind, indexes(ev), ok, tc.want, tc.ok)
		}
	}
}

// TestWatchEventObjectJSON: the watches that send an event share one
// encoding of its object while the event is recent, and an event past
// the window still encodes, without keeping the bytes.
func TestWatchEventObjectJSON(t *testing.T) {
	w := newWatchLog(encodedWindow + 10)
	pod := testPod("p", "up", 0, "1Mi")
	w.add(WatchEvent{Index: 1, Kind: "Pod", Object: &pod})
	ev, _ := w.since(0, "")
	a, err := ev[0].ObjectJSON()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ev[0].ObjectJSON()
	if want, _ := json.Marshal(&pod); !bytes.Equal(a, want) || &a[0] != &b[0] {
		t.Fatalf("ObjectJSON = %s (shared %v), want %s encoded once", a, &a[0] == &b[0], want)
	}
	for i := uint64(2); i <= encodedWindow+1; i++ {
		w.add(WatchEvent{Index: i, Kind: "Pod", Object: &pod})
	}
	if ev[0].encoded.formats != nil {
		t.Fatalf("the encoding of an event %d events old is still held", encodedWindow)
	}
	c, err := ev[0].ObjectJSON()
	if err != nil || !bytes.Equal(c, a) || ev[0].encoded.formats != nil {
		t.Fatalf("ObjectJSON past the window = %s, %v (held %v)", c, err, ev[0].encoded.formats != nil)
	}
}

// TestPodsOfLostNodesFail: SetPodsFailed fails a lost node's running pods
// (they stay, Failed, NodeLost, for their controllers to replace) and
// removes the ones already being deleted, whose deletion that node would
// never confirm; a pod of another uid is left alone.
func TestPodsOfLostNodesFail(t *testing.T) {
	for _, tt := range []struct {
		name        string
		terminating bool
		uid         string
		wantExists  bool
		wantPhase   api.PodPhase
	}{
		{name: "running pod fails", uid: "up", wantExists: true, wantPhase: api.PodFailed},
		{name: "terminating pod goes", terminating: true, uid: "up"},
		{name: "another uid is left alone", uid: "other", wantExists: true, wantPhase: api.PodPending},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := podFSM(t)
			mustApply(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: testPod("p", "up", 8080, "1Gi")}, t0))
			bind(t, f, 4, PodBinding{Namespace: "default", Name: "p", UID: "up", Node: "node-1"})
			if tt.terminating {
				del := mustApply(t, f, 5, command(t, CmdDeletePod, DeletePod{Namespace: "default", Name: "p"}, t0)).(*api.Pod)
				if del.DeletionTimestamp == nil {
					t.Fatalf("delete of a bound pod: want it Terminating")
				}
			}
			mustApply(t, f, 6, command(t, CmdSetPodsFailed, SetPodsFailed{Updates: []FailedPod{{
				Namespace: "default", Name: "p", UID: types.UID(tt.uid), Reason: api.PodReasonNodeLost, Message: "Node node-1 which was running pod p is unresponsive"}}}, t0))
			p, ok := f.state.Pod("default", "p")
			if ok != tt.wantExists {
				t.Fatalf("pod exists: %v, want %v", ok, tt.wantExists)
			}
			if ok && p.Status.Phase != tt.wantPhase {
				t.Fatalf("phase %q, want %q", p.Status.Phase, tt.wantPhase)
			}
			// A failed or removed pod holds nothing: the node takes another
			// pod on the same host port.
			n, _ := f.state.Node("node-1")
			mem := api.NodeAllocated(n)[api.ResourceMemory]
			if held := tt.wantPhase == api.PodPending; held != !mem.IsZero() {
				t.Fatalf("node-1 allocated memory %s with the pod %s", mem.String(), tt.name)
			}
		})
	}
}
