package placement

import (
	"fmt"
	"testing"
)

// TestNumFeasibleNodesToFind follows kube-scheduler's numbers.
func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		pct, min, nodes, want int
	}{
		{0, 0, 0, 0},
		{0, 0, 50, 50},       // below the minimum: every node
		{0, 0, 100, 100},     // 49% of 100 is 49 < 100: the minimum
		{0, 0, 1000, 420},    // 50 - 8 = 42%
		{0, 0, 1500, 570},    // 50 - 12 = 38%
		{0, 0, 5000, 500},    // 50 - 40 = 10%
		{0, 0, 10000, 500},   // 50 - 80 < 5: 5%
		{0, 0, 100000, 5000}, // 5%
		{10, 0, 200, 100},    // 10% = 20 < the minimum
		{10, 0, 5000, 500},
		{100, 0, 5000, 5000},
		{0, 10, 50, 25}, // 50% of 50
		{1, 1, 50, 1},
		{0, 1000, 5000, 1000},
	}
	for _, tt := range tests {
		cfg := Config{PercentageOfNodesToScore: tt.pct, MinFeasibleNodesToFind: tt.min}.withDefaults()
		if got := numFeasibleNodesToFind(cfg, tt.nodes); got != tt.want {
			t.Errorf("pct %d, min %d, %d nodes: %d, want %d", tt.pct, tt.min, tt.nodes, got, tt.want)
		}
	}
}

// manyNodes is n ready nodes of which only the one named fits a 1Gi pod.
func manyNodes(n int, fits string) []NodeInfo {
	nodes := make([]NodeInfo, n)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%05d", i), 4000, 512*mi)
		if nodes[i].Name == fits {
			nodes[i].Allocatable.Memory = gi + 512*mi
		}
	}
	return nodes
}

// TestSamplingKeepsFeasibility: with 5,000 nodes of which one fits, every
// pod is placed on it, wherever it is and wherever the pod's scan starts.
func TestSamplingKeepsFeasibility(t *testing.T) {
	for _, fits := range []string{"node-00000", "node-01234", "node-02500", "node-04999"} {
		nodes := manyNodes(5000, fits)
		for i := range 8 {
			key := fmt.Sprintf("default/p%d", i)
			r := Place(DefaultConfig(), nodes, []PodInfo{pod(key, 100, gi)})
			if len(r.Bindings) != 1 || r.Bindings[0].Node != fits {
				t.Fatalf("%s with %s the only fit: %+v", key, fits, r)
			}
		}
		// A batch: the first fills the node, the second fails, with all
		// 5,000 nodes accounted for in its message.
		r := Place(DefaultConfig(), nodes, []PodInfo{pod("d/a", 100, gi), pod("d/b", 100, gi), pod("d/c", 100, gi)})
		if got := bindingsOf(r); got["d/a"] != fits || got["d/b"] != "" {
			t.Fatalf("batch: %v", got)
		}
		if f, _ := failureOf(r, "d/c"); f.Message != "0/5000 nodes are available: 5000 Insufficient memory." {
			t.Fatalf("message = %q", f.Message)
		}
	}
}

// TestSamplingWindow: on 5,000 nodes that all fit, a pod's scan stops after
// 500 feasible nodes (10%), and different pods start in different places.
func TestSamplingWindow(t *testing.T) {
	nodes := make([]NodeInfo, 5000)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("node-%05d", i), 4000, 4*gi)
	}
	firsts := map[string]bool{}
	for i := range 10 {
		v := Explain(DefaultConfig(), nodes, pod(fmt.Sprintf("default/p%d", i), 100, mi))
		considered, chosen := 0, 0
		first := ""
		for j, nv := range v {
			if nv.Considered {
				considered++
				if j == 0 || !v[j-1].Considered {
					first = nv.Node
				}
			}
			if nv.Chosen {
				chosen++
				if !nv.Considered || !nv.Feasible {
					t.Errorf("chose %s outside the window or infeasible", nv.Node)
				}
			}
		}
		if considered != 500 || chosen != 1 {
			t.Errorf("p%d: %d considered, %d chosen; want 500 and 1", i, considered, chosen)
		}
		firsts[first] = true
	}
	if len(firsts) < 5 {
		t.Errorf("ten pods started their scans at only %v", firsts)
	}
	// Scoring every node: all considered.
	v := Explain(Config{PercentageOfNodesToScore: 100}, nodes, pod("default/p", 100, mi))
	for _, nv := range v {
		if !nv.Considered {
			t.Fatalf("%s not considered with PercentageOfNodesToScore=100", nv.Node)
		}
	}
}
