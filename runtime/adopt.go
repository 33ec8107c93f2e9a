package runtime

import (
	"context"
	"errors"
	"slices"

	"github.com/gossipod/gossipod/api"
)

// adoptLocked settles, at the first SyncPods, what New found on disk: the
// records and sandboxes of pods still bound here are handed to workers
// that re-adopt their containers without restarting them; everything of
// the other pods (sandbox, volumes, logs, record) is destroyed, in the
// background, before any new pod starts. Sandboxes without a record (a
// crash between creating one and recording it) are destroyed too.
func (r *Runtime) adoptLocked(desired map[string]*api.Pod) {
	r.adopted = true
	ids, err := r.sandbox.Sandboxes()
	if err != nil {
		r.log.Error("listing sandboxes on disk; none re-adopted", "err", err)
	}
	var goneSandboxes, goneDirs []string
	for _, id := range ids {
		if st := r.found[id]; st == nil || desired[id] == nil {
			goneSandboxes = append(goneSandboxes, id)
		}
	}
	for uid, st := range r.found {
		p := desired[uid]
		if st == nil || p == nil {
			goneDirs = append(goneDirs, uid)
			continue
		}
		st.Pod = p.DeepCopy()
		var sb podSandbox
		if slices.Contains(ids, uid) {
			sb, err = r.sandbox.Sandbox(uid)
			if err != nil {
				// Half-created or damaged: destroy it, and let the worker
				// create a new one after that.
				r.log.Warn("sandbox cannot be re-adopted; it will be destroyed and the pod restarted", "uid", uid, "err", err)
				goneSandboxes = append(goneSandboxes, uid)
				sb = nil
			}
		}
		w := newPodWorker(r, st, sb, nil)
		w.adopted = true
		r.workers[uid] = w
		r.wg.Go(w.run)
		r.log.Info("re-adopting pod", "pod", p.Namespace+"/"+p.Name, "uid", uid, "sandbox", sb != nil)
	}
	r.found = nil
	if len(goneSandboxes) == 0 && len(goneDirs) == 0 {
		close(r.cleaned)
		return
	}
	r.wg.Go(func() {
		defer close(r.cleaned)
		r.removeLeftovers(goneSandboxes, goneDirs)
	})
}

// removeLeftovers destroys the sandboxes and removes the directories of
// pods that are gone, each on a bounded context.
func (r *Runtime) removeLeftovers(sandboxes, dirs []string) {
	for _, id := range sandboxes {
		ctx, cancel := context.WithTimeout(r.ctx, r.cleanupTimeout)
		err := r.sandbox.DestroySandbox(ctx, id)
		cancel()
		if err != nil && !errors.Is(err, errNotFound) {
			r.log.Error("destroying the sandbox of a pod that is gone", "uid", id, "err", err)
			continue
		}
		r.log.Info("destroyed the sandbox of a pod that is gone", "uid", id)
	}
	for _, uid := range dirs {
		if err := r.removePodDir(uid); err != nil {
			r.log.Error("removing the directory of a pod that is gone", "uid", uid, "err", err)
		}
	}
}

// adoptContainers re-attaches an adopted worker to the container instances
// the previous agent started. One that still runs is watched again, not
// restarted; one that is gone is recorded as ended with
// ContainerStatusUnknown (137), and the restart policy decides the rest.
func (w *podWorker) adoptContainers() {
	for _, rec := range w.allRecords() {
		if !rec.Running {
			continue
		}
		var h podContainer
		if w.sb != nil && rec.Gen == w.st.SandboxGen {
			c, err := w.sb.Container(rec.Name)
			if err == nil && c.ID() == rec.ID {
				h = c
			} else if err != nil && !errors.Is(err, errNotFound) {
				w.log.Warn("re-adopting container", "container", rec.Name, "err", err)
			}
		}
		if h == nil {
			rec.Running = false
			rec.Exit = &termination{
				ExitCode:   137,
				Reason:     reasonStatusUnknown,
				Message:    "The container could not be located when the agent restarted",
				StartedAt:  rec.StartedAt,
				FinishedAt: w.r.now(),
			}
			continue
		}
		w.watch(rec, h, true)
		w.log.Info("re-adopted container", "container", rec.Name, "pid", h.Pid(), "restartCount", rec.RestartCount)
	}
}
