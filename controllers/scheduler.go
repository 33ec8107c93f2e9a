package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/placement"
)

// placementBatch bounds how many pending pods one placement round takes,
// so one Raft entry stays a few hundred kilobytes at most.
const placementBatch = 1000

// SchedulerState is what the scheduler reads of the committed state.
type SchedulerState interface {
	NodeObjects() ([]*api.Node, uint64)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
	Changed() <-chan struct{}
}

// Gossip is what the scheduler learns from gossip beside the committed
// state: which nodes are gone, and what each node itself says is free.
type Gossip interface {
	Liveness
	// Free returns the resources the node last gossiped as free, or ok
	// false when it has gossiped none.
	Free(node string) (free api.Resources, ok bool)
	// Changed returns a channel closed at the next change of gossip.
	Changed() <-chan struct{}
}

// Scheduler is the leader's scheduler. It is event-driven: a round runs
// whenever the replicated state or gossip changes, never on a timer. Each
// round takes the oldest pending pods, places them with the placement
// package against the committed bindings and the gossiped free resources,
// and commits one BindPods entry; pods that fit nowhere get one
// SetPodsUnschedulable entry, written only when their message changes. A
// new leader starts here with whatever is pending in the log.
//
// Fields are set before Run and not changed afterwards.
type Scheduler struct {
	State  SchedulerState
	Gossip Gossip
	Commit Committer
	Log    *slog.Logger
	Config placement.Config
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	for {
		stateChanged := s.State.Changed()
		gossipChanged := s.Gossip.Changed()
		more, err := s.Round(ctx)
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("placement round failed; retrying at the next change", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(errorRetry):
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
		case <-gossipChanged:
		}
	}
}

// Round places one batch. It reports whether more pending pods remain
// beyond the batch.
func (s *Scheduler) Round(ctx context.Context) (bool, error) {
	all, _ := s.State.Pods(nil)
	var pending []*api.Pod
	bound := map[string][]*api.Pod{}
	for _, p := range all {
		switch {
		case p.Spec.NodeName != "":
			bound[p.Spec.NodeName] = append(bound[p.Spec.NodeName], p)
		case p.DeletionTimestamp == nil && !api.IsTerminal(p):
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

	nodes, _ := s.State.NodeObjects()
	infos := make([]placement.NodeInfo, 0, len(nodes))
	for i := range nodes {
		infos = append(infos, s.nodeInfo(nodes[i], bound[nodes[i].Name]))
	}
	pods := make([]placement.PodInfo, len(pending))
	byKey := make(map[string]*api.Pod, len(pending))
	for i, p := range pending {
		pods[i] = placement.NewPodInfo(p)
		byKey[pods[i].Key] = p
	}
	result := placement.Place(s.Config, infos, pods)

	if len(result.Bindings) > 0 {
		bind := consensus.BindPods{Bindings: make([]consensus.PodBinding, 0, len(result.Bindings))}
		for _, b := range result.Bindings {
			p := byKey[b.PodKey]
			bind.Bindings = append(bind.Bindings, consensus.PodBinding{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: b.Node})
		}
		resp, err := s.Commit.Commit(ctx, consensus.CmdBindPods, bind)
		if err != nil {
			return false, err
		}
		var br consensus.BindResult
		if err := json.Unmarshal(resp, &br); err != nil {
			return false, fmt.Errorf("decode binding result: %w", err)
		}
		s.Log.Debug("placement round", "pending", len(pending), "bound", len(br.Bound), "rejected", len(br.Rejected), "unschedulable", len(result.Failures))
		for _, r := range br.Rejected {
			s.Log.Info("binding rejected by the committed state; pod stays queued", "pod", r.Pod, "reason", r.Reason)
		}
	}

	var unschedulable consensus.SetPodsUnschedulable
	for _, f := range result.Failures {
		p := byKey[f.PodKey]
		if c := api.GetPodCondition(p, api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Message == f.Message {
			continue // already says so: write nothing
		}
		unschedulable.Updates = append(unschedulable.Updates, consensus.UnschedulablePod{
			Namespace: p.Namespace, Name: p.Name, UID: p.UID, Message: f.Message,
		})
	}
	if len(unschedulable.Updates) > 0 {
		if _, err := s.Commit.Commit(ctx, consensus.CmdSetPodsUnschedulable, unschedulable); err != nil {
			return false, err
		}
		for _, u := range unschedulable.Updates {
			s.Log.Info("pod is unschedulable", "pod", u.Namespace+"/"+u.Name, "message", u.Message)
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
func (s *Scheduler) nodeInfo(n *api.Node, bound []*api.Pod) placement.NodeInfo {
	info := placement.NewNodeInfo(n, bound)
	status, _, known := s.Gossip.Liveness(n.Name)
	if !known {
		return info
	}
	if status == api.MemberDead || status == api.MemberLeft {
		info.Ready = false
		return info
	}
	if free, ok := s.Gossip.Free(n.Name); ok {
		gossipUsed := info.Allocatable.Sub(free)
		info.Requested.MilliCPU = max(info.Requested.MilliCPU, gossipUsed.MilliCPU)
		info.Requested.Memory = max(info.Requested.Memory, gossipUsed.Memory)
		info.Requested.Pods = max(info.Requested.Pods, gossipUsed.Pods)
	}
	return info
}
