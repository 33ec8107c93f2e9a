package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/placement"
)

// The tests of the leader's cluster controllers (PodGC, NodeLifecycle,
// Namespaces, PodCIDRs) run them over a consensus.MemStore: the state
// machine every replica runs, without Raft, so what they commit is checked
// as in a cluster.

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// cluster is a MemStore with the clock the tests move.
type cluster struct {
	t     *testing.T
	store *consensus.MemStore
	now   time.Time
	uids  int
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, store: consensus.NewMemStore(), now: t0}
	c.store.Now = func() time.Time { return c.now }
	return c
}

func (c *cluster) clock() time.Time { return c.now }

func (c *cluster) committer() Committer { return CommitFunc(c.commitPayload) }

func (c *cluster) commitPayload(ctx context.Context, t consensus.CommandType, p any) (json.RawMessage, error) {
	res, err := c.store.CommitPayload(ctx, t, p)
	return res.Response, err
}

func (c *cluster) must(t consensus.CommandType, p any) {
	c.t.Helper()
	if _, err := c.store.CommitPayload(context.Background(), t, p); err != nil {
		c.t.Fatalf("%s: %v", t, err)
	}
}

func (c *cluster) uid() types.UID {
	c.uids++
	return types.UID(fmt.Sprintf("uid-%d", c.uids))
}

// node registers a node with room for pods.
func (c *cluster) node(name string) {
	c.t.Helper()
	rl := api.ResourceList{api.ResourceCPU: resource.MustParse("4"), api.ResourceMemory: resource.MustParse("8Gi"),
		api.ResourcePods: resource.MustParse("110")}
	c.must(consensus.CmdRegisterNode, consensus.RegisterNode{Node: api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, UID: c.uid(), Labels: map[string]string{api.LabelHostname: name}},
		Status:     api.NodeStatus{Capacity: rl, Allocatable: rl},
	}})
	c.must(consensus.CmdSetNodeConditions, consensus.SetNodeConditions{Updates: []consensus.NodeConditionUpdate{
		{Node: name, Condition: api.NodeCondition{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady"}}}})
}

// pod creates pod name in default, bound to node.
func (c *cluster) pod(name, node string) {
	c.t.Helper()
	p := api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: c.uid()},
		Spec:       api.PodSpec{NodeName: node, Containers: []api.Container{{Name: "c", Image: "busybox:1"}}},
	}
	api.SetPodDefaults(&p)
	c.must(consensus.CmdCreatePod, consensus.CreatePod{Pod: p})
}

// namespaces runs the namespace controller once, so pods can be created.
func (c *cluster) namespaces() {
	(&Namespaces{State: c.store.State(), Commit: c.committer(), Log: discard, NewUID: c.uid}).Reconcile(context.Background())
}

func (c *cluster) phase(name string) api.PodPhase {
	p, ok := c.store.State().Pod("default", name)
	if !ok {
		return "gone"
	}
	return p.Status.Phase
}

func TestPodGC(t *testing.T) {
	c := newCluster(t)
	c.namespaces()
	c.node("n1")
	c.node("n2")
	c.pod("on-n1", "n1")
	c.pod("on-n2", "n2")
	c.pod("on-ghost", "ghost") // a nodeName that never registered
	gc := &PodGC{State: c.store.State(), Commit: c.committer(), Log: discard, Quarantine: 40 * time.Second, Now: c.clock}
	ctx := context.Background()

	steps := []struct {
		after    time.Duration // since t0
		change   func()
		wantNext time.Duration
		want     map[string]api.PodPhase
	}{
		{0, nil, 40 * time.Second, map[string]api.PodPhase{"on-n1": api.PodPending, "on-n2": api.PodPending, "on-ghost": api.PodPending}},
		{20 * time.Second, func() { c.must(consensus.CmdDeleteNode, consensus.DeleteNode{Name: "n2"}) }, 20 * time.Second,
			map[string]api.PodPhase{"on-n2": api.PodPending, "on-ghost": api.PodPending}},
		// The ghost's quarantine is over; n2's has 20 s to go.
		{40 * time.Second, nil, 20 * time.Second, map[string]api.PodPhase{"on-ghost": "gone", "on-n2": api.PodPending}},
		{60 * time.Second, nil, 0, map[string]api.PodPhase{"on-n2": "gone", "on-n1": api.PodPending}},
	}
	for _, s := range steps {
		c.now = t0.Add(s.after)
		if s.change != nil {
			s.change()
		}
		if next := gc.Reconcile(ctx); next != s.wantNext {
			t.Errorf("at +%v: next = %v, want %v", s.after, next, s.wantNext)
		}
		for name, want := range s.want {
			if got := c.phase(name); got != want {
				t.Errorf("at +%v: pod %s is %s, want %s", s.after, name, got, want)
			}
		}
	}
}

// TestPodGCWithConcurrentWrites: a pass reading the state while the state
// machine applies must not deadlock (a read lock taken again inside Pods'
// filter did, once the FSM waited for the write lock in between).
func TestPodGCWithConcurrentWrites(t *testing.T) {
	c := newCluster(t)
	c.namespaces()
	c.node("n1")
	for i := range 50 {
		c.pod(fmt.Sprintf("p-%d", i), "n1")
	}
	gc := &PodGC{State: c.store.State(), Commit: c.committer(), Log: discard, Quarantine: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 2000; i++ {
			_, _ = c.store.CommitPayload(ctx, consensus.CmdRecordEvents, consensus.RecordEvents{})
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil && i < 2000; i++ {
			gc.Reconcile(ctx)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("PodGC passes did not finish within 30 s of concurrent writes: deadlock")
	}
	cancel()
	wg.Wait()
}

// liveness is gossip's view for the tests.
type liveness map[string]struct {
	status api.MemberStatus
	since  time.Time
}

func (l liveness) Liveness(node string) (api.MemberStatus, time.Time, bool) {
	m, ok := l[node]
	return m.status, m.since, ok
}

func TestNodeLifecycle(t *testing.T) {
	c := newCluster(t)
	c.namespaces()
	for _, n := range []string{"alive", "dead", "unknown"} {
		c.node(n)
		c.pod("on-"+n, n)
	}
	members := liveness{
		"alive": {api.MemberAlive, t0.Add(-time.Hour)},
		"dead":  {api.MemberDead, t0.Add(-10 * time.Second)},
	}
	nl := &NodeLifecycle{State: c.store.State(), Members: members, Commit: c.committer(), Log: discard,
		LostTimeout: 30 * time.Second, Now: c.clock}
	ctx := context.Background()
	steps := []struct {
		after    time.Duration
		wantNext time.Duration
		want     map[string]api.PodPhase
	}{
		// dead: lost in 20 s; unknown: first missed now, lost in 30 s.
		{0, 20 * time.Second, map[string]api.PodPhase{"on-alive": api.PodPending, "on-dead": api.PodPending, "on-unknown": api.PodPending}},
		{20 * time.Second, 10 * time.Second, map[string]api.PodPhase{"on-dead": api.PodFailed, "on-unknown": api.PodPending}},
		{30 * time.Second, 0, map[string]api.PodPhase{"on-unknown": api.PodFailed, "on-alive": api.PodPending}},
	}
	for _, s := range steps {
		c.now = t0.Add(s.after)
		if next := nl.Reconcile(ctx); next != s.wantNext {
			t.Errorf("at +%v: next = %v, want %v", s.after, next, s.wantNext)
		}
		for name, want := range s.want {
			if got := c.phase(name); got != want {
				t.Errorf("at +%v: pod %s is %s, want %s", s.after, name, got, want)
			}
		}
	}
	if p, _ := c.store.State().Pod("default", "on-dead"); p.Status.Reason != api.PodReasonNodeLost {
		t.Errorf("reason %q, want %q", p.Status.Reason, api.PodReasonNodeLost)
	}
}

func TestNamespaces(t *testing.T) {
	c := newCluster(t)
	rootCA := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	ctrl := &Namespaces{State: c.store.State(), Commit: c.committer(), Log: discard, NewUID: c.uid, RootCA: rootCA}
	ctx := context.Background()
	ctrl.Reconcile(ctx)
	for _, ns := range api.SystemNamespaces {
		if cm, ok := c.store.State().ConfigMap(ns, api.RootCAConfigMapName); !ok || cm.Data[api.RootCAConfigMapKey] != string(rootCA) {
			t.Errorf("namespace %s: kube-root-ca.crt %v (found %v), want the cluster CA", ns, cm, ok)
		}
		if n, ok := c.store.State().Namespace(ns); !ok {
			t.Errorf("system namespace %s missing", ns)
		} else if n.Labels[api.LabelMetadataName] != ns {
			t.Errorf("namespace %s labels %v, want %s=%s as kube-apiserver sets it", ns, n.Labels, api.LabelMetadataName, ns)
		}
		if _, ok := c.store.State().ServiceAccount(ns, api.DefaultServiceAccountName); !ok {
			t.Errorf("namespace %s has no default service account", ns)
		}
	}
	// A deleted default service account is made again; a pass with
	// nothing missing commits nothing.
	c.must(consensus.CmdDeleteServiceAccount, consensus.DeleteServiceAccount{Namespace: "default", Name: api.DefaultServiceAccountName})
	ctrl.Reconcile(ctx)
	if _, ok := c.store.State().ServiceAccount("default", api.DefaultServiceAccountName); !ok {
		t.Error("default service account not made again")
	}
	// A deleted or changed kube-root-ca.crt is put back.
	c.must(consensus.CmdDeleteConfigMap, consensus.DeleteConfigMap{Namespace: "default", Name: api.RootCAConfigMapName})
	changed, _ := c.store.State().ConfigMap("kube-system", api.RootCAConfigMapName)
	changed = changed.DeepCopy()
	changed.Data[api.RootCAConfigMapKey] = "not the CA"
	c.must(consensus.CmdUpdateConfigMap, consensus.UpdateConfigMap{ConfigMap: *changed})
	ctrl.Reconcile(ctx)
	for _, ns := range []string{"default", "kube-system"} {
		if cm, ok := c.store.State().ConfigMap(ns, api.RootCAConfigMapName); !ok || cm.Data[api.RootCAConfigMapKey] != string(rootCA) {
			t.Errorf("namespace %s: kube-root-ca.crt %v (found %v) not put back", ns, cm, ok)
		}
	}
	_, before := c.store.State().Pods(nil)
	ctrl.Reconcile(ctx)
	if _, after := c.store.State().Pods(nil); after != before {
		t.Errorf("a pass with nothing missing committed (index %d → %d)", before, after)
	}
}

func TestPodCIDRs(t *testing.T) {
	c := newCluster(t)
	ctrl := &PodCIDRs{State: c.store.State(), Commit: c.committer(), Log: discard,
		Network: consensus.ClusterNetwork{ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24}}
	c.node("a")
	c.node("b")
	ctrl.Reconcile(context.Background())
	net, ok := c.store.State().ClusterNetwork()
	if !ok || net != ctrl.Network {
		t.Fatalf("recorded network %+v, %v", net, ok)
	}
	got := map[string]string{}
	nodes, _ := c.store.State().NodeObjects()
	for _, n := range nodes {
		got[n.Name] = n.Spec.PodCIDR
	}
	if got["a"] != "10.88.0.0/24" || got["b"] != "10.88.1.0/24" {
		t.Fatalf("pod CIDRs %v", got)
	}
	// A later leader with other flags keeps the recorded network.
	other := &PodCIDRs{State: c.store.State(), Commit: c.committer(), Log: discard,
		Network: consensus.ClusterNetwork{ClusterCIDR: "10.99.0.0/16", NodeCIDRMaskSize: 24}}
	c.node("c")
	other.Reconcile(context.Background())
	if net, _ := c.store.State().ClusterNetwork(); net.ClusterCIDR != "10.88.0.0/16" {
		t.Fatalf("network changed to %+v", net)
	}
	if n, _ := c.store.State().Node("c"); n.Spec.PodCIDR != "10.88.2.0/24" {
		t.Fatalf("third node's CIDR %q", n.Spec.PodCIDR)
	}
}

// gossip is the scheduler's view of gossip for the tests.
type gossip struct {
	liveness
	free map[string]api.Resources
}

func (g gossip) Free(node string) (api.Resources, bool) {
	f, ok := g.free[node]
	return f, ok
}

func (g gossip) Changed() <-chan struct{} { return make(chan struct{}) }

// pendingPod creates an unbound pod requesting cpu.
func (c *cluster) pendingPod(name, cpu string) {
	c.t.Helper()
	p := api.Pod{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: c.uid()},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox:1",
			Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceCPU: resource.MustParse(cpu)}}}}},
	}
	api.SetPodDefaults(&p)
	c.must(consensus.CmdCreatePod, consensus.CreatePod{Pod: p})
}

func TestScheduler(t *testing.T) {
	tests := []struct {
		name   string
		gossip gossip
		pods   map[string]string // name: cpu request
		want   map[string]string // name: node, or "" when unschedulable
	}{
		{name: "spread over both nodes",
			pods: map[string]string{"p1": "1", "p2": "1"},
			want: map[string]string{"p1": "a", "p2": "b"}},
		{name: "a dead node gets nothing",
			gossip: gossip{liveness: liveness{"b": {api.MemberDead, t0}}},
			pods:   map[string]string{"p1": "1", "p2": "1"},
			want:   map[string]string{"p1": "a", "p2": "a"}},
		{name: "gossip saying less is free wins over the log",
			gossip: gossip{liveness: liveness{"a": {api.MemberAlive, t0}}, free: map[string]api.Resources{"a": {MilliCPU: 500, Memory: 8 << 30, Pods: 100}}},
			pods:   map[string]string{"p1": "1"},
			want:   map[string]string{"p1": "b"}},
		{name: "too big for any node",
			pods: map[string]string{"huge": "64"},
			want: map[string]string{"huge": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t)
			c.namespaces()
			c.node("a")
			c.node("b")
			for _, name := range slices.Sorted(maps.Keys(tt.pods)) {
				c.pendingPod(name, tt.pods[name])
			}
			s := &Scheduler{State: c.store.State(), Gossip: tt.gossip, Commit: c.committer(), Log: discard, Config: placement.DefaultConfig()}
			if more, err := s.Round(context.Background()); err != nil || more {
				t.Fatalf("Round: more %v, %v", more, err)
			}
			for name, node := range tt.want {
				p, _ := c.store.State().Pod("default", name)
				if p.Spec.NodeName != node {
					t.Errorf("pod %s on %q, want %q", name, p.Spec.NodeName, node)
				}
				if cond := api.GetPodCondition(p, api.PodScheduled); node == "" && (cond == nil || cond.Status != api.ConditionFalse || cond.Reason != "Unschedulable") {
					t.Errorf("unschedulable pod %s has PodScheduled %+v", name, cond)
				}
			}
			// A second round with nothing new writes nothing (the
			// unschedulable message is already there).
			_, before := c.store.State().Pods(nil)
			if _, err := s.Round(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, after := c.store.State().Pods(nil); after != before {
				t.Errorf("a round with nothing to do committed (index %d → %d)", before, after)
			}
		})
	}
}
