package controllers

import (
	"context"
	"log/slog"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// PodGCState is what the pod garbage collector reads.
type PodGCState interface {
	NodeObjects() ([]*api.Node, uint64)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
}

// PodGC is Kubernetes' pod garbage collector for orphans: a pod bound to a
// node that has no Node object (deleted, or a name the user wrote into
// spec.nodeName that never registered) has no agent to run it, stop it or
// confirm its deletion. Once its node has been missing for Quarantine
// (kube-controller-manager's is 40 s, which covers an agent whose Node
// was deleted registering it again), the pod is deleted at once (grace 0),
// with its uid as precondition so that a pod created again under the same
// name is left alone.
//
// The FSM deletes such a pod at once when a user deletes it; PodGC
// collects the ones nobody deletes. Fields are set before the first
// Reconcile and not changed afterwards; Reconcile is called from one
// goroutine.
type PodGC struct {
	State      PodGCState
	Commit     Committer
	Log        *slog.Logger
	Quarantine time.Duration
	// Now is the clock the quarantine is measured with; time.Now when nil.
	Now func() time.Time

	// orphanSince records when pods were first seen bound to a node name
	// that has no Node object.
	orphanSince map[string]time.Time
}

// Reconcile deletes the pods whose node has been missing for the
// quarantine, and returns how long until the next one is due, or 0 if none
// waits.
func (c *PodGC) Reconcile(ctx context.Context) time.Duration {
	now := clock(c.Now)
	if c.orphanSince == nil {
		c.orphanSince = map[string]time.Time{}
	}
	// The nodes first: reading them inside Pods' filter would take the
	// state's read lock again while Pods holds it, which deadlocks as soon
	// as the FSM waits for the write lock in between (sync.RWMutex forbids
	// recursive read locking).
	nodes, _ := c.State.NodeObjects()
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	orphans, _ := c.State.Pods(func(p *api.Pod) bool {
		return p.Spec.NodeName != "" && !known[p.Spec.NodeName]
	})
	seen := map[string]bool{}
	var next time.Duration
	var del consensus.DeletePods
	zero := int64(0)
	for _, p := range orphans {
		node := p.Spec.NodeName
		seen[node] = true
		first, ok := c.orphanSince[node]
		if !ok {
			first = now
			c.orphanSince[node] = now
		}
		if left := c.Quarantine - now.Sub(first); left > 0 {
			next = soonest(next, left)
			continue
		}
		del.Deletes = append(del.Deletes, consensus.DeletePod{
			Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: &zero})
	}
	for node := range c.orphanSince {
		if !seen[node] {
			delete(c.orphanSince, node)
		}
	}
	if len(del.Deletes) == 0 {
		return next
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdDeletePods, del); err != nil {
		c.Log.Warn("delete pods of missing nodes", "error", err)
		return next
	}
	for _, d := range del.Deletes {
		c.Log.Info("deleted pod bound to a node that does not exist (PodGC)", "pod", d.Namespace+"/"+d.Name)
	}
	return next
}

// clock returns now(), or time.Now() when now is nil.
func clock(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}
