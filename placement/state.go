package placement

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// nodeState is one node as the current batch has changed it: a copy of the
// caller's NodeInfo whose maps stay the caller's until the first binding to
// the node clones them (copy on write), so Place never writes to its input
// and pays for copies only on the nodes it actually uses.
type nodeState struct {
	NodeInfo
	owned bool // HostPorts and OwnerPods are our copies
}

// cluster is the batch's working view of all nodes, ordered by name so the
// outcome does not depend on the order the caller listed them in.
type cluster struct {
	nodes []nodeState
}

func newCluster(in []NodeInfo) cluster {
	nodes := make([]nodeState, len(in))
	for i := range in {
		nodes[i].NodeInfo = in[i]
	}
	slices.SortStableFunc(nodes, func(a, b nodeState) int { return strings.Compare(a.Name, b.Name) })
	return cluster{nodes: nodes}
}

// assume charges a placed pod to the node, so the next pod of the batch
// sees its resources, host ports and owner as taken.
func (n *nodeState) assume(p *pending) {
	n.Requested = n.Requested.Add(p.req)
	if len(p.HostPorts) == 0 && p.OwnerUID == "" {
		return
	}
	if !n.owned {
		n.HostPorts = maps.Clone(n.HostPorts)
		n.OwnerPods = maps.Clone(n.OwnerPods)
		n.owned = true
	}
	for _, hp := range p.HostPorts {
		if n.HostPorts == nil {
			n.HostPorts = make(map[api.HostPort]bool)
		}
		n.HostPorts[hp] = true
	}
	if p.OwnerUID != "" {
		if n.OwnerPods == nil {
			n.OwnerPods = make(map[types.UID]int)
		}
		n.OwnerPods[p.OwnerUID]++
	}
}

// pending is a pod being placed, with what every node visit needs computed
// once: its request with exactly one pod slot, and the hash of its key
// (which picks its scan offset and seeds its tie-break).
type pending struct {
	*PodInfo
	req     api.Resources
	keyHash uint64
}

func newPending(p *PodInfo) pending {
	req := p.Request
	req.Pods = 1
	return pending{PodInfo: p, req: req, keyHash: hashString(fnvOffset, p.Key)}
}

// tieBreak is the pod's tie-break value for a node: FNV-1a of the pod key,
// a separator and the node name, finished with SplitMix64's mixer because
// node names often differ only in their last characters, which FNV alone
// leaves in the low bits.
func (p *pending) tieBreak(node string) uint64 {
	h := hashString(hashString(p.keyHash, "\x00"), node)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// FNV-1a, 64 bit, written out so hashing a node name allocates nothing.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashString continues the FNV-1a hash h over s.
func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}
