package placement

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// The property test checks Place against a brute-force oracle written
// independently of filters.go, on several hundred random clusters and
// batches, with random sampling settings so that small clusters also take
// the sampled path.

var (
	propLabels = []map[string]string{nil, {"zone": "a"}, {"zone": "b"}, {"zone": "a", "disk": "ssd"}, {"disk": "ssd"}}
	propPorts  = []api.HostPort{{Protocol: api.ProtocolTCP, Port: 80}, {Protocol: api.ProtocolTCP, Port: 443}, {Protocol: api.ProtocolUDP, Port: 80}}
	propOwners = []types.UID{"", "", "rs-a", "rs-b"}
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 3)) }

func randomNodes(rng *rand.Rand) []NodeInfo {
	nodes := make([]NodeInfo, rng.IntN(14))
	for i := range nodes {
		n := NodeInfo{
			Name:          fmt.Sprintf("node-%02d", rng.IntN(100)*100+i), // unique, random order
			Labels:        propLabels[rng.IntN(len(propLabels))],
			Ready:         rng.IntN(10) != 0,
			Unschedulable: rng.IntN(10) == 0,
			Allocatable: api.Resources{
				MilliCPU: int64(rng.IntN(9)) * 500,
				Memory:   int64(rng.IntN(17)) * 256 * mi,
				Pods:     int64(rng.IntN(8)),
			},
		}
		// Mostly within allocatable, often empty; sometimes over (a node
		// whose offer shrank).
		if rng.IntN(3) != 0 {
			n.Requested = api.Resources{
				MilliCPU: rng.Int64N(n.Allocatable.MilliCPU + 1),
				Memory:   rng.Int64N(n.Allocatable.Memory + 1),
				Pods:     rng.Int64N(n.Allocatable.Pods + 1),
			}
		}
		if rng.IntN(20) == 0 {
			n.Requested.Memory += gi
		}
		for _, hp := range propPorts {
			if rng.IntN(5) == 0 {
				if n.HostPorts == nil {
					n.HostPorts = map[api.HostPort]bool{}
				}
				n.HostPorts[hp] = true
			}
		}
		for _, o := range propOwners[2:] {
			if k := rng.IntN(4); k > 0 {
				if n.OwnerPods == nil {
					n.OwnerPods = map[types.UID]int{}
				}
				n.OwnerPods[o] = k
			}
		}
		nodes[i] = n
	}
	return nodes
}

func randomPods(rng *rand.Rand) []PodInfo {
	pods := make([]PodInfo, rng.IntN(16))
	for i := range pods {
		p := PodInfo{
			Key:      fmt.Sprintf("ns/p%d", i),
			Request:  api.Resources{MilliCPU: int64(rng.IntN(5)) * 250, Memory: int64(rng.IntN(7)) * 256 * mi, Pods: 1},
			OwnerUID: propOwners[rng.IntN(len(propOwners))],
		}
		if rng.IntN(3) == 0 {
			p.NodeSelector = propLabels[1+rng.IntN(len(propLabels)-1)]
		}
		for _, hp := range propPorts {
			if rng.IntN(6) == 0 {
				p.HostPorts = append(p.HostPorts, hp)
			}
		}
		if i > 0 && rng.IntN(15) == 0 {
			p.Key = pods[rng.IntN(i)].Key // a duplicate key
		}
		pods[i] = p
	}
	return pods
}

func randomConfig(rng *rand.Rand) Config {
	cfg := DefaultConfig()
	cfg.Strategy = []Strategy{StrategySpread, StrategyBinpack}[rng.IntN(2)]
	if rng.IntN(2) == 0 { // sample hard: a window of a node or two
		cfg.PercentageOfNodesToScore = 1 + rng.IntN(30)
		cfg.MinFeasibleNodesToFind = 1 + rng.IntN(3)
	}
	return cfg
}

// oracleNode is the test's own model of a node during the batch.
type oracleNode struct {
	info      NodeInfo
	requested api.Resources
	ports     map[api.HostPort]bool
	owners    map[types.UID]int
}

// oracleFits is feasibility written out from the spec, not from filters.go.
func oracleFits(n *oracleNode, p PodInfo) bool {
	if !n.info.Ready || n.info.Unschedulable {
		return false
	}
	for k, v := range p.NodeSelector {
		if n.info.Labels[k] != v {
			return false
		}
		if _, ok := n.info.Labels[k]; !ok {
			return false
		}
	}
	after := n.requested.Add(api.Resources{MilliCPU: p.Request.MilliCPU, Memory: p.Request.Memory, Pods: 1})
	if after.MilliCPU > n.info.Allocatable.MilliCPU || after.Memory > n.info.Allocatable.Memory || after.Pods > n.info.Allocatable.Pods {
		return false
	}
	for _, hp := range p.HostPorts {
		if n.ports[hp] {
			return false
		}
	}
	return true
}

func TestPlaceProperties(t *testing.T) {
	const cases = 600
	rng := newRand(20240601)
	var bound, failed, sampled int // the random cases must exercise every path
	defer func() {
		t.Logf("%d cases: %d pods bound, %d failed, %d cases sampled", cases, bound, failed, sampled)
		if bound < cases || failed < cases/2 || sampled < cases/4 {
			t.Errorf("random cases too tame: %d bound, %d failed, %d sampled", bound, failed, sampled)
		}
	}()
	for c := range cases {
		nodes, pods, cfg := randomNodes(rng), randomPods(rng), randomConfig(rng)
		nodesBefore, podsBefore := cloneNodes(nodes), clonePods(pods)
		r := Place(cfg, nodes, pods)
		bound, failed = bound+len(r.Bindings), failed+len(r.Failures)
		if numFeasibleNodesToFind(cfg.withDefaults(), len(nodes)) < len(nodes) {
			sampled++
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d (cfg %+v):\nnodes %+v\npods %+v\nresult %+v\n"+format,
				append([]any{c, cfg, nodes, pods, r}, args...)...)
		}

		// Inputs unmodified.
		if !reflect.DeepEqual(nodes, nodesBefore) {
			fail("nodes were modified")
		}
		if !reflect.DeepEqual(pods, podsBefore) {
			fail("pods were modified")
		}

		// Determinism, also under a different order of nodes.
		if again := Place(cfg, nodes, pods); !reflect.DeepEqual(again, r) {
			fail("second run differs: %+v", again)
		}
		shuffled := slices.Clone(nodes)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := Place(cfg, shuffled, pods); !reflect.DeepEqual(again, r) {
			fail("node order changed the result: %+v", again)
		}

		// Replay the batch against the oracle: each unique pod is exactly
		// once in the result, in order; a bound pod fitted its node given
		// the bindings before it; a failed pod fitted no node, and its
		// reasons cover every node.
		state := map[string]*oracleNode{}
		for _, n := range nodes {
			state[n.Name] = &oracleNode{info: n, requested: n.Requested, ports: map[api.HostPort]bool{}, owners: map[types.UID]int{}}
			for hp := range n.HostPorts {
				state[n.Name].ports[hp] = true
			}
		}
		seen := map[string]bool{}
		bi, fi := 0, 0
		for _, p := range pods {
			if seen[p.Key] {
				continue
			}
			seen[p.Key] = true
			var feasible []string
			for _, n := range nodes {
				if oracleFits(state[n.Name], p) {
					feasible = append(feasible, n.Name)
				}
			}
			switch {
			case bi < len(r.Bindings) && r.Bindings[bi].PodKey == p.Key:
				b := r.Bindings[bi]
				bi++
				n, ok := state[b.Node]
				if !ok {
					fail("%s bound to unknown node %q", p.Key, b.Node)
				}
				if !oracleFits(n, p) {
					fail("%s bound to %s where it does not fit", p.Key, b.Node)
				}
				if p.OwnerUID != "" && (cfg.PercentageOfNodesToScore == 0 || len(nodes) <= cfg.MinFeasibleNodesToFind) {
					// Whole scan: no feasible node has fewer pods of the owner.
					mine := n.info.OwnerPods[p.OwnerUID] + n.owners[p.OwnerUID]
					for _, f := range feasible {
						if o := state[f]; o.info.OwnerPods[p.OwnerUID]+o.owners[p.OwnerUID] < mine {
							fail("%s on %s with %d of its owner; %s has fewer", p.Key, b.Node, mine, f)
						}
					}
				}
				n.requested = n.requested.Add(api.Resources{MilliCPU: p.Request.MilliCPU, Memory: p.Request.Memory, Pods: 1})
				for _, hp := range p.HostPorts {
					n.ports[hp] = true
				}
				if p.OwnerUID != "" {
					n.owners[p.OwnerUID]++
				}
			case fi < len(r.Failures) && r.Failures[fi].PodKey == p.Key:
				f := r.Failures[fi]
				fi++
				if len(feasible) > 0 {
					fail("%s failed but fits on %v", p.Key, feasible)
				}
				total := 0
				for _, k := range f.Reasons {
					total += k
				}
				if total < len(nodes) || (len(nodes) > 0 && f.Message != failureMessage(len(nodes), f.Reasons)) {
					fail("%s: reasons %v do not cover %d nodes, or message %q", p.Key, f.Reasons, len(nodes), f.Message)
				}
			default:
				fail("%s is neither the next binding nor the next failure", p.Key)
			}
		}
		if bi != len(r.Bindings) || fi != len(r.Failures) {
			fail("result has entries for pods not in the batch, or twice")
		}

		// No node ends over its allocatable because of a binding,
		// recomputed from the bindings alone.
		added := map[string]api.Resources{}
		ports := map[string]map[api.HostPort]bool{}
		byKey := map[string]PodInfo{}
		for _, p := range pods {
			if _, ok := byKey[p.Key]; !ok {
				byKey[p.Key] = p
			}
		}
		for _, b := range r.Bindings {
			p := byKey[b.PodKey]
			added[b.Node] = added[b.Node].Add(api.Resources{MilliCPU: p.Request.MilliCPU, Memory: p.Request.Memory, Pods: 1})
			for _, hp := range p.HostPorts {
				if ports[b.Node][hp] {
					fail("host port %v given twice on %s", hp, b.Node)
				}
				if ports[b.Node] == nil {
					ports[b.Node] = map[api.HostPort]bool{}
				}
				ports[b.Node][hp] = true
			}
		}
		for _, n := range nodes {
			if a, ok := added[n.Name]; ok && !n.Allocatable.Fits(n.Requested.Add(a)) {
				fail("%s overcommitted: allocatable %+v, requested %+v + bound %+v", n.Name, n.Allocatable, n.Requested, a)
			}
		}
	}
}
