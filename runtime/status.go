package runtime

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// containerIDPrefix is the runtime part of a containerID, as containerd's
// "containerd://<id>".
const containerIDPrefix = "gossipod://"

// computeStatus is the pod status the state shows at now: container
// statuses from the records, then the phase and the conditions from those
// statuses, as kubelet's generateAPIPodStatus does. prev is the status last
// reported: conditions keep their transition time while their value holds.
// It is a pure function, so every rule is tested on tables.
func computeStatus(st *podState, now time.Time) api.PodStatus {
	pod := st.Pod
	hasInit := len(pod.Spec.InitContainers) > 0
	// hostIP is the agent's to set; podIP is the sandbox's.
	var status api.PodStatus
	if st.PodIP != "" {
		status.PodIP = st.PodIP
		status.PodIPs = []api.PodIP{{IP: st.PodIP}}
	}
	if !st.StartTime.IsZero() {
		t := api.NewTime(st.StartTime)
		status.StartTime = &t
	}
	sidecars := map[string]bool{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if api.IsSidecar(c) {
			sidecars[c.Name] = true
		}
		status.InitContainerStatuses = append(status.InitContainerStatuses,
			containerStatus(recordFor(st.InitContainers, i), c, hasInit))
	}
	for i := range pod.Spec.Containers {
		status.ContainerStatuses = append(status.ContainerStatuses,
			containerStatus(recordFor(st.Containers, i), &pod.Spec.Containers[i], hasInit))
	}
	status.Phase = podPhase(pod, status.InitContainerStatuses, status.ContainerStatuses, st.Terminal)
	if st.Evicted != nil {
		// As kubelet's evictPod sets it.
		status.Phase = api.PodFailed
		status.Reason = eviction.Reason
		status.Message = st.Evicted.Message
	}
	status.Conditions = podConditions(status, sidecars, st.Status.Conditions, now)
	if st.Evicted != nil && st.Evicted.NodePressure {
		status.Conditions = append(status.Conditions, disruptionCondition(st.Evicted))
	}
	return status
}

// recordFor returns recs[i], or an empty record if the records do not
// cover the spec (they always do once reconciled; this keeps a status
// computation from panicking on a bug).
func recordFor(recs []*containerRecord, i int) *containerRecord {
	if i < len(recs) && recs[i] != nil {
		return recs[i]
	}
	return &containerRecord{}
}

// containerStatus is one container's status. A container that never
// started waits with ContainerCreating, or PodInitializing in a pod with
// init containers (kubelet's default waiting state).
func containerStatus(rec *containerRecord, c *api.Container, podHasInit bool) api.ContainerStatus {
	cs := api.ContainerStatus{
		Name:         c.Name,
		Image:        c.Image,
		ImageID:      rec.ImageID,
		RestartCount: rec.RestartCount,
	}
	if rec.ID != "" {
		cs.ContainerID = containerIDPrefix + rec.ID
	}
	started := false
	switch {
	case rec.Running:
		cs.State.Running = &api.ContainerStateRunning{StartedAt: api.NewTime(rec.StartedAt)}
		cs.LastTerminationState = terminatedState(rec.Last)
		// Started once its startup probe succeeded (at once without one);
		// ready once started and its readiness probe succeeded (at once
		// without one), as kubelet's prober manager says. An init
		// container is ready once it completed; a sidecar as an app
		// container.
		started = !rec.probe.notStarted
		cs.Ready = (!rec.Init || api.IsSidecar(c)) && started && !rec.probe.notReady
	case rec.Waiting != nil:
		cs.State.Waiting = &api.ContainerStateWaiting{Reason: rec.Waiting.Reason, Message: rec.Waiting.Message}
		// A container waiting to be restarted shows why its previous
		// instance ended.
		if rec.Exit != nil {
			cs.LastTerminationState = terminatedState(rec.Exit)
		} else {
			cs.LastTerminationState = terminatedState(rec.Last)
		}
	case rec.Exit != nil:
		cs.State = terminatedState(rec.Exit)
		cs.LastTerminationState = terminatedState(rec.Last)
		cs.Ready = rec.Init && !api.IsSidecar(c) && rec.Exit.ExitCode == 0
	default:
		reason := reasonContainerCreating
		if podHasInit {
			reason = reasonPodInitializing
		}
		cs.State.Waiting = &api.ContainerStateWaiting{Reason: reason}
	}
	cs.Started = &started
	return cs
}

// terminatedState is a termination as an API state; nil gives the empty
// state.
func terminatedState(t *termination) api.ContainerState {
	if t == nil {
		return api.ContainerState{}
	}
	return api.ContainerState{Terminated: &api.ContainerStateTerminated{
		ExitCode:   t.ExitCode,
		Signal:     t.Signal,
		Reason:     t.Reason,
		Message:    t.Message,
		StartedAt:  api.NewTime(t.StartedAt),
		FinishedAt: api.NewTime(t.FinishedAt),
	}}
}

// podPhase is kubelet's getPhase: Pending until every app container has
// started (and the init containers are done), Running while at least one
// runs or all are being restarted, Succeeded when all ended with 0 and will
// not restart, Failed when all ended, at least one failed, and none will
// restart. A failed init container fails the pod under restartPolicy
// Never. terminal says the pod will not run again whatever its policy (it
// was deleted, or stopped for good).
func podPhase(pod *api.Pod, inits, apps []api.ContainerStatus, terminal bool) api.PodPhase {
	policy := pod.Spec.RestartPolicy
	pendingInit, failedInit := 0, 0
	for i, s := range inits {
		if i < len(pod.Spec.InitContainers) && api.IsSidecar(&pod.Spec.InitContainers[i]) {
			// A sidecar is pending until it has started; its exits (it
			// is restarted) fail nothing.
			if s.Started == nil || !*s.Started {
				pendingInit++
			}
			continue
		}
		switch {
		case s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil && s.LastTerminationState.Terminated != nil:
			if s.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	anyStarted := false
	for _, s := range apps {
		switch {
		case s.State.Running != nil:
			running++
			anyStarted = true
		case s.State.Terminated != nil:
			stopped++
			anyStarted = true
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
				anyStarted = true
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && policy == api.RestartPolicyNever {
		return api.PodFailed
	}
	switch {
	case pendingInit > 0 && !anyStarted, waiting > 0:
		return api.PodPending
	case running > 0 && unknown == 0:
		return api.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal {
			if stopped == succeeded {
				return api.PodSucceeded
			}
			return api.PodFailed
		}
		if policy == api.RestartPolicyAlways {
			return api.PodRunning // restarting
		}
		if stopped == succeeded {
			return api.PodSucceeded
		}
		if policy == api.RestartPolicyNever {
			return api.PodFailed
		}
		return api.PodRunning // OnFailure, restarting the failed ones
	}
	return api.PodPending
}

// Kubernetes' condition reasons.
const (
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonContainersNotReady       = "ContainersNotReady"
	reasonPodCompleted             = "PodCompleted"
)

// podConditions are Initialized, ContainersReady and Ready (PodScheduled
// belongs to the cluster and is left out), worded as kubelet words them.
// A sidecar (named in sidecars) counts as initialized once started, and
// its readiness counts as an app container's. A condition keeps prev's
// transition time while its status holds.
func podConditions(s api.PodStatus, sidecars map[string]bool, prev []api.PodCondition, now time.Time) []api.PodCondition {
	var notInit, notReady []string
	for _, c := range s.InitContainerStatuses {
		if sidecars[c.Name] {
			if c.Started == nil || !*c.Started {
				notInit = append(notInit, c.Name)
			}
			if !c.Ready {
				notReady = append(notReady, c.Name)
			}
			continue
		}
		if t := c.State.Terminated; t == nil || t.ExitCode != 0 {
			notInit = append(notInit, c.Name)
		}
	}
	for _, c := range s.ContainerStatuses {
		if !c.Ready {
			notReady = append(notReady, c.Name)
		}
	}
	// Once an app container has run, the pod was initialized, whatever
	// happened to the init containers' records since (kubelet does the
	// same, for init containers that were garbage collected).
	appStarted := false
	for _, c := range s.ContainerStatuses {
		if c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil {
			appStarted = true
		}
	}
	initialized := condition(api.PodInitialized, len(notInit) == 0 || appStarted,
		reasonContainersNotInitialized, "containers with incomplete status: ", notInit)

	readyReason, readyMsg := reasonContainersNotReady, "containers with unready status: "
	if s.Phase == api.PodSucceeded {
		readyReason, readyMsg, notReady = reasonPodCompleted, "", nil
	}
	ready := len(notReady) == 0 && s.Phase != api.PodSucceeded && s.Phase != api.PodFailed
	containersReady := condition(api.ContainersReady, ready, readyReason, readyMsg, notReady)
	podReady := condition(api.PodReady, ready, readyReason, readyMsg, notReady)

	out := []api.PodCondition{initialized, podReady, containersReady}
	for i := range out {
		out[i].LastTransitionTime = api.NewTime(now)
		for _, p := range prev {
			if p.Type == out[i].Type && p.Status == out[i].Status {
				out[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return out
}

// condition builds a condition: True, or False with reason and a message
// listing names as Kubernetes does ("containers with unready status: [a b]").
func condition(t api.PodConditionType, ok bool, reason, msgPrefix string, names []string) api.PodCondition {
	if ok {
		return api.PodCondition{Type: t, Status: api.ConditionTrue}
	}
	c := api.PodCondition{Type: t, Status: api.ConditionFalse, Reason: reason}
	if msgPrefix != "" {
		c.Message = fmt.Sprintf("%s[%s]", msgPrefix, strings.Join(names, " "))
	}
	return c
}

// statusEqual reports whether two statuses say the same thing, so that an
// unchanged pod produces no update.
func statusEqual(a, b api.PodStatus) bool {
	return reflect.DeepEqual(a, b)
}
