package runtime

import (
	"fmt"
	"time"

	"github.com/gossipod/gossipod/api"
)

// sandboxState is what the worker knows of the pod's sandbox.
type sandboxState int

const (
	// sandboxNone: there is no sandbox (never created, or destroyed).
	sandboxNone sandboxState = iota
	// sandboxReady: the pause process runs; containers can start in it.
	sandboxReady
	// sandboxDead: the sandbox exists but its pause process is gone, so
	// the pod's shared namespaces are broken: it must be destroyed and the
	// pod restarted in a new one.
	sandboxDead
)

// String names the state for logs and test messages.
func (s sandboxState) String() string {
	switch s {
	case sandboxReady:
		return "ready"
	case sandboxDead:
		return "dead"
	}
	return "none"
}

// podActions is the plan of one sync, kubelet's podActions: what to kill
// and what to start, computed from the state alone, then carried out in
// order by syncPod.
type podActions struct {
	// KillPod stops every container and destroys the sandbox first.
	KillPod bool
	// Graceful: KillPod gives the running containers the pod's grace
	// period (the sidecars left when a pod completes), not SIGKILL.
	Graceful bool
	// Terminal: the pod has finished and never runs again.
	Terminal bool
	// Resync asks for another plan right after this one is carried out
	// (after killing a dead sandbox, to plan with the containers' real
	// exits).
	Resync bool
	// CreateSandbox creates a new sandbox (a new generation).
	CreateSandbox bool
	// KillContainers are running containers (app containers, sidecars) to
	// stop before being started again, with the Killing event's message.
	KillContainers []killAction
	// StartInits are the init containers to start: the next one, or
	// sidecars to restart.
	StartInits []startAction
	// StartContainers are the app containers to start, in spec order.
	StartContainers []startAction
	// Waits are containers that should run but must wait for their
	// back-off to end.
	Waits []waitAction
	// NextSync is when the earliest back-off ends; zero for none.
	NextSync time.Time
}

// killAction is one container to stop, with why. Grace, if set, replaces
// the pod's grace period (a probe's terminationGracePeriodSeconds); Probe
// says a failed probe is why, so that the container restarts (or not)
// after its exit, per restart policy and back-off.
type killAction struct {
	Init    bool
	Index   int
	Message string
	Grace   *time.Duration
	Probe   bool
}

// startAction is one container to start. Backoff, when set, is the
// container's back-off entry after this restart (kubelet's Backoff.Next);
// a first start or a restart for a new spec leaves it unchanged.
type startAction struct {
	Index   int
	Backoff *backoffEntry
}

// waitAction is one container held back by its back-off: the waiting
// state to show and the BackOff event to report.
type waitAction struct {
	Init    bool
	Index   int
	Waiting waitReason
	Event   string
}

// computePodActions plans one sync of a pod, as kubelet's
// computePodActions: a finished pod only loses what is left of its
// sandbox; a dead sandbox is killed first; a pod without a sandbox gets
// one (unless its containers already ran and its restart policy says they
// stay down) and starts from its first init container; in a ready sandbox
// the init containers run one at a time, each to success, and then the app
// containers start and restart per restart policy and back-off.
// Sidecars (init containers with restartPolicy Always) start in order
// with the other init containers, but the next one starts as soon as a
// sidecar has started (its startup probe passed); they are restarted
// whenever they exit, whatever the pod's restart policy, and do not hold
// the pod's completion back: when the app containers are done, the pod
// completes and its sidecars are stopped. It is pure
// (state and time in, plan out), so the rules are tested on tables.
func computePodActions(st *podState, sb sandboxState, now time.Time, bo backoffPolicy) podActions {
	pod := st.Pod
	policy := pod.Spec.RestartPolicy
	if st.Terminal {
		return podActions{Terminal: true, KillPod: sb != sandboxNone}
	}
	if sb == sandboxDead {
		// The pod's namespaces are gone with its pause: kill what is left,
		// then plan again with the containers' exits known.
		return podActions{KillPod: true, Resync: true}
	}

	var a podActions
	if sb == sandboxNone {
		anyStarted := false
		for _, r := range append(append([]*containerRecord(nil), st.InitContainers...), st.Containers...) {
			anyStarted = anyStarted || r.Started
		}
		// Containers that ran stay down under Never; under OnFailure those
		// that succeeded do (kubelet does not re-create the sandbox for
		// them).
		if anyStarted && policy == api.RestartPolicyNever {
			return podActions{Terminal: true}
		}
		var apps []int
		for i, r := range st.Containers {
			if policy == api.RestartPolicyOnFailure && succeeded(r) {
				continue
			}
			apps = append(apps, i)
		}
		if anyStarted && len(apps) == 0 {
			return podActions{Terminal: true}
		}
		a.CreateSandbox = true
		if len(st.InitContainers) > 0 {
			a.startOrWait(st, true, 0, now, bo)
			return a
		}
		for _, i := range apps {
			a.startOrWait(st, false, i, now, bo)
		}
		return a
	}

	// The sandbox is ready. Step A: the init containers, one at a time,
	// each to success (a sidecar: until started), before anything else.
	// Once the app containers have started, a sidecar that exits is
	// restarted beside them instead.
	gen := st.SandboxGen
	appsStarted := false
	for _, r := range st.Containers {
		appsStarted = appsStarted || r.Gen == gen && r.Started
	}
	for i, r := range st.InitContainers {
		ranHere := r.Gen == gen && r.Started
		if c := &pod.Spec.InitContainers[i]; api.IsSidecar(c) {
			switch {
			case ranHere && r.Running:
				if msg, grace, kill := probeKill(c, r.probe, api.RestartPolicyAlways); kill {
					a.KillContainers = append(a.KillContainers, killAction{Init: true, Index: i, Message: msg, Grace: grace, Probe: true})
				} else if r.probe.notStarted && !appsStarted {
					return a // the next waits for its startup probe
				}
				continue
			case ranHere && r.Exit == nil:
				// Its exit is being collected; the next sync sees it.
			default:
				a.startOrWait(st, true, i, now, bo)
			}
			if appsStarted {
				continue
			}
			return a
		}
		switch {
		case ranHere && r.Running:
			return a // wait for it to finish
		case ranHere && r.Exit != nil && r.Exit.ExitCode == 0:
			continue
		case ranHere && r.Exit != nil && policy == api.RestartPolicyNever:
			// A failed init container fails the pod under Never; the
			// sidecars started before it are stopped gracefully.
			return podActions{Terminal: true, KillPod: true, Graceful: true}
		case appsStarted && ranHere:
			continue // initialized already: it never runs again here
		}
		a.startOrWait(st, true, i, now, bo)
		return a
	}

	// Step B: the app containers.
	running := 0
	sidecarWaits := len(a.Waits)
	for i, r := range st.Containers {
		ranHere := r.Gen == gen && r.Started
		c := &pod.Spec.Containers[i]
		switch {
		case ranHere && r.Running:
			if r.Hash != "" && r.Hash != containerHash(c) {
				a.KillContainers = append(a.KillContainers, killAction{Index: i,
					Message: fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)})
				a.StartContainers = append(a.StartContainers, startAction{Index: i})
				continue
			}
			if msg, grace, kill := probeKill(c, r.probe, policy); kill {
				// Failed its liveness (or startup) probe: killed now,
				// restarted once its exit is seen, like any exit.
				a.KillContainers = append(a.KillContainers, killAction{Index: i, Message: msg, Grace: grace, Probe: true})
			}
			running++
		case ranHere && r.Exit != nil:
			if shouldRestart(policy, r.Exit.ExitCode) {
				a.startOrWait(st, false, i, now, bo)
			}
		case ranHere:
			// Started here, neither running nor exited: the exit is being
			// collected; the next sync sees it.
			running++
		default:
			// Not started in this sandbox yet (or its start failed).
			if policy == api.RestartPolicyOnFailure && succeeded(r) {
				continue
			}
			if policy == api.RestartPolicyNever && r.Started {
				continue
			}
			a.startOrWait(st, false, i, now, bo)
		}
	}
	if running == 0 && len(a.StartContainers) == 0 && len(a.Waits) == sidecarWaits {
		// Every app container ended and none is to restart: the pod is
		// done, and its sidecars are stopped, gracefully.
		return podActions{Terminal: true, KillPod: true, Graceful: true}
	}
	return a
}

// succeeded reports whether the container's latest instance exited 0.
func succeeded(r *containerRecord) bool {
	return r.Started && !r.Running && r.Exit != nil && r.Exit.ExitCode == 0
}

// lastFailure is the time of the event the container's back-off counts
// from: its latest exit, or its latest failed start.
func lastFailure(r *containerRecord) time.Time {
	var t time.Time
	if r.Exit != nil {
		t = r.Exit.FinishedAt
	}
	if r.FailedAt.After(t) {
		t = r.FailedAt
	}
	return t
}

// startOrWait plans to start a container, unless its back-off holds it,
// in which case it waits (CrashLoopBackOff, or the start error it last
// had) until the back-off ends. This is kubelet's doBackOff.
func (a *podActions) startOrWait(st *podState, init bool, i int, now time.Time, bo backoffPolicy) {
	recs := st.Containers
	if init {
		recs = st.InitContainers
	}
	r := recs[i]
	failedAt := lastFailure(r)
	if failedAt.IsZero() {
		// First start: no back-off.
		a.addStart(init, startAction{Index: i})
		return
	}
	if until, wait := bo.wait(r.Backoff, failedAt, now); wait {
		w := waitReason{
			Reason: reasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s",
				r.Backoff.Delay, r.Name, podFullName(st.Pod)),
		}
		if r.Waiting != nil && (r.Waiting.Reason == reasonCreateContainerError || r.Waiting.Reason == reasonCreateContainerConfigError) && !r.FailedAt.Before(failedAt) {
			w = *r.Waiting // the start failed: keep showing why
		}
		a.Waits = append(a.Waits, waitAction{Init: init, Index: i, Waiting: w,
			Event: fmt.Sprintf("Back-off restarting failed container %s in pod %s", r.Name, podFullName(st.Pod))})
		if a.NextSync.IsZero() || until.Before(a.NextSync) {
			a.NextSync = until
		}
		return
	}
	next := bo.next(r.Backoff, failedAt)
	a.addStart(init, startAction{Index: i, Backoff: &next})
}

func (a *podActions) addStart(init bool, s startAction) {
	if init {
		a.StartInits = append(a.StartInits, s)
		return
	}
	a.StartContainers = append(a.StartContainers, s)
}
