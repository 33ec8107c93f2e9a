package placement

import (
	"fmt"
	"sort"
	"strings"
)

// Binding places the pod named PodKey ("namespace/name") on Node.
type Binding struct {
	PodKey, Node string
}

// Failure is a pod that fits on no node. Message is in kube-scheduler's
// form ("0/3 nodes are available: 1 node(s) were unschedulable, 2
// Insufficient memory.") for the pod's PodScheduled condition and its
// FailedScheduling event; Reasons holds the same counts (reason → number
// of nodes) for callers that want them as data.
type Failure struct {
	PodKey  string
	Message string
	Reasons map[string]int
}

// Result is the outcome of one batch: every pod of the batch is in exactly
// one of the two lists, in batch order.
type Result struct {
	Bindings []Binding
	Failures []Failure
}

// Place decides a node for each pod, in the order given. Each binding is
// charged to its node (resources, host ports, owner) before the next pod is
// considered, so a batch never overcommits a node and two pods of a batch
// never take the same host port. A pod key that appears again later in the
// batch is ignored: a pod is placed at most once.
//
// Place does not modify nodes, pods, or anything they point to, and its
// result depends only on its arguments (not even on the order of nodes).
func Place(cfg Config, nodes []NodeInfo, pods []PodInfo) Result {
	cfg = cfg.withDefaults()
	c := newCluster(nodes)
	want := numFeasibleNodesToFind(cfg, len(c.nodes))
	var res Result
	seen := make(map[string]bool, len(pods))
	for i := range pods {
		p := newPending(&pods[i])
		if seen[p.Key] {
			continue
		}
		seen[p.Key] = true
		d := c.decide(cfg.Strategy, want, &p)
		if d.chosen >= 0 {
			c.nodes[d.chosen].assume(&p)
			res.Bindings = append(res.Bindings, Binding{PodKey: p.Key, Node: c.nodes[d.chosen].Name})
			continue
		}
		reasons := d.reasonCounts()
		res.Failures = append(res.Failures, Failure{
			PodKey:  p.Key,
			Message: failureMessage(len(c.nodes), reasons),
			Reasons: reasons,
		})
	}
	return res
}

// decision is the outcome of one pod's scan.
type decision struct {
	chosen  int // index in cluster.nodes, or -1 when no node is feasible
	score   Score
	start   int // first node index the scan visited
	scanned int // nodes visited, from start, wrapping around
	// failed counts, per reason bit, the visited nodes that failed with it.
	failed [numReasons]int
}

// decide scans the nodes from the pod's start offset, filtering each and
// scoring the feasible ones, until it has found want feasible nodes or
// visited them all, and keeps the best.
func (c *cluster) decide(strategy Strategy, want int, p *pending) decision {
	n := len(c.nodes)
	d := decision{chosen: -1}
	if n == 0 {
		return d
	}
	d.start = scanStart(p, n)
	found := 0
	for i := d.start; d.scanned < n; i++ {
		if i == n {
			i = 0
		}
		d.scanned++
		node := &c.nodes[i]
		if _, r := runFilters(node, p); r != 0 {
			d.count(r)
			continue
		}
		s := score(strategy, node, p)
		if d.chosen < 0 || s.better(node.Name, d.score, c.nodes[d.chosen].Name) {
			d.chosen, d.score = i, s
		}
		if found++; found >= want {
			break
		}
	}
	return d
}

func (d *decision) count(r reasonSet) {
	for b := 0; b < numReasons; b++ {
		if r&(1<<b) != 0 {
			d.failed[b]++
		}
	}
}

func (d *decision) reasonCounts() map[string]int {
	out := make(map[string]int)
	for b, k := range d.failed {
		if k > 0 {
			out[reasonText[b]] = k
		}
	}
	return out
}

// failureMessage formats a failure as kube-scheduler's FitError does: each
// reason prefixed by its node count, the "count reason" strings sorted as
// strings (so "1 node(s) were unschedulable" comes before "2 Insufficient
// memory", and "10 …" before "2 …", exactly as kube-scheduler prints them).
// With no nodes at all it is kube-scheduler's ErrNoNodesAvailable text.
func failureMessage(total int, reasons map[string]int) string {
	if total == 0 {
		return "no nodes available to schedule pods"
	}
	parts := make([]string, 0, len(reasons))
	for r, k := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", k, r))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", total, strings.Join(parts, ", "))
}
