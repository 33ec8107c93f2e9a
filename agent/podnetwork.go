package agent

import (
	"net/netip"
	"slices"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/network"
)

// NodeNetwork is what the agent needs of the node's pod network
// (runtime/network.Manager): this node's pod CIDR, and host-gw routes to
// every other node's.
type NodeNetwork interface {
	SetPodCIDR(cidr string) error
	SyncRoutes(routes []network.Route) error
	// Gateway is the pods' gateway on this node once its pod CIDR is set:
	// where the node's cluster DNS server listens.
	Gateway() (netip.Addr, bool)
}

// networkSync remembers what was last handed to the network, so a state
// change that does not touch nodes costs nothing.
type networkSync struct {
	podCIDR string
	routes  []network.Route
}

// syncNetwork gives the node network this node's pod CIDR once the leader
// assigned it, and routes to the pod CIDRs of all other nodes via their
// addresses, learned from the replicated state as nodes come and go.
func (a *Agent) syncNetwork(last *networkSync) {
	if a.cfg.Network == nil {
		return
	}
	nodes, _ := a.store.State().NodeObjects()
	var routes []network.Route
	for _, n := range nodes {
		if n.Name == a.cfg.NodeName {
			if n.Spec.PodCIDR != "" && n.Spec.PodCIDR != last.podCIDR {
				if err := a.cfg.Network.SetPodCIDR(n.Spec.PodCIDR); err != nil {
					a.log.Error("set this node's pod CIDR", "cidr", n.Spec.PodCIDR, "error", err)
				} else {
					a.log.Info("pod network ready", "pod_cidr", n.Spec.PodCIDR)
					last.podCIDR = n.Spec.PodCIDR
				}
			}
			continue
		}
		if ip := api.NodeInternalIPOf(n); n.Spec.PodCIDR != "" && ip != "" {
			routes = append(routes, network.Route{PodCIDR: n.Spec.PodCIDR, NodeIP: ip})
		}
	}
	if slices.Equal(routes, last.routes) {
		return
	}
	if err := a.cfg.Network.SyncRoutes(routes); err != nil {
		a.log.Error("sync routes to other nodes' pods", "error", err)
		return
	}
	a.log.Info("routes to other nodes' pods updated", "routes", len(routes))
	last.routes = routes
}
