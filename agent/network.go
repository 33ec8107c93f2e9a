package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/gossipod/gossipod/consensus"
)

// reconcilePodCIDRs is the leader's IPAM for nodes: it records the cluster
// network on first use and gives every node without a pod CIDR the lowest
// free one. A node keeps its CIDR for as long as its Node object exists
// (restarts included); deleting the node releases it.
func (a *Agent) reconcilePodCIDRs(ctx context.Context, up *upkeep) {
	state := a.store.State()
	recorded, ok := state.ClusterNetwork()
	want := consensus.ClusterNetwork{ClusterCIDR: a.cfg.ClusterCIDR, NodeCIDRMaskSize: a.cfg.NodeCIDRMaskSize}
	if !ok {
		if err := a.commitPayload(ctx, consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{Network: want}); err != nil {
			a.log.Warn("record the cluster network", "error", err)
			return
		}
		a.log.Info("recorded the cluster network", "cluster_cidr", want.ClusterCIDR, "node_cidr_mask_size", want.NodeCIDRMaskSize)
	} else if recorded != want && !up.networkWarned {
		a.log.Warn("--cluster-cidr/--node-cidr-mask-size differ from the cluster's recorded network; the recorded one applies",
			"recorded_cidr", recorded.ClusterCIDR, "recorded_mask", recorded.NodeCIDRMaskSize,
			"flag_cidr", want.ClusterCIDR, "flag_mask", want.NodeCIDRMaskSize)
		up.networkWarned = true
	}
	nodes, _ := state.NodeObjects()
	var without []string
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			without = append(without, n.Name)
		}
	}
	if len(without) == 0 {
		return
	}
	free := state.FreePodCIDRs(len(without))
	if len(free) < len(without) && !up.cidrsExhaustedWarned {
		a.log.Error("the cluster CIDR has no pod CIDR left for some nodes; their pods get no network", "nodes_without", len(without)-len(free))
		up.cidrsExhaustedWarned = true
	}
	var assign consensus.AssignPodCIDRs
	for i, cidr := range free {
		assign.Assignments = append(assign.Assignments, consensus.PodCIDRAssignment{Node: without[i], CIDR: cidr})
	}
	if len(assign.Assignments) == 0 {
		return
	}
	if err := a.commitPayload(ctx, consensus.CmdAssignPodCIDRs, assign); err != nil {
		a.log.Warn("assign pod CIDRs", "error", err)
		return
	}
	for _, as := range assign.Assignments {
		a.log.Info("assigned pod CIDR", "node", as.Node, "cidr", as.CIDR)
	}
}

// validateClusterNetwork checks --cluster-cidr and --node-cidr-mask-size.
func validateClusterNetwork(cidr string, mask int) error {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return fmt.Errorf("--cluster-cidr %q: want an IPv4 network such as 10.88.0.0/16", cidr)
	}
	if mask <= prefix.Bits() || mask > 30 {
		return fmt.Errorf("--node-cidr-mask-size %d: must be longer than --cluster-cidr's /%d and at most 30", mask, prefix.Bits())
	}
	return nil
}
