package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/placement"
)

// placementBatch bounds how many pending pods one placement round takes,
// so one Raft entry stays a few hundred kilobytes at most.
const placementBatch = 1000

// placementLoop is the leader's scheduler. It is event-driven: a round runs
// whenever the replicated state or gossip changes, never on a timer. Each
// round takes the oldest pending pods, places them with the placement
// package against the committed bindings and the gossiped free resources,
// and commits one BindPods entry; pods that fit nowhere get one
// SetPodsUnschedulable entry, written only when their message changes. A
// new leader starts here with whatever is pending in the log.
func (a *Agent) placementLoop(ctx context.Context) {
	for {
		stateChanged := a.store.State().Changed()
		membersChanged := a.members.Changed()
		more, err := a.placementRound(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("placement round failed; retrying at the next change", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if more {
			continue // a full batch: more pods are waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-stateChanged:
		case <-membersChanged:
		}
	}
}

// placementRound places one batch. It reports whether more pending pods
// remain beyond the batch.
func (a *Agent) placementRound(ctx context.Context) (bool, error) {
	state := a.store.State()
	all, _ := state.Pods(nil)
	var pending []*api.Pod
	bound := map[string][]*api.Pod{}
	for _, p := range all {
		switch {
		case p.Spec.NodeName != "":
			bound[p.Spec.NodeName] = append(bound[p.Spec.NodeName], p)
		case p.DeletionTimestamp == nil && !p.IsTerminal():
			pending = append(pending, p)
		}
	}
	if len(pending) == 0 {
		return false, nil
	}
	// Oldest first, as kube-scheduler's FIFO queue orders equal priorities.
	slices.SortFunc(pending, func(x, y *api.Pod) int {
		if c := x.CreationTimestamp.Compare(y.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
	})
	more := len(pending) > placementBatch
	if more {
		pending = pending[:placementBatch]
	}

	nodes, _ := state.NodeObjects()
	infos := make([]placement.NodeInfo, 0, len(nodes))
	for i := range nodes {
		infos = append(infos, a.nodeInfo(nodes[i], bound[nodes[i].Name]))
	}
	pods := make([]placement.PodInfo, len(pending))
	byKey := make(map[string]*api.Pod, len(pending))
	for i, p := range pending {
		pods[i] = placement.NewPodInfo(p)
		byKey[pods[i].Key] = p
	}
	result := placement.Place(a.cfg.Placement, infos, pods)

	if len(result.Bindings) > 0 {
		bind := consensus.BindPods{Bindings: make([]consensus.PodBinding, 0, len(result.Bindings))}
		for _, b := range result.Bindings {
			p := byKey[b.PodKey]
			bind.Bindings = append(bind.Bindings, consensus.PodBinding{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: b.Node})
		}
		cmd, err := consensus.NewCommand(consensus.CmdBindPods, bind)
		if err != nil {
			return false, err
		}
		res, err := a.store.Commit(ctx, cmd)
		if err != nil {
			return false, err
		}
		var br consensus.BindResult
		if err := json.Unmarshal(res.Response, &br); err != nil {
			return false, fmt.Errorf("decode binding result: %w", err)
		}
		a.log.Debug("placement round", "pending", len(pending), "bound", len(br.Bound), "rejected", len(br.Rejected), "unschedulable", len(result.Failures))
		for _, r := range br.Rejected {
			a.log.Info("binding rejected by the committed state; pod stays queued", "pod", r.Pod, "reason", r.Reason)
		}
	}

	var unschedulable consensus.SetPodsUnschedulable
	for _, f := range result.Failures {
		p := byKey[f.PodKey]
		if c := p.Condition(api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Message == f.Message {
			continue // already says so: write nothing
		}
		unschedulable.Updates = append(unschedulable.Updates, consensus.UnschedulablePod{
			Namespace: p.Namespace, Name: p.Name, UID: p.UID, Message: f.Message,
		})
	}
	if len(unschedulable.Updates) > 0 {
		cmd, err := consensus.NewCommand(consensus.CmdSetPodsUnschedulable, unschedulable)
		if err != nil {
			return false, err
		}
		if _, err := a.store.Commit(ctx, cmd); err != nil {
			return false, err
		}
		for _, u := range unschedulable.Updates {
			a.log.Info("pod is unschedulable", "pod", u.Namespace+"/"+u.Name, "message", u.Message)
		}
	}
	return more, nil
}

// nodeInfo is the leader's view of a node for placement: the committed
// bindings, and the node's own gossiped free resources when those say less
// is free (pods the node still runs but the log no longer binds to it, or
// gossip not yet caught up with a deletion). A node that gossip knows as
// dead or left is not ready, whatever its last committed condition says;
// one that gossip does not know (yet) keeps its committed condition.
func (a *Agent) nodeInfo(n *api.Node, bound []*api.Pod) placement.NodeInfo {
	info := placement.NewNodeInfo(n, bound)
	m, ok := a.members.Get(n.Name)
	if !ok {
		return info
	}
	if m.Status == api.MemberDead || m.Status == api.MemberLeft {
		info.Ready = false
		return info
	}
	if m.MetaOK {
		free := api.Resources{MilliCPU: m.Meta.CPU[1], Memory: m.Meta.Mem[1], Pods: m.Meta.Pods[1]}
		gossipUsed := info.Allocatable.Sub(free)
		info.Requested.MilliCPU = max(info.Requested.MilliCPU, gossipUsed.MilliCPU)
		info.Requested.Memory = max(info.Requested.Memory, gossipUsed.Memory)
		info.Requested.Pods = max(info.Requested.Pods, gossipUsed.Pods)
	}
	return info
}
