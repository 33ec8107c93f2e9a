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

// commitFor commits cmd and decodes its response into a value of type T.
func commitFor[T any](ctx context.Context, a *Agent, cmd consensus.Command) (*T, error) {
	res, err := a.Commit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	var out T
	if len(res.Response) == 0 {
		return nil, fmt.Errorf("%s: empty response from the leader", cmd.Type)
	}
	if err := json.Unmarshal(res.Response, &out); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", cmd.Type, err)
	}
	return &out, nil
}

// handleInternalApply commits a write forwarded by a follower. It never
// forwards again: if this agent is no longer leader, the follower retries
// with the leader it knows next.
func (a *Agent) handleInternalApply(w http.ResponseWriter, r *http.Request) {
	var cmd consensus.Command
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInternalBodyBytes)).Decode(&cmd); err != nil {
		writeError(w, api.NewBadRequest(fmt.Sprintf("decode command: %v", err)))
		return
	}
	res, err := a.store.Commit(r.Context(), cmd)
	if errors.Is(err, consensus.ErrNotLeader) {
		writeError(w, api.NewStatus(http.StatusMisdirectedRequest, api.StatusReasonServiceUnavailable, "this agent is not the raft leader"))
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
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

// commitAndRespond commits payload as a command of type t through the
// leader and writes the object the command returns, with code: the tail
// of every create, update and delete handler.
func commitAndRespond[T any](a *Agent, w http.ResponseWriter, r *http.Request, t consensus.CommandType, payload any, code int) {
	cmd, err := consensus.NewCommand(t, payload)
	if err != nil {
		writeError(w, err)
		return
	}
	obj, err := commitFor[T](r.Context(), a, cmd)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, obj)
}
