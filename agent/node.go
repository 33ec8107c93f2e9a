package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/runtime"
	"github.com/gossipod/gossipod/runtime/image"
)

// PodRuntime is what the agent needs of the node's container runtime
// (runtime.Runtime). Declared here, by its caller, so the agent's tests can
// run a control-plane-only agent with none.
type PodRuntime interface {
	// SyncPods hands over the full set of pods bound to this node.
	SyncPods(pods []*api.Pod)
	// Updates delivers pod status changes and events as they happen.
	Updates() <-chan runtime.PodUpdate
	// Used is what the running pods request, for the gossiped free resources.
	Used() api.Resources
	Logs(ctx context.Context, namespace, name, container string, opts runtime.LogOptions, w io.Writer) error
	Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio runtime.ExecIO) (int, error)
	// Attach and DialPod serve kubectl attach and port-forward (see
	// apiserver/podstream).
	Attach(ctx context.Context, namespace, name, container string, out io.Writer) error
	DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error)
	LoadImage(r io.Reader) ([]string, error)
	Images() []image.ImageInfo
}

// nodeLoop runs this node's pods, as a kubelet does: it hands the runtime
// the pods bound to this node whenever the replicated state changes.
//
// It first waits until the local state has caught up with the leader's
// commit index (a read-index, as etcd does for linearizable reads): after a
// restart or a healed partition the local state lags, and acting on it
// would stop pods that are still bound here, or keep ones that are not.
func (a *Agent) nodeLoop(ctx context.Context) {
	if a.cfg.Runtime == nil {
		return
	}
	if err := a.waitCaughtUp(ctx); err != nil {
		return // ctx ended
	}
	state := a.store.State()
	var net networkSync
	for {
		changed := state.Changed()
		a.syncNetwork(&net)
		// A pod the cluster failed as NodeLost is no longer this node's to
		// run, even though it is still bound here: the runtime stops it.
		pods, _ := state.Pods(func(p *api.Pod) bool {
			return p.Spec.NodeName == a.cfg.NodeName && !(api.IsTerminal(p) && p.Status.Reason == api.PodReasonNodeLost)
		})
		a.cfg.Runtime.SyncPods(pods)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// waitCaughtUp blocks until this server's State reflects every entry the
// leader had committed when asked (consensus.Store.WaitApplied); this runs
// once, at start.
func (a *Agent) waitCaughtUp(ctx context.Context) error {
	for {
		index, err := a.readIndex(ctx)
		if err == nil {
			if err := a.store.WaitApplied(ctx, index); err != nil {
				return err
			}
			a.log.Info("local state caught up with the leader; running this node's pods", "index", index)
			return nil
		}
		a.log.Debug("waiting for the leader's commit index before running pods", "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// readIndex returns the leader's commit index, confirmed by a quorum.
func (a *Agent) readIndex(ctx context.Context) (uint64, error) {
	if a.store.IsLeader() {
		return a.store.ReadIndex()
	}
	leader, _ := a.store.Leader()
	if leader == "" {
		return 0, consensus.ErrNoLeader
	}
	m, ok := a.members.Get(leader)
	if !ok || !m.MetaOK {
		return 0, fmt.Errorf("%w: leader %s not in gossip yet", consensus.ErrNoLeader, leader)
	}
	var out readIndexResponse
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.peerClient(m).Do(rctx, http.MethodGet, internalReadIndexPath, nil, &out); err != nil {
		var st *api.Status
		if errors.As(err, &st) && st.Code == http.StatusMisdirectedRequest {
			// It stepped down since this agent last heard of it.
			return 0, fmt.Errorf("%w: %s stepped down", consensus.ErrNotLeader, leader)
		}
		return 0, err
	}
	return out.Index, nil
}

// statusLoop reports what the runtime observes to the cluster. Updates are
// coalesced per pod and written as one SetPodStatuses entry (and one
// RecordEvents entry) per round, so many pods do not mean many log entries;
// a pod whose deletion the runtime finished is confirmed with a grace
// period of 0. Failed writes are retried with what arrived meanwhile.
func (a *Agent) statusLoop(ctx context.Context) {
	if a.cfg.Runtime == nil {
		return
	}
	pending := map[string]*runtime.PodUpdate{} // by pod UID
	var events []api.Event
	backoff := 100 * time.Millisecond
	for {
		if len(pending) == 0 && len(events) == 0 {
			select {
			case <-ctx.Done():
				return
			case u := <-a.cfg.Runtime.Updates():
				events = mergeUpdate(pending, u, events)
			}
		}
		// Take whatever else is already waiting, without blocking.
	drain:
		for len(pending) < 1000 {
			select {
			case u := <-a.cfg.Runtime.Updates():
				events = mergeUpdate(pending, u, events)
			default:
				break drain
			}
		}
		if err := a.reportStatuses(ctx, pending, events); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("report pod statuses; will retry", "pods", len(pending), "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		clear(pending)
		events = nil
		if err := a.SetUsed(a.cfg.Runtime.Used()); err != nil {
			a.log.Warn("announce free resources", "error", err)
		}
	}
}

// mergeUpdate folds u into pending (the latest status wins) and returns the
// events with u's appended.
func mergeUpdate(pending map[string]*runtime.PodUpdate, u runtime.PodUpdate, events []api.Event) []api.Event {
	events = append(events, u.Events...)
	if prev, ok := pending[u.UID]; ok && prev.Removed {
		u.Removed = true
	}
	u.Events = nil
	pending[u.UID] = &u
	return events
}

// reportStatuses commits one round of updates.
func (a *Agent) reportStatuses(ctx context.Context, pending map[string]*runtime.PodUpdate, events []api.Event) error {
	statuses := consensus.SetPodStatuses{Node: a.cfg.NodeName}
	var removed []*runtime.PodUpdate
	for _, uid := range slices.Sorted(maps.Keys(pending)) {
		u := pending[uid]
		if u.Removed {
			removed = append(removed, u)
			continue
		}
		st := u.Status
		st.HostIP = a.cfg.advertiseIP()
		statuses.Updates = append(statuses.Updates, consensus.PodStatusUpdate{Namespace: u.Namespace, Name: u.Name, UID: types.UID(u.UID), Status: st})
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if len(statuses.Updates) > 0 {
		if err := a.commitPayload(wctx, consensus.CmdSetPodStatuses, statuses); err != nil {
			return err
		}
	}
	if len(events) > 0 {
		if err := a.commitPayload(wctx, consensus.CmdRecordEvents, consensus.RecordEvents{Events: events}); err != nil {
			return err
		}
	}
	zero := int64(0)
	for _, u := range removed {
		err := a.commitPayload(wctx, consensus.CmdDeletePod, consensus.DeletePod{Namespace: u.Namespace, Name: u.Name, UID: types.UID(u.UID), GracePeriodSeconds: &zero})
		var status *api.Status
		if err != nil && !(errors.As(err, &status) && (status.Code == http.StatusNotFound || status.Code == http.StatusConflict)) {
			return err
		}
	}
	return nil
}

// commitPayload wraps payload in a command of type t and commits it
// through the leader.
func (a *Agent) commitPayload(ctx context.Context, t consensus.CommandType, payload any) error {
	cmd, err := consensus.NewCommand(t, payload)
	if err != nil {
		return err
	}
	_, err = a.Commit(ctx, cmd)
	return err
}

// readIndexResponse is the body of the internal read-index endpoint.
type readIndexResponse struct {
	Index uint64 `json:"index"`
}

// internalReadIndexPath serves the leader's quorum-confirmed commit index.
const internalReadIndexPath = "/v1/internal/read-index"

// handleReadIndex answers a follower's read-index request: the commit
// index, after confirming with a quorum that this agent still leads.
func (a *Agent) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	index, err := a.store.ReadIndex()
	if errors.Is(err, consensus.ErrNotLeader) {
		apiserver.WriteError(w, api.NewStatus(http.StatusMisdirectedRequest, api.StatusReasonServiceUnavailable, "this agent is not the raft leader"))
		return
	}
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, readIndexResponse{Index: index})
}
