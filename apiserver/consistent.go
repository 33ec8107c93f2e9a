package apiserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// consistentReadTimeout bounds how long a read waits to be confirmed by
// the leader.
const consistentReadTimeout = 5 * time.Second

// ConsistentRead makes a read reflect every write acknowledged before it,
// as a Kubernetes GET or list without a resourceVersion does (a quorum read
// from etcd): the agent asks the leader for its quorum-confirmed commit
// index (Raft's read-index) and waits until it has applied that far, then
// serves from its own state. It reports false, having written a 503, when no
// leader confirms in time.
//
// A request that names a resourceVersion asks for no quorum, which also
// works with no leader, e.g. on a partitioned node: ?resourceVersion=0
// accepts this agent's state as it is, and any other version is a floor
// (see notOlderThan).
func (s *Server) ConsistentRead(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	if q.Has("resourceVersion") {
		if err := s.notOlderThan(r.Context(), q); err != nil {
			WriteError(w, err)
			return false
		}
		return true
	}
	if err := s.SyncRead(r.Context()); err != nil {
		WriteError(w, err)
		return false
	}
	return true
}

// notOlderThanTimeout bounds how long a read waits for this agent to reach
// the resourceVersion it names; kube-apiserver's watch cache waits 3 s too.
const notOlderThanTimeout = 3 * time.Second

// notOlderThan makes a read that names a resourceVersion other than 0 see
// at least that version, as Kubernetes' "not older than" rule for a get, a
// list and a watch-list (sendInitialEvents) says. It matters when the agent
// lags behind the version, e.g. just restarted and still replaying its log:
// a client-go reflector listing again from the last version it saw would
// otherwise get an older state and go back in time (objects it saw created
// vanish, deleted ones return). The agent waits for its state to catch up,
// and after notOlderThanTimeout answers as kube-apiserver does, a 504 "Too
// large resource version" with the ResourceVersionTooLarge cause, on which
// the reflector lists again without a version (a consistent read). A plain
// watch needs no wait: it sends the changes after its version as they are
// applied. A version that is not a number is left to the handler to refuse.
func (s *Server) notOlderThan(ctx context.Context, q url.Values) error {
	rv, err := strconv.ParseUint(q.Get("resourceVersion"), 10, 64)
	if err != nil || rv == 0 {
		return nil
	}
	if (q.Get("watch") == "1" || q.Get("watch") == "true") && q.Get("sendInitialEvents") != "true" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, notOlderThanTimeout)
	defer cancel()
	// The State's index, not Raft's applied index: resourceVersions are
	// State indexes, and Raft's own entries (no-ops, barriers,
	// configurations) advance the applied index without changing the State,
	// so waiting on it could serve a list at a version still below rv.
	state := s.b.State()
	for {
		changed := state.Changed()
		index := state.Index()
		if index >= rv {
			return nil
		}
		select {
		case <-ctx.Done():
			return api.NewTooLargeResourceVersion(rv, index)
		case <-changed:
		}
	}
}

// SyncRead waits until this agent's state reflects every write
// acknowledged before the call (the leader's read index), as
// ConsistentRead does for a GET; a PATCH reads the object it patches
// this way. The error is a 503 Status when no leader confirms in time.
func (s *Server) SyncRead(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, consistentReadTimeout)
	defer cancel()
	index, err := s.b.ReadIndex(ctx)
	// During an election (a leader stepping down under load takes a few
	// hundred milliseconds) there is briefly no leader to ask: wait for
	// the next one within the budget rather than fail the read at once.
	for delay := 10 * time.Millisecond; err != nil && (errors.Is(err, consensus.ErrNoLeader) || errors.Is(err, consensus.ErrNotLeader)); delay = min(2*delay, 200*time.Millisecond) {
		select {
		case <-ctx.Done():
		case <-time.After(delay):
			index, err = s.b.ReadIndex(ctx)
			continue
		}
		break
	}
	if err == nil {
		err = s.b.WaitApplied(ctx, index)
	}
	if err != nil {
		return api.NewServiceUnavailable(
			"no raft leader confirmed a consistent read (" + err.Error() + "); add ?resourceVersion=0 to read this agent's possibly stale state")
	}
	return nil
}
