package agent

import (
	"context"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// reconcileOrphanedPods is Kubernetes' pod garbage collector for orphans:
// a pod bound to a node that has no Node object (deleted, or a name the
// user wrote into spec.nodeName that never registered) has no agent to run
// it, stop it or confirm its deletion. Once its node has been missing for
// OrphanedPodTimeout (kube-controller-manager's quarantine is 40 s, which
// covers an agent whose Node was deleted registering it again), the pod is
// deleted at once (grace 0), with its uid as precondition so that a pod
// created again under the same name is left alone.
//
// It returns how long until the next orphan is due, or 0 if none waits.
func (a *Agent) reconcileOrphanedPods(ctx context.Context, up *upkeep) time.Duration {
	now := time.Now()
	state := a.store.State()
	// The nodes first: reading them inside Pods' filter would take the
	// state's read lock again while Pods holds it, which deadlocks as soon
	// as the FSM waits for the write lock in between (sync.RWMutex forbids
	// recursive read locking).
	nodes, _ := state.NodeObjects()
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	orphans, _ := state.Pods(func(p *api.Pod) bool {
		return p.Spec.NodeName != "" && !known[p.Spec.NodeName]
	})
	seen := map[string]bool{}
	var next time.Duration
	var del consensus.DeletePods
	zero := int64(0)
	for _, p := range orphans {
		node := p.Spec.NodeName
		seen[node] = true
		first, ok := up.orphanNodeSince[node]
		if !ok {
			first = now
			up.orphanNodeSince[node] = now
		}
		if left := a.cfg.OrphanedPodTimeout - now.Sub(first); left > 0 {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		del.Deletes = append(del.Deletes, consensus.DeletePod{
			Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: &zero})
	}
	for node := range up.orphanNodeSince {
		if !seen[node] {
			delete(up.orphanNodeSince, node)
		}
	}
	if len(del.Deletes) == 0 {
		return next
	}
	if err := a.commitPayload(ctx, consensus.CmdDeletePods, del); err != nil {
		a.log.Warn("delete pods of missing nodes", "error", err)
		return next
	}
	for _, d := range del.Deletes {
		a.log.Info("deleted pod bound to a node that does not exist (PodGC)", "pod", d.Namespace+"/"+d.Name)
	}
	return next
}
