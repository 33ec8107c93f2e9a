package runtime

import (
	"context"
	"sync"

	"github.com/gossipod/gossipod/api"
)

// PodUpdate is a change of one pod as this node sees it, sent on Updates as
// it happens. The agent reports it through the leader; it batches the
// updates of a round into one Raft entry.
type PodUpdate struct {
	// Namespace, Name and UID identify the pod; the UID tells a pod from
	// a later one of the same name.
	Namespace, Name, UID string
	// Status is the pod's whole status as the runtime computes it. HostIP,
	// PodIP and the PodScheduled condition are not the runtime's: the
	// agent keeps the values the cluster has.
	Status api.PodStatus
	// Events happened since the previous update of this pod (Pulling,
	// Pulled, Created, Started, Killing, BackOff, Failed…), with source
	// component "kubelet" and this node as host.
	Events []api.Event
	// Removed says that everything of a pod being deleted is gone from
	// this node (processes, mounts, cgroups, directories): the agent can
	// confirm the deletion. No update of the pod follows.
	Removed bool
}

// updateQueue coalesces pod updates until they are sent: a pod that
// changes several times before the reader takes its update is sent once,
// with its latest status and all its events. Workers never block on a slow
// reader.
type updateQueue struct {
	mu      sync.Mutex
	pending map[string]*PodUpdate // by UID
	order   []string              // UIDs, oldest first
	notify  chan struct{}         // capacity 1: "pending is not empty"
	out     chan PodUpdate
}

func newUpdateQueue() *updateQueue {
	return &updateQueue{
		pending: map[string]*PodUpdate{},
		notify:  make(chan struct{}, 1),
		out:     make(chan PodUpdate),
	}
}

// push queues u, merging it into the pod's pending update if any.
func (q *updateQueue) push(u PodUpdate) {
	q.mu.Lock()
	if p := q.pending[u.UID]; p != nil {
		p.Status = u.Status
		p.Events = append(p.Events, u.Events...)
		if n := len(p.Events); n > maxPendingEvents {
			p.Events = p.Events[n-maxPendingEvents:]
		}
		p.Removed = p.Removed || u.Removed
	} else {
		q.pending[u.UID] = &u
		q.order = append(q.order, u.UID)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop takes the oldest pending update.
func (q *updateQueue) pop() (PodUpdate, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return PodUpdate{}, false
	}
	uid := q.order[0]
	q.order = q.order[1:]
	u := q.pending[uid]
	delete(q.pending, uid)
	return *u, true
}

// run sends the pending updates on out until ctx ends. An update taken
// from the queue is sent before the next is taken, so a pod's later
// changes keep merging into its pending update while the reader is busy.
func (q *updateQueue) run(ctx context.Context) {
	for {
		u, ok := q.pop()
		if !ok {
			select {
			case <-q.notify:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case q.out <- u:
		case <-ctx.Done():
			return
		}
	}
}
