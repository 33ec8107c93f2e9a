package placement

// NodeVerdict is how one node fared for one pod: the answer to "why is my
// pod Pending?" and "why did it go there?" that `describe` shows.
type NodeVerdict struct {
	Node string
	// Feasible is true when the node passed every filter.
	Feasible bool
	// Filter names the first filter the node failed (NodeReady,
	// NodeUnschedulable, TaintToleration, NodeSelector, NodeResourcesFit,
	// NodePorts), or ""
	// when feasible; Reasons are that filter's reasons, as in Failure.
	Filter  string
	Reasons []string
	// Score is the node's rank for the pod; set only when feasible.
	Score Score
	// Considered is true when Place's scan for this pod reaches the node.
	// On large clusters a feasible node may go unconsidered (sampling).
	Considered bool
	// Chosen marks the node Place would bind the pod to.
	Chosen bool
}

// Explain runs every filter and score for one pod on every node, ordered
// by node name, and marks the node Place would choose for the pod were it
// alone in its batch. It is Place's own logic, not a re-implementation, so
// the explanation cannot drift from the decision.
func Explain(cfg Config, nodes []NodeInfo, pod PodInfo) []NodeVerdict {
	cfg = cfg.withDefaults()
	c := newCluster(nodes)
	p := newPending(&pod)
	n := len(c.nodes)
	d := c.decide(cfg.Strategy, numFeasibleNodesToFind(cfg, n), &p)
	out := make([]NodeVerdict, n)
	for i := range c.nodes {
		node := &c.nodes[i]
		v := NodeVerdict{
			Node:       node.Name,
			Considered: (i-d.start+n)%n < d.scanned,
			Chosen:     i == d.chosen,
		}
		if f, r := runFilters(node, &p); r != 0 {
			v.Filter, v.Reasons = filterChain[f].name, r.strings()
		} else {
			v.Feasible = true
			v.Score = score(cfg.Strategy, node, &p)
		}
		out[i] = v
	}
	return out
}
