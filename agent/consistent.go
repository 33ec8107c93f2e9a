package agent

import (
	"context"
	"net/http"
	"time"

	"github.com/gossipod/gossipod/api"
)

// consistentReadTimeout bounds how long a read waits to be confirmed by
// the leader.
const consistentReadTimeout = 5 * time.Second

// consistentRead makes a read reflect every write acknowledged before it,
// as a Kubernetes GET or list without a resourceVersion does (a quorum read
// from etcd): the agent asks the leader for its quorum-confirmed commit
// index (Raft's read-index) and waits until it has applied that far, then
// serves from its own state. A request that names a resourceVersion
// (?resourceVersion=0 included) accepts this agent's state as it is, which
// also works with no leader, e.g. on a partitioned node. It reports false,
// having written a 503, when no leader confirms in time.
func (a *Agent) consistentRead(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Has("resourceVersion") {
		return true
	}
	if err := a.syncRead(r.Context()); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

// syncRead waits until this agent's state reflects every write
// acknowledged before the call (the leader's read index), as
// consistentRead does for a GET; a PATCH reads the object it patches
// this way. The error is a 503 Status when no leader confirms in time.
func (a *Agent) syncRead(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, consistentReadTimeout)
	defer cancel()
	index, err := a.readIndex(ctx)
	if err == nil {
		err = a.waitApplied(ctx, index)
	}
	if err != nil {
		return api.NewServiceUnavailable(
			"no raft leader confirmed a consistent read (" + err.Error() + "); add ?resourceVersion=0 to read this agent's possibly stale state")
	}
	return nil
}

// waitApplied waits until this agent's state machine has applied index.
func (a *Agent) waitApplied(ctx context.Context, index uint64) error {
	for a.store.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
