package agent

import (
	"context"
	"errors"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// bootstrapLoop bootstraps a new Raft cluster once --bootstrap-expect agents
// see each other and none of them belongs to a cluster yet. Every agent of
// the first N by name computes the same voter list from gossip and
// bootstraps with it; hashicorp/raft documents that as safe. The member list
// must stay unchanged for BootstrapSettle first, so agents started together
// decide on the same view. An agent outside the first N, or one that sees a
// member already in a cluster, waits to be added by the leader instead.
func (a *Agent) bootstrapLoop(ctx context.Context) {
	if a.cfg.BootstrapExpect == 0 {
		return
	}
	recheck := time.NewTicker(time.Second)
	defer recheck.Stop()
	waitingLogged := false
	for {
		if a.store.HasState() {
			return
		}
		changed := a.members.Changed()
		servers, why := a.bootstrapSet()
		if servers != nil {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				continue // the view moved: decide again on the new one
			case <-time.After(a.cfg.BootstrapSettle):
			}
			if !containsServer(servers, a.cfg.NodeName) {
				if !waitingLogged {
					a.log.Info("not among the first --bootstrap-expect agents by name; waiting for the leader to add this agent", "bootstrap_set", serverIDs(servers))
					waitingLogged = true
				}
			} else {
				err := a.store.Bootstrap(servers)
				switch {
				case err == nil:
					a.log.Info("bootstrapped raft cluster", "voters", serverIDs(servers))
					a.syncMeta()
					return
				case errors.Is(err, consensus.ErrAlreadyBootstrapped):
					return
				default:
					a.log.Error("bootstrap failed, will retry", "error", err)
				}
			}
		} else if why != "" && !waitingLogged {
			a.log.Info("not bootstrapping yet", "reason", why)
			waitingLogged = true
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			waitingLogged = false
		case <-recheck.C:
		}
	}
}

// bootstrapSet returns the voters to bootstrap with, or nil and the reason
// it is not time yet ("" when the reason was already logged or is routine).
func (a *Agent) bootstrapSet() ([]consensus.Server, string) {
	var candidates []member
	for _, m := range a.members.List() {
		if m.Status != api.MemberAlive || !m.MetaOK {
			continue
		}
		if m.Meta.InCluster {
			return nil, "member " + m.Name + " already belongs to a cluster; waiting to be added"
		}
		if m.Meta.BootstrapExpect == 0 {
			continue // a join-only agent is added by the leader later
		}
		if m.Meta.BootstrapExpect != a.cfg.BootstrapExpect {
			return nil, "member " + m.Name + " expects a different --bootstrap-expect; all agents must use the same value"
		}
		candidates = append(candidates, m)
	}
	if len(candidates) < a.cfg.BootstrapExpect {
		return nil, ""
	}
	servers := make([]consensus.Server, 0, a.cfg.BootstrapExpect)
	for _, m := range candidates[:a.cfg.BootstrapExpect] { // List is sorted by name
		servers = append(servers, consensus.Server{ID: m.Name, Address: m.raftAddr(), Suffrage: consensus.Voter})
	}
	return servers, ""
}

func containsServer(servers []consensus.Server, id string) bool {
	for _, s := range servers {
		if s.ID == id {
			return true
		}
	}
	return false
}

func serverIDs(servers []consensus.Server) []string {
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	return ids
}
