package runtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gossipod/gossipod/api"
)

// podWorker runs one pod: a goroutine that syncs the pod whenever
// something happens to it (its spec or deletion changes, a container
// exits, its sandbox dies, a back-off ends) and sleeps otherwise. Only the
// worker goroutine touches the pod's state; others read snapshots.
type podWorker struct {
	r   *Runtime
	uid string
	log *slog.Logger
	// resyncErrs is the last error of each projected volume's periodic
	// update, so a lasting one is reported once, not every resync.
	resyncErrs map[string]string
	// tokens are the ServiceAccount tokens of the pod's projected volumes,
	// by audience and lifetime, kept until due for a refresh.
	tokens map[string]podToken

	// The mailbox, written by SyncPods.
	mu       sync.Mutex
	desired  *api.Pod
	orphaned bool
	// evictMsg, once set, is why the eviction manager evicts the pod;
	// evictPressure, whether for the node's pressure.
	evictMsg      string
	evictPressure bool
	// stepCancel cancels the step in progress: a deletion interrupts a
	// sync (an image pull, say), an orphaning interrupts a graceful stop.
	stepCancel context.CancelFunc
	wake       chan struct{} // capacity 1

	// after, if not nil, must close before the worker starts.
	after <-chan struct{}
	// done is closed when the worker goroutine has returned.
	done chan struct{}

	// Owned by the worker goroutine.
	st      *podState
	sb      podSandbox
	events  eventRecorder
	adopted bool // st and sb come from a previous agent
	// removed is set once everything of the pod is gone from the node.
	removed bool
	// killFailed is set while killing the sandbox fails: its Done channel
	// is then no reason to wake up (the retry timer is).
	killFailed bool
	// written is the pod record as last persisted.
	written []byte

	snap atomic.Pointer[podSnapshot]
}

// podSnapshot is what other goroutines (Logs, Exec, Used) may know of a
// pod: immutable once published.
type podSnapshot struct {
	pod        *api.Pod
	status     api.PodStatus
	terminal   bool
	removed    bool
	sandbox    podSandbox
	containers map[string]containerSnapshot
}

// containerSnapshot is one container as Logs and Exec need it.
type containerSnapshot struct {
	init         bool
	started      bool
	running      bool
	restartCount int32
	// waiting is the reason of the waiting state the status shows.
	waiting string
	// done is closed when the latest instance exits; nil if none runs.
	done <-chan struct{}
}

func newPodWorker(r *Runtime, st *podState, sb podSandbox, after <-chan struct{}) *podWorker {
	w := &podWorker{
		r:       r,
		uid:     string(st.Pod.UID),
		log:     r.log.With("pod", st.Pod.Namespace+"/"+st.Pod.Name, "uid", st.Pod.UID),
		desired: st.Pod,
		wake:    make(chan struct{}, 1),
		after:   after,
		done:    make(chan struct{}),
		st:      st,
		sb:      sb,
		events:  eventRecorder{node: r.cfg.NodeName, now: r.now},
	}
	w.publishSnapshot()
	return w
}

// update gives the worker a new version of its pod. A new deletion
// interrupts the sync in progress, so that a pod stuck pulling an image
// still stops at once; a second deletion with a shorter grace period
// interrupts the graceful stop in progress, which then kills what is left
// at once (`delete --grace-period 1` after a plain delete).
func (w *podWorker) update(p *api.Pod) {
	w.mu.Lock()
	if sameDesire(w.desired, p) {
		w.mu.Unlock()
		return
	}
	deleting := p.DeletionTimestamp != nil && w.desired.DeletionTimestamp == nil
	shortened := p.DeletionTimestamp != nil && w.desired.DeletionTimestamp != nil && gracePeriod(p) < gracePeriod(w.desired)
	w.desired = p.DeepCopy()
	if (deleting || shortened) && w.stepCancel != nil {
		w.stepCancel()
	}
	w.mu.Unlock()
	w.poke()
}

// orphan tells the worker its pod is no longer wanted on this node: kill
// it at once and remove everything of it.
func (w *podWorker) orphan() {
	w.mu.Lock()
	if w.orphaned {
		w.mu.Unlock()
		return
	}
	w.orphaned = true
	if w.stepCancel != nil {
		w.stepCancel()
	}
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) isOrphaned() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.orphaned
}

// imageArrived wakes a worker whose containers wait for an image.
func (w *podWorker) imageArrived() { w.poke() }

// poke wakes the worker; wakes coalesce.
func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// mailbox returns what the worker must converge to, and a context for the
// step, cancelled by the next deletion or orphaning.
func (w *podWorker) mailbox() (*api.Pod, bool, context.Context, context.CancelFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx, cancel := context.WithCancel(w.r.ctx)
	w.stepCancel = cancel
	return w.desired, w.orphaned, ctx, cancel
}

// run is the worker goroutine: one step per wake-up, until the pod is
// removed and forgotten or the runtime stops.
func (w *podWorker) run() {
	defer close(w.done)
	defer w.r.forget(w)
	// A pod that comes back while its previous worker removes it waits
	// for that; a new pod waits for the leftovers of pods that are gone
	// to be removed (after an agent restart).
	for _, gate := range []<-chan struct{}{w.after, w.startGate()} {
		if gate == nil {
			continue
		}
		select {
		case <-gate:
		case <-w.r.ctx.Done():
			return
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		pod, orphaned, ctx, cancel := w.mailbox()
		next, finished := w.step(ctx, pod, orphaned)
		cancel()
		w.flush()
		if finished || w.r.ctx.Err() != nil {
			return
		}
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(next.Sub(w.r.now()), 0))
		}
		var sandboxDone <-chan struct{}
		if w.sb != nil && !w.st.Terminal && !w.removed && !w.killFailed {
			// Closed already if the pause died since the step: then the
			// loop goes round at once.
			sandboxDone = w.sb.Done()
		}
		select {
		case <-w.r.ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		case <-sandboxDone:
		}
	}
}

// step does what the pod needs now: remove it, or sync it. It returns when
// to come back at the latest (zero: only on an event) and whether the
// worker is finished.
func (w *podWorker) step(ctx context.Context, pod *api.Pod, orphaned bool) (time.Time, bool) {
	w.st.Pod = pod
	w.reconcileSpec()
	if w.adopted {
		w.adoptContainers()
		w.adopted = false
	}
	w.collectExits()
	w.collectProbes()
	w.takeEviction()
	switch {
	case orphaned, pod.DeletionTimestamp != nil:
		grace := time.Duration(0)
		if !orphaned {
			grace = gracePeriod(pod)
		}
		if !w.removed {
			if err := w.teardown(ctx, grace); err != nil {
				w.log.Warn("removing pod", "err", err)
				return w.r.now().Add(volumeRetry), false
			}
		}
		// A deleted pod's worker stays until the pod leaves the set, so
		// that it is not started again meanwhile.
		return time.Time{}, orphaned
	case w.removed:
		return time.Time{}, false
	}
	return w.syncPod(ctx), false
}

// startGate is what a worker waits for before it starts: nothing for an
// adopted pod (it runs already), the removal of leftovers for a new one.
func (w *podWorker) startGate() <-chan struct{} {
	if w.adopted {
		return nil
	}
	return w.r.cleaned
}

// reconcileSpec keeps the records in line with the spec's containers.
func (w *podWorker) reconcileSpec() {
	w.st.InitContainers = reconcileRecords(w.st.InitContainers, w.st.Pod.Spec.InitContainers, true)
	w.st.Containers = reconcileRecords(w.st.Containers, w.st.Pod.Spec.Containers, false)
}

// flush reports what changed since the last flush: the status (if it
// differs from the last one reported) and the events; it persists the pod
// record and publishes a new snapshot, before the update goes out, so
// that whoever reads the update finds Logs and Exec agreeing with it.
func (w *podWorker) flush() {
	w.collectProbes() // the containers started by this step count too
	events := w.events.take()
	var update *PodUpdate
	if !w.removed && !w.st.frozen {
		status := computeStatus(w.st, w.r.now())
		changed := !statusEqual(status, w.st.Status)
		w.st.Status = status
		if changed || len(events) > 0 {
			update = &PodUpdate{Namespace: w.st.Pod.Namespace, Name: w.st.Pod.Name, UID: w.uid,
				Status: status, Events: events}
		}
		w.persist()
	}
	// A frozen pod (one that finished before this node's records were
	// lost) keeps the status the cluster has; the runtime adds nothing.
	w.publishSnapshot()
	if update != nil {
		w.r.updates.push(*update)
	}
}

// publishSnapshot makes the current state visible to Logs, Exec and Used.
func (w *podWorker) publishSnapshot() {
	s := &podSnapshot{
		pod:        w.st.Pod,
		status:     w.st.Status,
		terminal:   w.st.Terminal,
		removed:    w.removed,
		sandbox:    w.sb,
		containers: map[string]containerSnapshot{},
	}
	waiting := map[string]string{}
	for _, list := range [][]api.ContainerStatus{w.st.Status.InitContainerStatuses, w.st.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.State.Waiting != nil {
				waiting[cs.Name] = cs.State.Waiting.Reason
			}
		}
	}
	for _, recs := range [][]*containerRecord{w.st.InitContainers, w.st.Containers} {
		for _, rec := range recs {
			cs := containerSnapshot{
				init:         rec.Init,
				started:      rec.Started,
				running:      rec.Running,
				restartCount: rec.RestartCount,
				waiting:      waiting[rec.Name],
			}
			if rec.inst != nil {
				cs.done = rec.inst.done
			}
			s.containers[rec.Name] = cs
		}
	}
	w.snap.Store(s)
}

// snapshot returns the latest published snapshot.
func (w *podWorker) snapshot() *podSnapshot { return w.snap.Load() }

// sandboxState says what the worker knows of the pod's sandbox.
func (w *podWorker) sandboxState() sandboxState {
	switch {
	case w.sb == nil:
		return sandboxNone
	case w.sb.Running():
		return sandboxReady
	}
	return sandboxDead
}
