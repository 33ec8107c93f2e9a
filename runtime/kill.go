package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
)

// exitWait bounds how long a kill waits for a dead container's exit to be
// reported; past it the container is recorded as killed.
const exitWait = 5 * time.Second

// killContainer stops one running container (SIGTERM, then SIGKILL after
// grace) and records its exit.
func (w *podWorker) killContainer(ctx context.Context, rec *containerRecord, grace time.Duration, msg string) {
	if !rec.Running || rec.inst == nil {
		return
	}
	if msg == "" {
		msg = "Stopping container " + rec.Name
	}
	w.events.record(w.st.Pod, api.EventTypeNormal, eventKilling, "%s", msg)
	hookFailure, err := w.stopInstance(ctx, rec, w.containerSpec(rec), grace, nil)
	if hookFailure != "" {
		w.events.record(w.st.Pod, api.EventTypeWarning, eventFailedPreStopHook, "%s", hookFailure)
	}
	if err != nil && !errors.Is(err, errNotFound) {
		w.log.Warn("stopping container", "container", rec.Name, "err", err)
	}
	w.awaitExits([]*containerRecord{rec})
}

// containerSpec is the spec of a record's container, nil if the spec has
// none of that name.
func (w *podWorker) containerSpec(rec *containerRecord) *api.Container {
	cs := w.st.Pod.Spec.Containers
	if rec.Init {
		cs = w.st.Pod.Spec.InitContainers
	}
	for i := range cs {
		if cs[i].Name == rec.Name {
			return &cs[i]
		}
	}
	return nil
}

// killPod stops every running container of the pod, all at once, each
// with its preStop hook, SIGTERM and SIGKILL after grace (none of it when
// grace is 0; see stopInstance), then
// destroys the sandbox, which kills whatever is left and removes its
// processes, mounts and cgroups. Cancelling ctx cuts the grace short. The
// destruction itself runs on its own bounded context, so that it is not
// abandoned half-way; if it fails, the sandbox is kept for the next try.
func (w *podWorker) killPod(ctx context.Context, grace time.Duration) error {
	var running []*containerRecord
	for _, rec := range w.allRecords() {
		if rec.Running && rec.inst != nil {
			running = append(running, rec)
			w.events.record(w.st.Pod, api.EventTypeNormal, eventKilling, "Stopping container %s", rec.Name)
		}
	}
	if grace > 0 && len(running) > 0 && w.sandboxState() == sandboxReady {
		var wg sync.WaitGroup
		hookFailures := make([]string, len(running))
		after := stopOrder(running, w.containerSpec)
		stopped := make([]chan struct{}, len(running))
		for i := range running {
			stopped[i] = make(chan struct{})
		}
		for i, rec := range running {
			c := w.containerSpec(rec)
			var turn []<-chan struct{}
			for _, j := range after[i] {
				turn = append(turn, stopped[j])
			}
			wg.Go(func() {
				defer close(stopped[i])
				var err error
				hookFailures[i], err = w.stopInstance(ctx, rec, c, grace, turn)
				if err != nil && ctx.Err() == nil && !errors.Is(err, errNotFound) {
					w.log.Warn("stopping container", "container", rec.Name, "err", err)
				}
			})
		}
		wg.Wait()
		for _, f := range hookFailures {
			if f != "" {
				w.events.record(w.st.Pod, api.EventTypeWarning, eventFailedPreStopHook, "%s", f)
			}
		}
	}
	if w.sb != nil {
		dctx, cancel := context.WithTimeout(w.r.ctx, w.r.cleanupTimeout)
		err := w.sb.Destroy(dctx)
		cancel()
		if err != nil && !errors.Is(err, errNotFound) {
			return fmt.Errorf("destroy sandbox of pod %s: %w", podFullName(w.st.Pod), err)
		}
		w.sb = nil
	}
	w.awaitExits(running)
	return nil
}

// stopOrder is kubelet's termination ordering for a pod with sidecars:
// for each of running (init containers first, in spec order, then app
// containers), the indexes of those that must have stopped before it gets
// SIGTERM. The app containers (and regular init containers) stop at once;
// the sidecars after them, in reverse order: each waits for every
// non-sidecar and every sidecar after it.
func stopOrder(running []*containerRecord, spec func(*containerRecord) *api.Container) [][]int {
	isSidecar := make([]bool, len(running))
	for i, rec := range running {
		if c := spec(rec); rec.Init && c != nil && api.IsSidecar(c) {
			isSidecar[i] = true
		}
	}
	out := make([][]int, len(running))
	for i := range running {
		if !isSidecar[i] {
			continue
		}
		for j := range running {
			if !isSidecar[j] || j > i {
				out[i] = append(out[i], j)
			}
		}
	}
	return out
}

// awaitExits waits (bounded) for the exits of containers whose processes
// were killed and records them; a container whose exit does not come in
// time is recorded as killed (137).
func (w *podWorker) awaitExits(recs []*containerRecord) {
	deadline := time.NewTimer(exitWait)
	defer deadline.Stop()
	for _, rec := range recs {
		if rec.inst == nil {
			continue
		}
		select {
		case <-rec.inst.done:
		case <-deadline.C:
		case <-w.r.ctx.Done():
			return
		}
	}
	w.collectExits()
	for _, rec := range recs {
		if rec.Running {
			rec.Running = false
			rec.Exit = terminationOf(exitStatus{Signal: 9}, nil, rec.StartedAt, w.r.now())
		}
	}
}

// teardown removes everything of the pod from this node: its containers
// (gracefully when grace > 0), its sandbox, its volumes and its directory.
// It then reports the pod's final status with Removed, which lets the
// agent confirm the deletion.
func (w *podWorker) teardown(ctx context.Context, grace time.Duration) error {
	if err := w.killPod(ctx, grace); err != nil {
		return err
	}
	w.st.Terminal = true
	for _, rec := range w.allRecords() {
		rec.Waiting = nil
	}
	if err := w.removePodDir(); err != nil {
		return err
	}
	w.removed = true
	status := computeStatus(w.st, w.r.now())
	if w.st.frozen {
		status = w.st.Pod.Status
	}
	w.st.Status = status
	w.publishSnapshot()
	w.r.updates.push(PodUpdate{Namespace: w.st.Pod.Namespace, Name: w.st.Pod.Name, UID: w.uid,
		Status: status, Events: w.events.take(), Removed: true})
	w.log.Info("pod removed")
	return nil
}
