package placement

import (
	"math/bits"

	"github.com/gossipod/gossipod/api"
)

// MaxResourceScore is the resource score of the best possible node: an empty
// one under spread, a full one under binpack. Scores are integers in parts
// per million so that ranking involves no floating point and is exactly the
// same on every machine.
const MaxResourceScore = 1_000_000

// Score ranks a feasible node for a pod. Nodes compare field by field, in
// order; the first field that differs decides:
//
//  1. OwnerPods, fewer wins: pods of one controller (a Deployment's
//     replicas) go to different nodes first, so losing one node loses as
//     few replicas as possible. It outranks resources, under binpack too
//     (kube-scheduler likewise weighs its default topology spread 2 to its
//     fit score's 1). It only ever ranks nodes that passed the filters, so
//     it never chooses a node without room.
//  2. Resource, higher wins: the strategy's share of free (spread) or used
//     (binpack) cpu and memory after placing the pod; see resourceScore.
//  3. TieBreak, lower wins: a hash of the pod key and the node name. Equal
//     nodes are thus chosen in a different order for every pod instead of
//     always filling the first by name, yet the same input always picks the
//     same node. The node name breaks a (vanishingly unlikely) hash tie.
type Score struct {
	OwnerPods int
	Resource  int64
	TieBreak  uint64
}

// better reports whether s (of node named a) ranks above o (of node b).
func (s Score) better(a string, o Score, b string) bool {
	if s.OwnerPods != o.OwnerPods {
		return s.OwnerPods < o.OwnerPods
	}
	if s.Resource != o.Resource {
		return s.Resource > o.Resource
	}
	if s.TieBreak != o.TieBreak {
		return s.TieBreak < o.TieBreak
	}
	return a < b
}

// score rates a feasible node for the pod.
func score(strategy Strategy, n *nodeState, p *pending) Score {
	s := Score{
		Resource: resourceScore(strategy, n.Allocatable, n.Requested.Add(p.req)),
		TieBreak: p.tieBreak(n.Name),
	}
	if p.OwnerUID != "" {
		s.OwnerPods = n.OwnerPods[p.OwnerUID]
	}
	return s
}

// resourceScore is the mean over cpu and memory of the node's free share
// after placing the pod (spread: kube-scheduler's LeastAllocated) or of its
// used share (binpack: MostAllocated). Pod slots are not scored, as in
// kube-scheduler. A resource the node has none of scores 0.
//
// Best-effort pods (no requests) do not change a node's score, so on their
// own they follow the least-allocated node; owner spread and the tie-break
// are what spread them. (kube-scheduler counts them as 100m/200Mi for
// scoring; NodeInfo has no field for that yet.)
func resourceScore(strategy Strategy, alloc, after api.Resources) int64 {
	var cpu, mem int64
	if strategy == StrategyBinpack {
		cpu = share(after.MilliCPU, alloc.MilliCPU)
		mem = share(after.Memory, alloc.Memory)
	} else {
		cpu = share(alloc.MilliCPU-after.MilliCPU, alloc.MilliCPU)
		mem = share(alloc.Memory-after.Memory, alloc.Memory)
	}
	return (cpu + mem) / 2
}

// share is part/whole in parts per million, clamped to [0, MaxResourceScore],
// computed in 128 bits so that memory in bytes cannot overflow.
func share(part, whole int64) int64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	if part >= whole {
		return MaxResourceScore
	}
	hi, lo := bits.Mul64(uint64(part), MaxResourceScore)
	q, _ := bits.Div64(hi, lo, uint64(whole)) // hi < whole since part < whole
	return int64(q)
}
