// Package placement decides which node each pending pod runs on.
//
// It is the scheduler of gossipod as pure functions: node views and pods go
// in, bindings and reasons come out. There is no I/O, no lock, no clock and
// no randomness, so the leader can call Place on any goroutine, tests can
// check it exhaustively, and the same input always gives the same answer.
//
// A decision is made in three steps, in Nomad's manner:
//
//  1. filter: a chain of cheap-first checks (filters.go) removes the nodes
//     a pod cannot run on and records why, in kube-scheduler's words;
//  2. score: each remaining node gets a score (score.go) — fewest pods of
//     the same owner first, then least-allocated (spread, the default) or
//     most-allocated (binpack), then a deterministic tie-break;
//  3. pick: the best score wins.
//
// For large clusters only part of the nodes are scored (sample.go), as
// kube-scheduler's percentageOfNodesToScore does, but the scan never stops
// before it has found a feasible node: a pod that fits somewhere is placed.
//
// Place works through a batch of pods in order and charges every binding to
// its node before the next pod, so one batch never overcommits a node. A pod
// that fits nowhere gets a Failure whose message has the form users know
// from Kubernetes; Explain gives the per-node verdicts behind it.
package placement
