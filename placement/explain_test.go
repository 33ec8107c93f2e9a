package placement

import (
	"reflect"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// TestExplain: every node gets a verdict, in name order, with the failing
// filter and reasons or a score, and the chosen node is Place's choice.
func TestExplain(t *testing.T) {
	full := node("c-full", 1000, gi)
	full.Requested = api.Resources{MilliCPU: 900, Memory: gi, Pods: 1}
	down := node("a-down", 4000, 4*gi)
	down.Ready = false
	half := node("d-half", 4000, 4*gi)
	half.Requested = api.Resources{MilliCPU: 2000, Memory: 2 * gi, Pods: 1}
	nodes := []NodeInfo{full, half, down, node("b-idle", 4000, 4*gi)}
	p := pod("default/p", 500, 512*mi)

	v := Explain(DefaultConfig(), nodes, p)
	want := []NodeVerdict{
		{Node: "a-down", Filter: "NodeReady", Reasons: []string{ReasonNotReady}, Considered: true},
		{Node: "b-idle", Feasible: true, Considered: true, Chosen: true},
		{Node: "c-full", Filter: "NodeResourcesFit", Reasons: []string{ReasonInsufficientCPU, ReasonInsufficientMemory}, Considered: true},
		{Node: "d-half", Feasible: true, Considered: true},
	}
	for i := range v {
		v[i].Score.TieBreak = 0 // a hash; checked by TestTieBreak
	}
	want[1].Score = Score{Resource: (875_000 + 875_000) / 2}
	want[3].Score = Score{Resource: (375_000 + 375_000) / 2}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("verdicts\n got %+v\nwant %+v", v, want)
	}
	if r := Place(DefaultConfig(), nodes, []PodInfo{p}); r.Bindings[0].Node != "b-idle" {
		t.Fatalf("Place chose %s, Explain b-idle", r.Bindings[0].Node)
	}
}

// TestExplainAgreesWithPlace on random clusters: the chosen node is the one
// Place binds a lone pod to, and a pod with no chosen node fails.
func TestExplainAgreesWithPlace(t *testing.T) {
	rng := newRand(7)
	for range 300 {
		nodes, pods, cfg := randomNodes(rng), randomPods(rng), randomConfig(rng)
		for _, p := range pods {
			r := Place(cfg, nodes, []PodInfo{p})
			chosen := ""
			for _, v := range Explain(cfg, nodes, p) {
				if v.Chosen {
					chosen = v.Node
				}
				if v.Feasible == (v.Filter != "") || v.Feasible == (len(v.Reasons) > 0) {
					t.Fatalf("inconsistent verdict %+v", v)
				}
			}
			got := ""
			if len(r.Bindings) == 1 {
				got = r.Bindings[0].Node
			}
			if got != chosen {
				t.Fatalf("Place bound %s to %q, Explain chose %q", p.Key, got, chosen)
			}
		}
	}
}
