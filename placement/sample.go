package placement

// Sampling. Filtering and scoring every node for every pod costs
// O(nodes × pods); past a few hundred nodes the best of a large enough
// sample is nearly as good as the best of all. kube-scheduler stops its
// feasibility scan once it has found numFeasibleNodesToFind nodes
// (percentageOfNodesToScore) and starts the next pod's scan where the last
// one stopped; Nomad ranks only log2(N) feasible candidates (its
// LimitIterator). We follow kube-scheduler's formula, whose window is the
// wider one (500 of 5,000 nodes rather than 13): our filters and scores are
// a few integer operations, so the wider window costs little and spreads
// better. Setting MinFeasibleNodesToFind and PercentageOfNodesToScore low
// gets close to Nomad's behaviour.
//
// Two rules keep sampling safe:
//   - the scan only stops after finding enough *feasible* nodes, so when the
//     sample holds none it goes on through every node: a pod that fits
//     somewhere is always placed;
//   - the scan starts at an offset derived from the pod key's hash, not at
//     node 0, so pods look at different parts of the cluster and load
//     spreads; the offset depends only on the key and the node count, so a
//     pod's window is the same in Place and in Explain.

// numFeasibleNodesToFind is how many feasible nodes to find before the scan
// may stop, for a cluster of n nodes (kube-scheduler's function of the same
// name).
func numFeasibleNodesToFind(cfg Config, n int) int {
	if n < cfg.MinFeasibleNodesToFind {
		return n
	}
	pct := cfg.PercentageOfNodesToScore
	if pct == 0 {
		pct = max(50-n/125, minAdaptivePercentage)
	}
	if pct >= 100 {
		return n
	}
	return max(n*pct/100, cfg.MinFeasibleNodesToFind)
}

// scanStart is the index of the first node the pod's scan visits.
func scanStart(p *pending, n int) int {
	return int(p.keyHash % uint64(n))
}
