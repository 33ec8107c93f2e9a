package placement

import (
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// TestHostPortsWithinBatch: two pods of one batch wanting the same host
// port go to different nodes; a third has nowhere left.
func TestHostPortsWithinBatch(t *testing.T) {
	tcp80 := api.HostPort{Protocol: api.ProtocolTCP, Port: 80}
	nodes := []NodeInfo{node("a", 4000, 4*gi), node("b", 4000, 4*gi)}
	var pods []PodInfo
	for _, k := range []string{"default/p1", "default/p2", "default/p3"} {
		p := pod(k, 100, 100*mi)
		p.HostPorts = []api.HostPort{tcp80}
		pods = append(pods, p)
	}
	r := Place(DefaultConfig(), nodes, pods)
	got := bindingsOf(r)
	if len(got) != 2 || got["default/p1"] == got["default/p2"] {
		t.Fatalf("bindings = %v, want p1 and p2 on different nodes", got)
	}
	f, err := failureOf(r, "default/p3")
	if err != nil {
		t.Fatal(err)
	}
	if want := "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."; f.Message != want {
		t.Errorf("message = %q", f.Message)
	}
	if nodes[0].HostPorts != nil || nodes[1].HostPorts != nil {
		t.Errorf("Place wrote host ports into the caller's nodes: %+v", nodes)
	}
}

// TestBatchNeverOvercommits: pods of one batch are charged to their node
// before the next is placed, in every dimension.
func TestBatchNeverOvercommits(t *testing.T) {
	tests := []struct {
		name  string
		node  NodeInfo
		pod   PodInfo
		fit   int
		fails string
	}{
		{"memory", node("n", 100_000, 3*gi), pod("", 1, gi), 3, "0/1 nodes are available: 1 Insufficient memory."},
		{"cpu", node("n", 1000, 100*gi), pod("", 300, 1), 3, "0/1 nodes are available: 1 Insufficient cpu."},
		{"slots", func() NodeInfo { n := node("n", 1000, gi); n.Allocatable.Pods = 2; return n }(),
			pod("", 0, 0), 2, "0/1 nodes are available: 1 Too many pods."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pods []PodInfo
			for _, k := range []string{"ns/a", "ns/b", "ns/c", "ns/d"} {
				p := tt.pod
				p.Key = k
				pods = append(pods, p)
			}
			r := Place(DefaultConfig(), []NodeInfo{tt.node}, pods)
			if len(r.Bindings) != tt.fit {
				t.Fatalf("bound %d pods, want %d: %+v", len(r.Bindings), tt.fit, r)
			}
			for _, f := range r.Failures {
				if f.Message != tt.fails {
					t.Errorf("%s: message %q, want %q", f.PodKey, f.Message, tt.fails)
				}
			}
		})
	}
}

// TestInitContainerDominates: a pod's request is its largest init
// container's when that is more than the app containers' sum.
func TestInitContainerDominates(t *testing.T) {
	p := &api.Pod{}
	p.Name, p.Namespace = "war", "shop"
	p.Spec.InitContainers = []api.Container{container("copy-war", "2", "1Gi")}
	p.Spec.Containers = []api.Container{container("tomcat", "500m", "256Mi"), container("log", "100m", "256Mi")}
	pi := NewPodInfo(p)
	if want := (api.Resources{MilliCPU: 2000, Memory: gi, Pods: 1}); pi.Request != want {
		t.Fatalf("request = %+v, want %+v", pi.Request, want)
	}
	if pi.Key != "shop/war" {
		t.Errorf("key = %q", pi.Key)
	}
	// 768Mi would hold the app containers but not the init container.
	small := node("small", 4000, 768*mi)
	r := Place(DefaultConfig(), []NodeInfo{small}, []PodInfo{pi})
	if f, err := failureOf(r, "shop/war"); err != nil || f.Message != "0/1 nodes are available: 1 Insufficient memory." {
		t.Fatalf("failure = %+v, %v", f, err)
	}
	r = Place(DefaultConfig(), []NodeInfo{small, node("big", 4000, gi)}, []PodInfo{pi})
	if got := bindingsOf(r)["shop/war"]; got != "big" {
		t.Fatalf("bound to %q, want big", got)
	}
}

// TestStrategies: spread takes the emptiest node, binpack the fullest that
// still fits.
func TestStrategies(t *testing.T) {
	busy := node("busy", 4000, 4*gi)
	busy.Requested = api.Resources{MilliCPU: 3000, Memory: 3 * gi, Pods: 5}
	half := node("half", 4000, 4*gi)
	half.Requested = api.Resources{MilliCPU: 2000, Memory: 2 * gi, Pods: 2}
	idle := node("idle", 4000, 4*gi)
	tooFull := node("toofull", 4000, 4*gi)
	tooFull.Requested = api.Resources{MilliCPU: 3900, Memory: 3 * gi, Pods: 5}
	nodes := []NodeInfo{busy, half, idle, tooFull}
	p := pod("default/p", 500, 512*mi)
	for _, tt := range []struct {
		s    Strategy
		want string
	}{{StrategySpread, "idle"}, {StrategyBinpack, "busy"}, {"", "idle"}} {
		r := Place(Config{Strategy: tt.s}, nodes, []PodInfo{p})
		if got := bindingsOf(r)["default/p"]; got != tt.want {
			t.Errorf("strategy %q: bound to %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestSpreadBatch: a batch of equal pods on equal nodes spreads evenly
// under spread and piles onto one node under binpack.
func TestSpreadBatch(t *testing.T) {
	nodes := []NodeInfo{node("a", 4000, 4*gi), node("b", 4000, 4*gi), node("c", 4000, 4*gi)}
	var pods []PodInfo
	for _, k := range []string{"x/1", "x/2", "x/3", "x/4", "x/5", "x/6"} {
		pods = append(pods, pod(k, 500, 512*mi))
	}
	count := func(r Result) map[string]int {
		m := map[string]int{}
		for _, b := range r.Bindings {
			m[b.Node]++
		}
		return m
	}
	if got := count(Place(Config{Strategy: StrategySpread}, nodes, pods)); !reflect.DeepEqual(got, map[string]int{"a": 2, "b": 2, "c": 2}) {
		t.Errorf("spread: %v", got)
	}
	if got := count(Place(Config{Strategy: StrategyBinpack}, nodes, pods)); len(got) != 1 {
		t.Errorf("binpack: %v, want all on one node", got)
	}
}

// TestOwnerSpread: replicas of one owner go to the nodes with fewest of
// them, before resources count, but never to a node without room.
func TestOwnerSpread(t *testing.T) {
	roomy := node("roomy", 8000, 8*gi)
	roomy.OwnerPods = map[types.UID]int{"rs-1": 2}
	tight := node("tight", 2000, 2*gi)
	tight.Requested = api.Resources{MilliCPU: 1000, Memory: gi, Pods: 1}
	tight.OwnerPods = map[types.UID]int{"rs-1": 1, "rs-2": 5}
	full := node("full", 2000, 2*gi)
	full.Requested = api.Resources{MilliCPU: 2000, Memory: 2 * gi, Pods: 4}
	nodes := []NodeInfo{roomy, tight, full}
	rep := func(key string, owner types.UID) PodInfo {
		p := pod(key, 500, 512*mi)
		p.OwnerUID = owner
		return p
	}
	for _, s := range []Strategy{StrategySpread, StrategyBinpack} {
		r := Place(Config{Strategy: s}, nodes, []PodInfo{rep("d/r1", "rs-1"), rep("d/r2", "rs-1"), rep("d/r3", "rs-1"), rep("d/o", "rs-2"), rep("d/bare", "")})
		want := map[string]string{
			"d/r1": "tight", // 1 of rs-1 there against 2 on roomy
			"d/o":  "roomy", // rs-2 has 5 pods on tight
		}
		got := bindingsOf(r)
		if s == StrategySpread {
			want["d/r2"], want["d/r3"], want["d/bare"] = "roomy", "tight", "roomy"
		} else {
			// binpack: after r1 both have 2; tight (fuller) wins r2, then
			// roomy has fewer; tight is now full, so bare goes to roomy.
			want["d/r2"], want["d/r3"], want["d/bare"] = "tight", "roomy", "roomy"
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: %s on %q, want %q (all: %v)", s, k, got[k], w, got)
			}
		}
		for _, b := range r.Bindings {
			if b.Node == "full" {
				t.Errorf("%s: %s placed on the full node", s, b.PodKey)
			}
		}
	}
	if roomy.OwnerPods["rs-1"] != 2 || tight.OwnerPods["rs-1"] != 1 {
		t.Errorf("Place wrote to the caller's OwnerPods: %v %v", roomy.OwnerPods, tight.OwnerPods)
	}
}

// TestTieBreak: equal nodes are chosen by a hash of pod key and node name,
// so different pods start on different nodes, and the same input always
// gives the same node.
func TestTieBreak(t *testing.T) {
	var nodes []NodeInfo
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"} {
		nodes = append(nodes, node(n, 4000, 4*gi))
	}
	used := map[string]bool{}
	for _, k := range []string{"a/1", "a/2", "a/3", "a/4", "a/5", "a/6", "a/7", "a/8", "a/9", "a/10"} {
		r := Place(DefaultConfig(), nodes, []PodInfo{pod(k, 100, mi)})
		n := r.Bindings[0].Node
		used[n] = true
		for range 5 {
			if again := Place(DefaultConfig(), nodes, []PodInfo{pod(k, 100, mi)}); again.Bindings[0].Node != n {
				t.Fatalf("%s: %s then %s", k, n, again.Bindings[0].Node)
			}
		}
	}
	if len(used) < 3 {
		t.Errorf("ten single pods on eight equal nodes used only %v", used)
	}
	// Over many pods every equal node is first choice about equally often.
	first := map[string]int{}
	for i := range 800 {
		r := Place(DefaultConfig(), nodes, []PodInfo{pod(fmt.Sprintf("ns/web-%d", i), 100, mi)})
		first[r.Bindings[0].Node]++
	}
	for _, n := range nodes {
		if k := first[n.Name]; k < 60 || k > 140 {
			t.Errorf("node %s first choice of %d of 800 pods, want about 100: %v", n.Name, k, first)
		}
	}
}

// TestDuplicateKeyPlacedOnce: a pod listed twice in a batch is placed once.
func TestDuplicateKeyPlacedOnce(t *testing.T) {
	nodes := []NodeInfo{node("a", 4000, 4*gi), node("b", 4000, 4*gi)}
	r := Place(DefaultConfig(), nodes, []PodInfo{pod("d/p", 100, mi), pod("d/q", 100, mi), pod("d/p", 100, mi)})
	if len(r.Bindings) != 2 || len(r.Failures) != 0 || r.Bindings[0].PodKey != "d/p" || r.Bindings[1].PodKey != "d/q" {
		t.Fatalf("result = %+v", r)
	}
}

// TestNoNodes: an empty cluster gets kube-scheduler's own message.
func TestNoNodes(t *testing.T) {
	r := Place(DefaultConfig(), nil, []PodInfo{pod("d/p", 1, 1)})
	if len(r.Failures) != 1 || r.Failures[0].Message != "no nodes available to schedule pods" || len(r.Failures[0].Reasons) != 0 {
		t.Fatalf("result = %+v", r)
	}
	if r := Place(DefaultConfig(), nil, nil); r.Bindings != nil || r.Failures != nil {
		t.Fatalf("empty batch: %+v", r)
	}
}
