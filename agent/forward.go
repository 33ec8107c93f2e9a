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
	"github.com/gossipod/gossipod/consensus"
)

// internalApplyPath is where a follower sends a write for the leader to
// commit. It is an agent-to-agent endpoint, not part of the public API.
const internalApplyPath = "/v1/internal/apply"

// applyResponse is the body of a successful forwarded apply.
type applyResponse struct {
	Index uint64 `json:"index"`
}

// Apply commits cmd through the leader from any agent: on the leader it is
// applied directly; on a follower it is forwarded to the leader's API. While
// there is no leader (an election), it retries until ctx ends. Errors are
// *api.Status values a handler can return as they are.
func (a *Agent) Apply(ctx context.Context, cmd consensus.Command) (uint64, error) {
	backoff := 50 * time.Millisecond
	for {
		index, err := a.applyOnce(ctx, cmd)
		if !errors.Is(err, consensus.ErrNotLeader) && !errors.Is(err, consensus.ErrNoLeader) {
			return index, err
		}
		select {
		case <-ctx.Done():
			return 0, api.NewServiceUnavailable(fmt.Sprintf("no raft leader to accept the write: %v", err))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (a *Agent) applyOnce(ctx context.Context, cmd consensus.Command) (uint64, error) {
	if a.store.IsLeader() {
		return a.store.Apply(ctx, cmd)
	}
	leader, _ := a.store.Leader()
	if leader == "" {
		return 0, consensus.ErrNoLeader
	}
	m, ok := a.members.Get(leader)
	if !ok || !m.MetaOK {
		return 0, fmt.Errorf("%w: leader %s is not in gossip yet", consensus.ErrNoLeader, leader)
	}
	var out applyResponse
	err := a.peerClient(m).Do(ctx, http.MethodPost, internalApplyPath, cmd, &out)
	var status *api.Status
	switch {
	case err == nil:
		return out.Index, nil
	case errors.As(err, &status) && status.Code == http.StatusMisdirectedRequest:
		return 0, fmt.Errorf("%w: %s", consensus.ErrNotLeader, status.Message)
	case errors.As(err, &status):
		return 0, status
	default:
		return 0, fmt.Errorf("%w: forward to leader %s: %v", consensus.ErrNoLeader, leader, err)
	}
}

// handleInternalApply commits a write forwarded by a follower. It never
// forwards again: if this agent is no longer leader, the follower retries
// with the leader it knows next.
func (a *Agent) handleInternalApply(w http.ResponseWriter, r *http.Request) {
	var cmd consensus.Command
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&cmd); err != nil {
		writeError(w, api.NewBadRequest(fmt.Sprintf("decode command: %v", err)))
		return
	}
	index, err := a.store.Apply(r.Context(), cmd)
	if errors.Is(err, consensus.ErrNotLeader) {
		writeError(w, api.NewStatus(http.StatusMisdirectedRequest, api.StatusReasonServiceUnavailable, "this agent is not the raft leader"))
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, applyResponse{Index: index})
}

// peerClient is an API client of another agent.
func (a *Agent) peerClient(m member) *client.Client {
	c, err := client.New(m.apiURL())
	if err != nil {
		// apiURL is built from a parsed IP and port, so it always parses.
		panic(fmt.Sprintf("bad peer API address %q: %v", m.apiURL(), err))
	}
	return c
}

func resolveUDP(addr string) (*net.UDPAddr, error) {
	return net.ResolveUDPAddr("udp", addr)
}
