package agent

import (
	"context"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
)

// reconnectLoop heals partitions. memberlist stops talking to members it
// has declared dead, so two sides of a partition that lasted past failure
// detection never merge again by themselves. Like Serf's reconnector, the
// agent periodically tries to join every member it knows as dead (not
// those that left cleanly); once one answers, the push/pull exchange
// merges both sides' views. Members dead for longer than a day are pruned
// from the table and no longer tried.
func (a *Agent) reconnectLoop(ctx context.Context) {
	tick := time.NewTicker(a.cfg.ReconnectInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var dead []member
		for _, m := range a.members.List() {
			if m.Status == api.MemberDead && m.Name != a.cfg.NodeName {
				dead = append(dead, m)
			}
		}
		if len(dead) == 0 {
			continue
		}
		// Joins to unreachable members wait for a TCP timeout; try them all
		// at once so one dead host does not delay the others.
		var wg sync.WaitGroup
		for _, m := range dead {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if n, err := a.ml.Join([]string{m.gossipAddr()}); n > 0 {
					a.log.Info("reconnected to a member gossip had declared dead", "member", m.Name, "addr", m.gossipAddr())
				} else {
					a.log.Debug("dead member still unreachable", "member", m.Name, "error", err)
				}
			}()
		}
		wg.Wait()
	}
}
