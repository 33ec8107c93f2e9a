package placement

import (
	"reflect"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// seedPod is the seeds' pod: main, A and B, 1Gi each, built as an api.Pod
// so that the request goes through api.PodRequests and NewPodInfo.
func seedPod(name string) PodInfo {
	p := &api.Pod{}
	p.Name = name
	p.Spec.Containers = []api.Container{
		container("main", "100m", "1Gi"),
		container("a", "100m", "1Gi"),
		container("b", "100m", "1Gi"),
	}
	return NewPodInfo(p)
}

// TestSeedScenario is the seeds' example: node-1 has 3Gi of memory free,
// node-2 2.5Gi; a pod of three 1Gi containers must land on node-1 every
// time, with either strategy and whatever the nodes' order, and a second
// such pod then fits nowhere.
func TestSeedScenario(t *testing.T) {
	bound := &api.Pod{} // 1Gi already bound to node-1 of the "used" variant
	bound.Spec.Containers = []api.Container{container("x", "", "1Gi")}
	type variant struct {
		name  string
		nodes []NodeInfo
	}
	variants := []variant{
		{"empty nodes", []NodeInfo{
			NewNodeInfo(apiNode("node-1", "4", "3Gi", 110), nil),
			NewNodeInfo(apiNode("node-2", "4", "2560Mi", 110), nil),
		}},
		{"partly used nodes", []NodeInfo{
			NewNodeInfo(apiNode("node-1", "4", "4Gi", 110), []*api.Pod{bound}),
			NewNodeInfo(apiNode("node-2", "4", "3584Mi", 110), []*api.Pod{bound}),
		}},
		{"reverse order", []NodeInfo{
			NewNodeInfo(apiNode("node-2", "4", "2560Mi", 110), nil),
			NewNodeInfo(apiNode("node-1", "4", "3Gi", 110), nil),
		}},
	}
	for _, v := range variants {
		for _, s := range []Strategy{StrategySpread, StrategyBinpack} {
			t.Run(v.name+"/"+string(s), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.Strategy = s
				if got := seedPod("web").Request.Memory; got != 3*gi {
					t.Fatalf("request = %d, want 3Gi", got)
				}

				// One batch: the first pod lands on node-1, the second fails.
				r := Place(cfg, v.nodes, []PodInfo{seedPod("web"), seedPod("web2")})
				if got := bindingsOf(r); !reflect.DeepEqual(got, map[string]string{"default/web": "node-1"}) {
					t.Fatalf("bindings = %v, want default/web on node-1", got)
				}
				f, err := failureOf(r, "default/web2")
				if err != nil {
					t.Fatal(err)
				}
				const want = "0/2 nodes are available: 2 Insufficient memory."
				if f.Message != want {
					t.Errorf("message = %q, want %q", f.Message, want)
				}
				if !reflect.DeepEqual(f.Reasons, map[string]int{ReasonInsufficientMemory: 2}) {
					t.Errorf("reasons = %v", f.Reasons)
				}

				// The same pod alone, many times: always node-1.
				for range 20 {
					r := Place(cfg, v.nodes, []PodInfo{seedPod("web")})
					if len(r.Bindings) != 1 || r.Bindings[0].Node != "node-1" {
						t.Fatalf("result = %+v, want node-1", r)
					}
				}
			})
		}
	}
}

// TestSecondBatchSeesCommittedPod: the second pod fails the same way when
// the first one arrives as a committed, bound pod in the next round.
func TestSecondBatchSeesCommittedPod(t *testing.T) {
	first := &api.Pod{}
	first.Name = "web"
	first.Spec.Containers = []api.Container{
		container("main", "100m", "1Gi"), container("a", "100m", "1Gi"), container("b", "100m", "1Gi"),
	}
	nodes := []NodeInfo{
		NewNodeInfo(apiNode("node-1", "4", "3Gi", 110), []*api.Pod{first}),
		NewNodeInfo(apiNode("node-2", "4", "2560Mi", 110), nil),
	}
	r := Place(DefaultConfig(), nodes, []PodInfo{seedPod("web2")})
	f, err := failureOf(r, "default/web2")
	if err != nil {
		t.Fatal(err)
	}
	if f.Message != "0/2 nodes are available: 2 Insufficient memory." {
		t.Errorf("message = %q", f.Message)
	}
}

// TestFilters checks each filter alone: the node it rejects, and the exact
// message a pod gets when it is the only node.
func TestFilters(t *testing.T) {
	tcp80 := api.HostPort{Protocol: api.ProtocolTCP, Port: 80}
	udp80 := api.HostPort{Protocol: api.ProtocolUDP, Port: 80}
	tests := []struct {
		name   string
		node   func(n *NodeInfo)
		pod    func(p *PodInfo)
		filter string // "" = feasible
		want   string // message when infeasible
	}{
		{"feasible", nil, nil, "", ""},
		{"not ready", func(n *NodeInfo) { n.Ready = false }, nil,
			"NodeReady", "0/1 nodes are available: 1 node(s) were not ready."},
		{"cordoned", func(n *NodeInfo) { n.Unschedulable = true }, nil,
			"NodeUnschedulable", "0/1 nodes are available: 1 node(s) were unschedulable."},
		{"selector label missing", nil, func(p *PodInfo) { p.NodeSelector = map[string]string{"disk": "ssd"} },
			"NodeSelector", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"selector label differs", func(n *NodeInfo) { n.Labels = map[string]string{"disk": "hdd"} },
			func(p *PodInfo) { p.NodeSelector = map[string]string{"disk": "ssd"} },
			"NodeSelector", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"selector matches", func(n *NodeInfo) { n.Labels = map[string]string{"disk": "ssd", "zone": "a"} },
			func(p *PodInfo) { p.NodeSelector = map[string]string{"disk": "ssd"} }, "", ""},
		{"selector needs all labels", func(n *NodeInfo) { n.Labels = map[string]string{"disk": "ssd"} },
			func(p *PodInfo) { p.NodeSelector = map[string]string{"disk": "ssd", "zone": "a"} },
			"NodeSelector", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"no pod slot", func(n *NodeInfo) { n.Requested.Pods = 110 }, nil,
			"NodeResourcesFit", "0/1 nodes are available: 1 Too many pods."},
		{"zero pod slots", func(n *NodeInfo) { n.Allocatable.Pods = 0 }, nil,
			"NodeResourcesFit", "0/1 nodes are available: 1 Too many pods."},
		{"pod slot count ignores Request.Pods", func(n *NodeInfo) { n.Requested.Pods = 110 },
			func(p *PodInfo) { p.Request.Pods = 0 },
			"NodeResourcesFit", "0/1 nodes are available: 1 Too many pods."},
		{"cpu", func(n *NodeInfo) { n.Requested.MilliCPU = 3600 }, nil,
			"NodeResourcesFit", "0/1 nodes are available: 1 Insufficient cpu."},
		{"memory", func(n *NodeInfo) { n.Requested.Memory = 3*gi + 512*mi + 1 }, nil,
			"NodeResourcesFit", "0/1 nodes are available: 1 Insufficient memory."},
		{"exact fit", func(n *NodeInfo) { n.Requested = api.Resources{MilliCPU: 3500, Memory: 3*gi + 512*mi, Pods: 109} }, nil, "", ""},
		{"every shortage counted", func(n *NodeInfo) { n.Requested = api.Resources{MilliCPU: 4000, Memory: 4 * gi, Pods: 110} }, nil,
			"NodeResourcesFit", "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods."},
		{"zero request on an overcommitted node", func(n *NodeInfo) { n.Requested.Memory = 5 * gi },
			func(p *PodInfo) { p.Request = api.Resources{} },
			"NodeResourcesFit", "0/1 nodes are available: 1 Insufficient memory."},
		{"host port taken", func(n *NodeInfo) { n.HostPorts = map[api.HostPort]bool{tcp80: true} },
			func(p *PodInfo) { p.HostPorts = []api.HostPort{tcp80} },
			"NodePorts", "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."},
		{"same port, other protocol", func(n *NodeInfo) { n.HostPorts = map[api.HostPort]bool{udp80: true} },
			func(p *PodInfo) { p.HostPorts = []api.HostPort{tcp80} }, "", ""},
		{"not ready wins over cordoned and full", func(n *NodeInfo) {
			n.Ready, n.Unschedulable, n.Requested.Memory = false, true, 4*gi
		}, nil, "NodeReady", "0/1 nodes are available: 1 node(s) were not ready."},
		{"selector wins over resources", func(n *NodeInfo) { n.Requested.Memory = 4 * gi },
			func(p *PodInfo) { p.NodeSelector = map[string]string{"disk": "ssd"} },
			"NodeSelector", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"resources win over ports", func(n *NodeInfo) {
			n.Requested.Memory = 4 * gi
			n.HostPorts = map[api.HostPort]bool{tcp80: true}
		}, func(p *PodInfo) { p.HostPorts = []api.HostPort{tcp80} },
			"NodeResourcesFit", "0/1 nodes are available: 1 Insufficient memory."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := node("n1", 4000, 4*gi)
			n.Requested = api.Resources{Memory: 0}
			if tt.node != nil {
				tt.node(&n)
			}
			p := pod("default/p", 500, 512*mi)
			if tt.pod != nil {
				tt.pod(&p)
			}
			r := Place(DefaultConfig(), []NodeInfo{n}, []PodInfo{p})
			v := Explain(DefaultConfig(), []NodeInfo{n}, p)
			if len(v) != 1 || v[0].Filter != tt.filter || v[0].Feasible != (tt.filter == "") {
				t.Errorf("verdict = %+v, want filter %q", v, tt.filter)
			}
			if tt.filter == "" {
				if len(r.Bindings) != 1 || r.Bindings[0] != (Binding{PodKey: "default/p", Node: "n1"}) || len(r.Failures) != 0 {
					t.Fatalf("result = %+v, want bound to n1", r)
				}
				return
			}
			if len(r.Bindings) != 0 || len(r.Failures) != 1 {
				t.Fatalf("result = %+v, want one failure", r)
			}
			if got := r.Failures[0].Message; got != tt.want {
				t.Errorf("message = %q\nwant        %q", got, tt.want)
			}
		})
	}
}

// TestFailureMessage: reasons from several nodes are counted and sorted as
// kube-scheduler sorts them — the whole "count reason" strings, so counts
// compare as text.
func TestFailureMessage(t *testing.T) {
	tests := []struct {
		total   int
		reasons map[string]int
		want    string
	}{
		{0, nil, "no nodes available to schedule pods"},
		{2, map[string]int{ReasonInsufficientMemory: 2}, "0/2 nodes are available: 2 Insufficient memory."},
		{3, map[string]int{ReasonInsufficientMemory: 2, ReasonNodeSelector: 1},
			"0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient memory."},
		{12, map[string]int{ReasonInsufficientCPU: 10, ReasonUnschedulable: 2},
			"0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable."},
		{3, map[string]int{ReasonInsufficientCPU: 1, ReasonInsufficientMemory: 1, ReasonHostPorts: 1, ReasonNotReady: 1},
			"0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) were not ready."},
	}
	for _, tt := range tests {
		if got := failureMessage(tt.total, tt.reasons); got != tt.want {
			t.Errorf("failureMessage(%d, %v)\n got %q\nwant %q", tt.total, tt.reasons, got, tt.want)
		}
	}
}

// TestMixedFailure: one node per kind of failure; the message counts each
// node once under its first failing filter, both resource shortages of one
// node separately.
func TestMixedFailure(t *testing.T) {
	full := node("full", 1000, gi)
	full.Requested = api.Resources{MilliCPU: 1000, Memory: gi, Pods: 3}
	nodes := []NodeInfo{node("down", 4000, 4*gi), node("cordoned", 4000, 4*gi), node("hdd", 4000, 4*gi), full, node("small", 4000, 256*mi)}
	nodes[0].Ready = false
	nodes[1].Unschedulable = true
	nodes[2].Labels = map[string]string{"disk": "hdd"}
	for i := range nodes {
		if nodes[i].Name != "hdd" {
			nodes[i].Labels = map[string]string{"disk": "ssd"}
		}
	}
	p := pod("default/p", 500, 512*mi)
	p.NodeSelector = map[string]string{"disk": "ssd"}
	r := Place(DefaultConfig(), nodes, []PodInfo{p})
	f, err := failureOf(r, "default/p")
	if err != nil {
		t.Fatal(err)
	}
	const want = "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were not ready, 1 node(s) were unschedulable, 2 Insufficient memory."
	if f.Message != want {
		t.Errorf("message\n got %q\nwant %q", f.Message, want)
	}
	wantReasons := map[string]int{ReasonInsufficientCPU: 1, ReasonInsufficientMemory: 2, ReasonNodeSelector: 1, ReasonNotReady: 1, ReasonUnschedulable: 1}
	if !reflect.DeepEqual(f.Reasons, wantReasons) {
		t.Errorf("reasons = %v, want %v", f.Reasons, wantReasons)
	}
}
