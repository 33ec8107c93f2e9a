package agent

import (
	"context"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// suspectProbeTimeout bounds the direct probe `members` makes to each member
// gossip still calls alive.
const suspectProbeTimeout = time.Second

// Members returns every member this agent knows, with its Raft role.
//
// memberlist keeps its "suspect" state to itself, so the agent probes each
// member gossip calls alive, in parallel, with memberlist's own ping: a
// member that does not answer is shown as suspect until gossip decides it is
// dead. The probes cost nothing unless someone asks.
func (a *Agent) Members(ctx context.Context) []api.Member {
	list := a.members.List()
	roles := a.raftRoles()
	out := make([]api.Member, len(list))
	var wg sync.WaitGroup
	for i, m := range list {
		out[i] = api.Member{
			Name:      m.Name,
			Addr:      m.gossipAddr(),
			Status:    m.Status,
			Role:      roles[m.Name],
			InCluster: m.Meta.InCluster,
		}
		if m.MetaOK {
			out[i].APIAddr = m.apiURL()
			out[i].RaftAddr = m.raftAddr()
			out[i].Allocatable = m.Meta.allocatable()
			out[i].Free = m.Meta.free()
			out[i].Labels = m.Meta.Labels
		}
		if m.Status == api.MemberAlive && m.Name != a.cfg.NodeName {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !a.probe(ctx, m) {
					out[i].Status = api.MemberSuspect
				}
			}()
		}
	}
	wg.Wait()
	return out
}

// probe pings a member through memberlist, bounded by ctx and
// suspectProbeTimeout. It reports whether the member answered.
func (a *Agent) probe(ctx context.Context, m member) bool {
	addr, err := resolveUDP(m.gossipAddr())
	if err != nil {
		return false
	}
	answered := make(chan bool, 1)
	go func() {
		_, err := a.ml.Ping(m.Name, addr)
		answered <- err == nil
	}()
	select {
	case ok := <-answered:
		return ok
	case <-ctx.Done():
		return true // unknown: keep gossip's verdict
	case <-time.After(suspectProbeTimeout):
		return false
	}
}

// raftRoles maps server IDs to leader, voter or nonvoter.
func (a *Agent) raftRoles() map[string]string {
	roles := map[string]string{}
	servers, err := a.store.Servers()
	if err != nil {
		return roles
	}
	leader, _ := a.store.Leader()
	for _, s := range servers {
		switch {
		case s.ID == leader:
			roles[s.ID] = api.RoleLeader
		case s.Suffrage == consensus.Voter:
			roles[s.ID] = api.RoleVoter
		default:
			roles[s.ID] = api.RoleNonvoter
		}
	}
	return roles
}

// RaftPeers returns the Raft configuration as this agent sees it.
func (a *Agent) RaftPeers() ([]api.RaftPeer, error) {
	servers, err := a.store.Servers()
	if err != nil {
		return nil, err
	}
	leader, _ := a.store.Leader()
	out := make([]api.RaftPeer, 0, len(servers))
	for _, s := range servers {
		out = append(out, api.RaftPeer{ID: s.ID, Address: s.Address, Suffrage: string(s.Suffrage), Leader: s.ID == leader})
	}
	return out, nil
}
