package consensus

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/gossipod/gossipod/api"
)

// ClusterNetwork returns the recorded cluster network, and false before
// the first leader recorded it.
func (s *State) ClusterNetwork() (ClusterNetwork, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.network == nil {
		return ClusterNetwork{}, false
	}
	return *s.network, true
}

func (s *State) setClusterNetwork(p SetClusterNetwork) error {
	n := p.Network
	prefix, err := netip.ParsePrefix(n.ClusterCIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return api.NewBadRequest(fmt.Sprintf("cluster CIDR %q: want an IPv4 network such as 10.88.0.0/16", n.ClusterCIDR))
	}
	if n.NodeCIDRMaskSize <= prefix.Bits() || n.NodeCIDRMaskSize > 30 {
		return api.NewBadRequest(fmt.Sprintf("node CIDR mask size %d: must be longer than the cluster CIDR's /%d and at most /30", n.NodeCIDRMaskSize, prefix.Bits()))
	}
	if n.ServiceCIDR != "" {
		sp, err := netip.ParsePrefix(n.ServiceCIDR)
		if err != nil || !sp.Addr().Is4() || sp.Masked() != sp || sp.Bits() > 28 || sp.Bits() < 12 {
			return api.NewBadRequest(fmt.Sprintf("service CIDR %q: want an IPv4 network from /12 to /28 such as %s", n.ServiceCIDR, api.DefaultServiceCIDR))
		}
		if sp.Overlaps(prefix) {
			return api.NewBadRequest(fmt.Sprintf("service CIDR %s overlaps the cluster CIDR %s", n.ServiceCIDR, n.ClusterCIDR))
		}
	}
	if s.network != nil {
		if *s.network == n {
			return nil
		}
		// A cluster recorded before Services existed gets its service
		// CIDR from the first leader that knows one.
		if old := *s.network; old.ServiceCIDR == "" && n.ServiceCIDR != "" {
			old.ServiceCIDR = n.ServiceCIDR
			if old == n {
				s.network = &n
				return nil
			}
		}
		return api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
			fmt.Sprintf("the cluster network is already %s with /%d per node", s.network.ClusterCIDR, s.network.NodeCIDRMaskSize))
	}
	s.network = &n
	return nil
}

// assignPodCIDRs applies the assignments that are still valid against the
// committed state.
func (s *State) assignPodCIDRs(index uint64, p AssignPodCIDRs) {
	if s.network == nil {
		return
	}
	cluster := netip.MustParsePrefix(s.network.ClusterCIDR)
	taken := map[netip.Prefix]string{}
	for name, n := range s.nodes {
		if c, err := netip.ParsePrefix(n.Spec.PodCIDR); err == nil {
			taken[c] = name
		}
	}
	for _, a := range p.Assignments {
		n, ok := s.nodes[a.Node]
		if !ok || n.Spec.PodCIDR != "" {
			continue
		}
		c, err := netip.ParsePrefix(a.CIDR)
		if err != nil || c.Masked() != c || c.Bits() != s.network.NodeCIDRMaskSize || !cluster.Contains(c.Addr()) {
			continue
		}
		overlap := false
		for t := range taken {
			if t.Overlaps(c) {
				overlap = true
				break
			}
		}
		if overlap {
			continue
		}
		taken[c] = a.Node
		n, _ = s.mutableNode(a.Node)
		n.Spec.PodCIDR = c.String()
		n.Spec.PodCIDRs = []string{c.String()}
		n.ResourceVersion = strconv.FormatUint(index, 10)
		s.emit(index, "Node", WatchModified, n)
	}
}

// FreePodCIDRs returns up to n node CIDRs of the cluster network that no
// node holds, lowest first: what the leader assigns next.
func (s *State) FreePodCIDRs(n int) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.network == nil || n <= 0 {
		return nil
	}
	cluster := netip.MustParsePrefix(s.network.ClusterCIDR)
	taken := map[netip.Prefix]bool{}
	for _, node := range s.nodes {
		if c, err := netip.ParsePrefix(node.Spec.PodCIDR); err == nil {
			taken[c] = true
		}
	}
	var out []string
	size := s.network.NodeCIDRMaskSize
	step := uint64(1) << (32 - size)
	base := cluster.Addr().As4()
	start := uint64(base[0])<<24 | uint64(base[1])<<16 | uint64(base[2])<<8 | uint64(base[3])
	count := uint64(1) << (size - cluster.Bits())
	for i := uint64(0); i < count && len(out) < n; i++ {
		v := start + i*step
		addr := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		p := netip.PrefixFrom(addr, size)
		if !taken[p] {
			out = append(out, p.String())
		}
	}
	return out
}
