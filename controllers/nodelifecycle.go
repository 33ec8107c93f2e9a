package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// NodeLifecycleState is what the node lifecycle controller reads.
type NodeLifecycleState interface {
	NodeObjects() ([]*api.Node, uint64)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
}

// Liveness is what gossip says of a node: its member's status and since
// when it has had it, or known false when gossip has no such member
// (this leader started after it died, or it never joined).
type Liveness interface {
	Liveness(node string) (status api.MemberStatus, since time.Time, known bool)
}

// NodeLifecycle marks the pods of lost nodes Failed with reason NodeLost,
// the part of Kubernetes' node lifecycle controller that gossip does not
// already do (the Ready condition follows gossip at once). A node is lost
// once gossip has called it dead, or it left, for longer than LostTimeout
// (--node-lost-timeout); a node gossip does not know at all is timed from
// when this controller first missed it. Workload controllers then replace
// the pods on live nodes; bare pods stay Failed, as in Kubernetes. When
// the node comes back it stops these pods, since they are no longer its
// to run.
//
// Fields are set before the first Reconcile and not changed afterwards;
// Reconcile is called from one goroutine.
type NodeLifecycle struct {
	State       NodeLifecycleState
	Members     Liveness
	Commit      Committer
	Log         *slog.Logger
	LostTimeout time.Duration
	// Now is the clock the timeout is measured with; time.Now when nil.
	Now func() time.Time

	// missingSince records when a Node was first seen without a member.
	missingSince map[string]time.Time
}

// Reconcile marks the pods of every lost node Failed and returns how long
// until the next node that is gone but not yet lost will be, or 0 if none
// is waiting.
func (c *NodeLifecycle) Reconcile(ctx context.Context) time.Duration {
	now := clock(c.Now)
	if c.missingSince == nil {
		c.missingSince = map[string]time.Time{}
	}
	var next time.Duration
	nodes, _ := c.State.NodeObjects()
	lost := map[string]time.Duration{}
	for _, n := range nodes {
		status, since, known := c.Members.Liveness(n.Name)
		var goneFor time.Duration
		switch {
		case !known:
			first, ok := c.missingSince[n.Name]
			if !ok {
				first = now
				c.missingSince[n.Name] = now
			}
			goneFor = now.Sub(first)
		case status == api.MemberDead || status == api.MemberLeft:
			delete(c.missingSince, n.Name)
			goneFor = now.Sub(since)
		default:
			delete(c.missingSince, n.Name)
			continue
		}
		if goneFor >= c.LostTimeout {
			lost[n.Name] = goneFor
		} else {
			next = soonest(next, c.LostTimeout-goneFor)
		}
	}
	if len(lost) == 0 {
		return next
	}
	pods, _ := c.State.Pods(func(p *api.Pod) bool {
		_, onLost := lost[p.Spec.NodeName]
		return onLost && !api.IsTerminal(p)
	})
	if len(pods) == 0 {
		return next
	}
	var failed consensus.SetPodsFailed
	for _, p := range pods {
		failed.Updates = append(failed.Updates, consensus.FailedPod{
			Namespace: p.Namespace, Name: p.Name, UID: p.UID, Reason: api.PodReasonNodeLost,
			Message: fmt.Sprintf("Node %s which was running pod %s is unresponsive", p.Spec.NodeName, p.Name),
		})
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdSetPodsFailed, failed); err != nil {
		c.Log.Warn("mark pods of lost nodes failed", "error", err)
		return next
	}
	for node, d := range lost {
		c.Log.Info("node lost; its pods are marked Failed (NodeLost)", "node", node, "gone_for", d.Round(time.Second))
	}
	return next
}
