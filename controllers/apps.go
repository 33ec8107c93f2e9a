package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// State is what the controllers read: the committed replicated state
// (*consensus.State satisfies it). The objects it returns are shared with
// the state and must not be modified.
type State interface {
	// Deployments, ReplicaSets and Pods return the objects keep accepts
	// (all when nil), sorted by namespace and name, and the Raft index
	// they reflect.
	Deployments(keep func(*api.Deployment) bool) ([]*api.Deployment, uint64)
	ReplicaSets(keep func(*api.ReplicaSet) bool) ([]*api.ReplicaSet, uint64)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
	// ServiceAccount returns one ServiceAccount: whether its pods mount
	// a token by default.
	ServiceAccount(namespace, name string) (*api.ServiceAccount, bool)
	// Changed returns a channel closed at the next change of the state.
	Changed() <-chan struct{}
}

// Committer commits one command through the Raft leader. Commit returns
// once the command is applied on the leader, so that the next read of
// State on the leader sees it, with the command's response (JSON); its
// error is the state machine's refusal (an *api.Status) or the failure to
// reach a leader. It must be safe to call from the controllers' goroutine
// while the agent serves requests.
type Committer interface {
	Commit(ctx context.Context, t consensus.CommandType, payload any) (json.RawMessage, error)
}

// CommitFunc adapts a function to Committer.
type CommitFunc func(ctx context.Context, t consensus.CommandType, payload any) (json.RawMessage, error)

// Commit calls f.
func (f CommitFunc) Commit(ctx context.Context, t consensus.CommandType, payload any) (json.RawMessage, error) {
	return f(ctx, t, payload)
}

// commit commits a command whose response the pass does not need.
func (c *Apps) commit(ctx context.Context, t consensus.CommandType, payload any) error {
	_, err := c.Commit.Commit(ctx, t, payload)
	return err
}

// Apps runs the Deployment and ReplicaSet controllers on the leader.
// Fields are set before Run and not changed afterwards.
type Apps struct {
	State  State
	Commit Committer
	Log    *slog.Logger
	// Now is the clock minReadySeconds is measured with; time.Now when nil.
	Now func() time.Time
	// NewUID makes the uids of the ReplicaSets and pods the controllers
	// create; random RFC 4122 UUIDs when nil.
	NewUID func() types.UID

	// backoff holds the ReplicaSets whose last pass failed, by uid; only
	// Sync's goroutine touches it.
	backoff map[types.UID]*replicaSetBackoff
}

// errorRetry is how soon a pass that failed (no leader, a refused command)
// runs again when nothing else changes meanwhile.
const errorRetry = time.Second

// Run reconciles until ctx ends: a pass at start, then one at every change
// of the state, and one when a pod is due to become available
// (minReadySeconds) or a failed pass is due for a retry. Everything the
// controllers know is in the log, so a new leader's Run picks up a rollout
// exactly where the last one stopped.
func (c *Apps) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		changed := c.State.Changed()
		if next := c.Sync(ctx); next > 0 {
			timer.Reset(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer.C:
		}
	}
}

// Sync runs one pass of both controllers: the Deployment controller first,
// so that the ReplicaSet controller sizes pods to the ReplicaSets this pass
// scaled. It returns how soon a pass is due without a change of the state,
// or 0.
func (c *Apps) Sync(ctx context.Context) time.Duration {
	next := c.syncDeployments(ctx)
	if n := c.syncReplicaSets(ctx); n > 0 && (next == 0 || n < next) {
		next = n
	}
	return next
}

func (c *Apps) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Apps) newUID() types.UID {
	if c.NewUID != nil {
		return c.NewUID()
	}
	return randomUID()
}

// soonest keeps the shortest positive delay of a pass.
func soonest(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// recordEvents commits events about one object; failing to record them
// does not fail the pass.
func (c *Apps) recordEvents(ctx context.Context, what string, events []api.Event) {
	if len(events) == 0 {
		return
	}
	if err := c.commit(ctx, consensus.CmdRecordEvents, consensus.RecordEvents{Events: events}); err != nil && ctx.Err() == nil {
		c.Log.Warn("record events", "object", what, "error", err)
	}
}

// newEvent is an event about an object of the apps group, from component.
func newEvent(kind string, m *api.ObjectMeta, typ, reason, message, component string) api.Event {
	return api.Event{
		ObjectMeta:     api.ObjectMeta{Namespace: m.Namespace},
		InvolvedObject: api.ObjectReference{Kind: kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID},
		Reason:         reason,
		Message:        message,
		Type:           typ,
		Source:         api.EventSource{Component: component},
	}
}

// isGone reports an error that says the object the command was about no
// longer exists or changed under the pass: the next pass, on the new
// state, takes it from there, so it is not worth a warning.
func isGone(err error) bool {
	var st *api.Status
	return errors.As(err, &st) && (st.Code == 404 || st.Code == 409)
}

// warn logs a failed step of a pass unless ctx ended (leadership lost).
func (c *Apps) warn(ctx context.Context, msg, kind string, m *api.ObjectMeta, err error) {
	if ctx.Err() != nil || isGone(err) {
		return
	}
	c.Log.Warn(msg, kind, m.Namespace+"/"+m.Name, "error", err)
}

// errStep wraps a failed step of a plan with what it was doing; nil stays
// nil.
func errStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", step, err)
}
