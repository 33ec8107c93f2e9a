package controllers

import (
	"context"
	"log/slog"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// PodCIDRState is what the pod CIDR allocator reads.
type PodCIDRState interface {
	ClusterNetwork() (consensus.ClusterNetwork, bool)
	NodeObjects() ([]*api.Node, uint64)
	FreePodCIDRs(n int) []string
}

// PodCIDRs is the leader's IPAM for nodes, kube-controller-manager's node
// IPAM controller: it records the cluster network on first use and gives
// every node without a pod CIDR the lowest free one. A node keeps its CIDR
// for as long as its Node object exists (restarts included); deleting the
// node releases it.
//
// Fields are set before the first Reconcile and not changed afterwards;
// Reconcile is called from one goroutine.
type PodCIDRs struct {
	State  PodCIDRState
	Commit Committer
	Log    *slog.Logger
	// Network is what this agent's flags say (--cluster-cidr,
	// --node-cidr-mask-size). The first leader records it; later ones
	// keep the recorded one and warn if theirs differs.
	Network consensus.ClusterNetwork

	// networkWarned and exhaustedWarned keep one-time warnings quiet.
	networkWarned   bool
	exhaustedWarned bool
}

// Reconcile records the cluster network if it is not yet, and assigns pod
// CIDRs to the nodes that have none.
func (c *PodCIDRs) Reconcile(ctx context.Context) {
	recorded, ok := c.State.ClusterNetwork()
	want := c.Network
	// A cluster recorded before Services existed has no service CIDR: the
	// first leader that knows one records it, beside the recorded rest.
	upgrade := ok && recorded.ServiceCIDR == "" && want.ServiceCIDR != ""
	if upgrade {
		want.ClusterCIDR, want.NodeCIDRMaskSize = recorded.ClusterCIDR, recorded.NodeCIDRMaskSize
	}
	if !ok || upgrade {
		if _, err := c.Commit.Commit(ctx, consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{Network: want}); err != nil {
			c.Log.Warn("record the cluster network", "error", err)
			return
		}
		c.Log.Info("recorded the cluster network", "cluster_cidr", want.ClusterCIDR, "node_cidr_mask_size", want.NodeCIDRMaskSize,
			"service_cidr", want.ServiceCIDR)
	} else if recorded != want && !c.networkWarned {
		c.Log.Warn("--cluster-cidr/--node-cidr-mask-size/--service-cidr differ from the cluster's recorded network; the recorded one applies",
			"recorded_cidr", recorded.ClusterCIDR, "recorded_mask", recorded.NodeCIDRMaskSize, "recorded_service_cidr", recorded.ServiceCIDR,
			"flag_cidr", want.ClusterCIDR, "flag_mask", want.NodeCIDRMaskSize, "flag_service_cidr", want.ServiceCIDR)
		c.networkWarned = true
	}
	nodes, _ := c.State.NodeObjects()
	var without []string
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			without = append(without, n.Name)
		}
	}
	if len(without) == 0 {
		return
	}
	free := c.State.FreePodCIDRs(len(without))
	if len(free) < len(without) && !c.exhaustedWarned {
		c.Log.Error("the cluster CIDR has no pod CIDR left for some nodes; their pods get no network", "nodes_without", len(without)-len(free))
		c.exhaustedWarned = true
	}
	var assign consensus.AssignPodCIDRs
	for i, cidr := range free {
		assign.Assignments = append(assign.Assignments, consensus.PodCIDRAssignment{Node: without[i], CIDR: cidr})
	}
	if len(assign.Assignments) == 0 {
		return
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdAssignPodCIDRs, assign); err != nil {
		c.Log.Warn("assign pod CIDRs", "error", err)
		return
	}
	for _, as := range assign.Assignments {
		c.Log.Info("assigned pod CIDR", "node", as.Node, "cidr", as.CIDR)
	}
}
