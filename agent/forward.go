package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
)

// internalApplyPath is where a follower sends a write for the leader to
// commit. It is an agent-to-agent endpoint, not part of the public API.
const internalApplyPath = "/v1/internal/apply"

// Commit commits cmd through the leader from any agent: on the leader it
// is applied directly; on a follower it is forwarded to the leader's API.
// While there is no leader (an election), it retries until ctx ends. Errors
// are *api.Status values a handler can return as they are.
func (a *Agent) Commit(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
	backoff := 50 * time.Millisecond
	for {
		res, err := a.commitOnce(ctx, cmd)
		if !errors.Is(err, consensus.ErrNotLeader) && !errors.Is(err, consensus.ErrNoLeader) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return consensus.Result{}, api.NewServiceUnavailable(fmt.Sprintf("no raft leader to accept the write: %v", err))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (a *Agent) commitOnce(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
	if a.store.IsLeader() {
		return a.store.Commit(ctx, cmd)
	}
	var none consensus.Result
	leader, _ := a.store.Leader()
	if leader == "" {
		return none, consensus.ErrNoLeader
	}
	m, ok := a.members.Get(leader)
	if !ok || !m.MetaOK {
		return none, fmt.Errorf("%w: leader %s is not in gossip yet", consensus.ErrNoLeader, leader)
	}
	var out consensus.Result
	err := a.peerClient(m).Do(ctx, http.MethodPost, internalApplyPath, cmd, &out)
	var status *api.Status
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &status) && status.Code == http.StatusMisdirectedRequest:
		return none, fmt.Errorf("%w: %s", consensus.ErrNotLeader, status.Message)
	case errors.As(err, &status):
		return none, status
	default:
		return none, fmt.Errorf("%w: forward to leader %s: %v", consensus.ErrNoLeader, leader, err)
	}
}

// handleInternalApply commits a write forwarded by a follower. It never
// forwards again: if this agent is no longer leader, the follower retries
// with the leader it knows next.
func (a *Agent) handleInternalApply(w http.ResponseWriter, r *http.Request) {
	var cmd consensus.Command
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInternalBodyBytes)).Decode(&cmd); err != nil {
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("decode command: %v", err)))
		return
	}
	res, err := a.store.Commit(r.Context(), cmd)
	if errors.Is(err, consensus.ErrNotLeader) {
		apiserver.WriteError(w, api.NewStatus(http.StatusMisdirectedRequest, api.StatusReasonServiceUnavailable, "this agent is not the raft leader"))
		return
	}
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, res)
}

// peerClient is an API client of another agent.
func (a *Agent) peerClient(m member) *client.Client {
	c, err := client.NewWithTransport(m.apiURL(), a.tls.peerTransport(m.Name))
	if err != nil {
		// apiURL is built from a parsed IP and port, so it always parses.
		panic(fmt.Sprintf("bad peer API address %q: %v", m.apiURL(), err))
	}
	return c
}

func resolveUDP(addr string) (*net.UDPAddr, error) {
	return net.ResolveUDPAddr("udp", addr)
}

// apiBackend is the agent as the API server's Backend: this replica's
// state, the leader's read index, and commits forwarded to the leader.
type apiBackend struct{ a *Agent }

func (b apiBackend) State() *consensus.State { return b.a.store.State() }

func (b apiBackend) ReadIndex(ctx context.Context) (uint64, error) { return b.a.readIndex(ctx) }

func (b apiBackend) WaitApplied(ctx context.Context, index uint64) error {
	return b.a.store.WaitApplied(ctx, index)
}

func (b apiBackend) Commit(ctx context.Context, cmd consensus.Command) (consensus.Result, error) {
	return b.a.Commit(ctx, cmd)
}
