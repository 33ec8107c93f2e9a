package runtime

import (
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// evictionRecord is why the runtime evicted a pod, persisted with it so a
// restarted agent keeps reporting it.
type evictionRecord struct {
	Message string `json:"message"`
	// NodePressure marks an eviction for the node's pressure rather than
	// the pod's own limits: kubelet then adds the DisruptionTarget
	// condition (reason TerminationByKubelet), since the pod did nothing
	// wrong.
	NodePressure bool      `json:"nodePressure,omitempty"`
	At           time.Time `json:"at,omitzero"`
}

// nodePressure is what the last housekeeping found: the pressure
// conditions that hold, published for the agent to report.
type nodePressure struct {
	conditions []api.NodeConditionType
}

// Pressure returns the node conditions of type MemoryPressure,
// DiskPressure and PIDPressure that hold now (sorted; none before the first housekeeping),
// for the agent to report on its Node. It is safe for concurrent use.
func (r *Runtime) Pressure() []api.NodeConditionType {
	if p := r.pressure.Load(); p != nil {
		return slices.Clone(p.conditions)
	}
	return nil
}

// podCleanupTimeout is kubelet's: how long the eviction manager waits
// for the pods it evicted to be cleaned up before its next round.
const podCleanupTimeout = 30 * time.Second

// pendingCleanup is what the eviction manager's last evictions wait for:
// the pods it evicted, until their processes and cgroups are gone or
// podCleanupTimeout has passed (kubelet's waitForPodsCleanup).
type pendingCleanup struct {
	uids  []string
	until time.Time
}

// observeNode measures the node's signals: memory.available from the root
// cgroup, the data dir's and image store's file systems, pid.available.
func (r *Runtime) observeNode() eviction.Observations {
	obs := eviction.Observations{}
	if err := eviction.MemoryObservation(r.memory, obs); err != nil {
		r.log.Debug("eviction signals", "error", err)
	}
	if err := eviction.FsObservations(r.cfg.Root, eviction.SignalNodeFsAvailable, eviction.SignalNodeFsInodesFree, obs); err != nil {
		r.log.Warn("eviction signals", "error", err)
	}
	if err := eviction.FsObservations(r.cfg.imagesDir(), eviction.SignalImageFsAvailable, eviction.SignalImageFsInodesFree, obs); err != nil {
		r.log.Warn("eviction signals", "error", err)
	}
	// pid.available: the node's pid capacity less its tasks, as kubelet's
	// pidlimit.Stats; PIDPressure when --eviction-hard has a threshold
	// for it (kubelet's defaults have none).
	if s, err := ReadPIDStats(); err != nil {
		r.log.Debug("eviction signals", "error", err)
	} else {
		obs[eviction.SignalPIDAvailable] = eviction.Observation{Available: s.Available(), Capacity: s.MaxPID}
	}
	return obs
}

// housekeeping is one round of kubelet's eviction manager (its
// synchronize), on Run's goroutine:
//
//	Step 1: observe the node's signals; the thresholds met give the
//	        pressure conditions, published for the agent.
//	Step 2: while the pods evicted by an earlier round are not cleaned up
//	        (and for at most podCleanupTimeout), evict nothing: the
//	        observations do not show yet what their eviction frees.
//	Step 3: evict every pod over its local storage limits (an emptyDir's
//	        sizeLimit, the pod's total, a container's own); if any was,
//	        the round ends.
//	Step 4: if a threshold is met, take the one to reclaim (memory first),
//	        rank the running pods for its signal as kubelet does, and
//	        evict the first that is not critical: one pod per round, so
//	        that the next round sees what that freed.
//
// A hard threshold evicts at once, without grace period. Unlike kubelet,
// the runtime does not first reclaim node-level resources (unused images,
// dead containers' layers) under disk pressure.
func (r *Runtime) housekeeping() {
	// Step 1: the signals, the conditions.
	obs := r.observe()
	met := eviction.ThresholdsMet(r.cfg.EvictionHard, obs)
	now := r.now()
	conds := r.pressureState.Update(met, now)
	if prev := r.Pressure(); !slices.Equal(prev, conds) {
		r.log.Info("node pressure changed", "conditions", conds, "thresholds_met", met)
	}
	r.pressure.Store(&nodePressure{conditions: conds})

	// Step 2: the last evictions' cleanup.
	if r.cleanup != nil {
		if !r.cleanedUp(r.cleanup.uids) && now.Before(r.cleanup.until) {
			return
		}
		r.cleanup = nil
	}

	// Step 3: local storage limits.
	reclaim, pressure := eviction.ThresholdToReclaim(met)
	disk := pressure && reclaim.Signal != eviction.SignalMemoryAvailable && reclaim.Signal != eviction.SignalPIDAvailable
	var candidates []eviction.Candidate
	workers := map[*api.Pod]*podWorker{}
	var evicted []string
	for _, w := range r.activeWorkers() {
		s := w.snapshot()
		if s.terminal || s.removed || s.pod.DeletionTimestamp != nil || s.sandbox == nil {
			continue
		}
		u := r.podUsage(s.pod, !disk)
		if msg := eviction.LocalStorageVerdict(s.pod, u); msg != "" {
			w.evict(msg, false)
			evicted = append(evicted, w.uid)
			continue
		}
		candidates = append(candidates, eviction.Candidate{Pod: s.pod, Usage: u})
		workers[s.pod] = w
	}
	if len(evicted) > 0 {
		r.cleanup = &pendingCleanup{uids: evicted, until: now.Add(r.podCleanupTimeout)}
		return
	}

	// Step 4: node pressure.
	if !pressure || len(candidates) == 0 {
		return
	}
	if !disk {
		r.readPodStats(candidates)
	}
	eviction.Rank(reclaim.Signal, candidates)
	for _, c := range candidates {
		if eviction.IsCritical(c.Pod) {
			r.log.Warn("eviction manager: cannot evict a critical pod", "pod", podFullName(c.Pod))
			continue
		}
		w := workers[c.Pod]
		w.evict(eviction.PressureMessage(reclaim, obs[reclaim.Signal], c), true)
		r.cleanup = &pendingCleanup{uids: []string{w.uid}, until: now.Add(r.podCleanupTimeout)}
		return
	}
	r.log.Info("eviction manager: unable to evict any pods from the node", "threshold", reclaim.String())
}

// readPodStats reads the memory and processes of each candidate's
// cgroups; a pod whose cgroups cannot be read keeps no stats (and ranks
// first, as in kubelet).
func (r *Runtime) readPodStats(candidates []eviction.Candidate) {
	reader, ok := r.sandbox.(podStatsReader)
	if !ok {
		return
	}
	for i := range candidates {
		p := candidates[i].Pod
		var names []string
		for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
			names = append(names, c.Name)
		}
		s, err := reader.PodStats(string(p.UID), names)
		if err != nil {
			r.log.Warn("eviction manager: reading pod stats", "pod", podFullName(p), "error", err)
			continue
		}
		candidates[i].Stats = &s
	}
}

// cleanedUp tells whether the pods of these UIDs are cleaned up after
// their eviction: their processes killed and their sandbox (cgroups,
// network) destroyed, or the pod gone (kubelet's podResourcesAreReclaimed
// as far as the runtime holds resources for a terminal pod).
func (r *Runtime) cleanedUp(uids []string) bool {
	for _, uid := range uids {
		r.mu.Lock()
		w := r.workers[uid]
		r.mu.Unlock()
		if w == nil {
			continue
		}
		if s := w.snapshot(); !s.removed && !(s.terminal && s.sandbox == nil) {
			return false
		}
	}
	return true
}

// activeWorkers lists the workers, outside the runtime's lock.
func (r *Runtime) activeWorkers() []*podWorker {
	r.mu.Lock()
	defer r.mu.Unlock()
	ws := make([]*podWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	return ws
}

// podUsage measures a pod's local ephemeral storage: each container's
// writable layer and logs, each emptyDir not on tmpfs. With bounded set,
// an emptyDir's walk stops past its sizeLimit when the pod has no
// ephemeral-storage limit (nothing else needs the exact figure then),
// which bounds the cost of a pod that fills its emptyDir without end.
func (r *Runtime) podUsage(p *api.Pod, bounded bool) eviction.PodUsage {
	uid := string(p.UID)
	u := eviction.PodUsage{Containers: map[string]eviction.ContainerUsage{}, Volumes: map[string]int64{}}
	layers, _ := r.sandbox.(writableLayers)
	podLimited := false
	for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
		_, limited := c.Resources.Limits[api.ResourceEphemeralStorage]
		podLimited = podLimited || limited
		var cu eviction.ContainerUsage
		if layers != nil {
			cu.Rootfs = r.measure(layers.UpperDir(uid, c.Name), 0)
		}
		cu.Logs = r.measure(filepath.Join(r.podDir(uid), "logs", c.Name), 0)
		u.Containers[c.Name] = cu
	}
	for _, v := range p.Spec.Volumes {
		d := v.EmptyDir
		if d == nil || d.Medium == "Memory" {
			continue
		}
		var bound int64
		if bounded && !podLimited && d.SizeLimit != nil {
			bound = d.SizeLimit.Value()
		}
		u.Volumes[v.Name] = r.measure(filepath.Join(r.podDir(uid), "volumes", v.Name), bound)
	}
	return u
}

// measure is eviction.DirUsage, logging (and counting as what it got so
// far) a tree it could not read whole.
func (r *Runtime) measure(dir string, stopAbove int64) int64 {
	n, err := eviction.DirUsage(dir, stopAbove)
	if err != nil {
		r.log.Warn("measuring local ephemeral storage", "path", dir, "error", err)
	}
	return n
}

// evict asks the worker to evict its pod with kubelet's message: the pod
// fails with reason Evicted and its containers are killed at once (a hard
// eviction has no grace period). nodePressure says the node's pressure,
// not the pod's limits, is the cause.
func (w *podWorker) evict(msg string, nodePressure bool) {
	w.mu.Lock()
	if w.evictMsg != "" {
		w.mu.Unlock()
		return
	}
	w.evictMsg, w.evictPressure = msg, nodePressure
	if w.stepCancel != nil {
		w.stepCancel()
	}
	w.mu.Unlock()
	w.poke()
}

// takeEviction applies a pending eviction to the pod's state, once: it
// turns terminal with the message, and the sync that follows kills it.
func (w *podWorker) takeEviction() {
	w.mu.Lock()
	msg, pressure := w.evictMsg, w.evictPressure
	w.mu.Unlock()
	if msg == "" || w.st.Terminal || w.st.Evicted != nil {
		return
	}
	w.st.Terminal = true
	w.st.Evicted = &evictionRecord{Message: msg, NodePressure: pressure, At: w.r.now()}
	for _, rec := range w.allRecords() {
		rec.Waiting = nil
	}
	w.events.record(w.st.Pod, api.EventTypeWarning, eviction.Reason, "%s", msg)
	w.log.Warn("evicting pod", "message", msg)
}

// disruptionCondition is the condition kubelet adds to a pod it evicts for
// the node's pressure.
func disruptionCondition(e *evictionRecord) api.PodCondition {
	return api.PodCondition{Type: corev1.DisruptionTarget, Status: api.ConditionTrue,
		Reason: corev1.PodReasonTerminationByKubelet, Message: e.Message, LastTransitionTime: api.NewTime(e.At)}
}
