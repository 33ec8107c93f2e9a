package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// reconcileLostNodes marks the pods of lost nodes Failed with reason
// NodeLost. A node is lost once gossip has called it dead, or it left,
// for longer than --node-lost-timeout (its Ready condition changed at
// once; this is the grace after it). Controllers then replace the pods on
// live nodes; bare pods stay Failed, as in Kubernetes. When the node comes
// back it stops these pods, since they are no longer its to run.
//
// It returns how long until the next node that is dead but not yet lost
// will be, or 0 if none is waiting.
func (a *Agent) reconcileLostNodes(ctx context.Context, up *upkeep) time.Duration {
	now := time.Now()
	var next time.Duration
	nodes, _ := a.store.State().NodeObjects()
	lost := map[string]time.Duration{}
	for _, n := range nodes {
		m, known := a.members.Get(n.Name)
		var goneFor time.Duration
		switch {
		case !known:
			first, ok := up.nodeMissingSince[n.Name]
			if !ok {
				first = now
				up.nodeMissingSince[n.Name] = now
			}
			goneFor = now.Sub(first)
		case m.Status == api.MemberDead || m.Status == api.MemberLeft:
			delete(up.nodeMissingSince, n.Name)
			goneFor = now.Sub(m.Since)
		default:
			delete(up.nodeMissingSince, n.Name)
			continue
		}
		if goneFor >= a.cfg.NodeLostTimeout {
			lost[n.Name] = goneFor
		} else if left := a.cfg.NodeLostTimeout - goneFor; next == 0 || left < next {
			next = left
		}
	}
	if len(lost) == 0 {
		return next
	}
	pods, _ := a.store.State().Pods(func(p *api.Pod) bool {
		_, onLost := lost[p.Spec.NodeName]
		return onLost && !p.IsTerminal()
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
	if err := a.commitPayload(ctx, consensus.CmdSetPodsFailed, failed); err != nil {
		a.log.Warn("mark pods of lost nodes failed", "error", err)
		return next
	}
	for node, d := range lost {
		a.log.Info("node lost; its pods are marked Failed (NodeLost)", "node", node, "gone_for", d.Round(time.Second))
	}
	return next
}
