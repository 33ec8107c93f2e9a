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
	ctx, cancel := context.WithTimeout(r.Context(), consistentReadTimeout)
	defer cancel()
	index, err := a.readIndex(ctx)
	for err == nil && a.store.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err != nil {
		writeError(w, api.NewServiceUnavailable(
			"no raft leader confirmed a consistent read ("+err.Error()+"); add ?resourceVersion=0 to read this agent's possibly stale state"))
		return false
	}
	return true
}
