package main

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// podColumns are the cells kubectl's pod table derives from a pod's status.
type podColumns struct {
	Ready    string // "ready/total" app containers
	Status   string // the STATUS column
	Restarts string // sum of restart counts, with "(5m ago)" after the last restart
}

// podStatusColumns computes READY, STATUS and RESTARTS the way kubectl's pod
// printer does (k8s.io/kubernetes/pkg/printers/internalversion, printPod):
// STATUS starts as the phase (or status.reason), is replaced by the first
// init container that has not succeeded (Init:N/M, Init:<reason>,
// Init:ExitCode:N), otherwise by the waiting or terminated reason of the app
// containers, last one first (ContainerCreating, CrashLoopBackOff, OOMKilled,
// Completed, Error…), and by Terminating while a deletion is under way.
// Sidecars (restartable init containers) count in READY, a started one
// does not hold STATUS at Init:, and their restarts still count once the
// pod is initialized.
func podStatusColumns(p *api.Pod, now time.Time) podColumns {
	restarts, sidecarRestarts := 0, 0
	ready, total := 0, len(p.Spec.Containers)
	var lastRestart, lastSidecarRestart time.Time
	noteRestart := func(cs *api.ContainerStatus) {
		restarts += int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
	}
	sidecars := map[string]bool{}
	for i := range p.Spec.InitContainers {
		if api.IsSidecar(&p.Spec.InitContainers[i]) {
			sidecars[p.Spec.InitContainers[i].Name] = true
			total++
		}
	}

	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}

	initializing := false
	for i := range p.Status.InitContainerStatuses {
		cs := &p.Status.InitContainerStatuses[i]
		noteRestart(cs)
		if sidecars[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastSidecarRestart) {
				lastSidecarRestart = t.FinishedAt.Time
			}
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || conditionTrue(p, api.PodInitialized) {
		// Like kubectl, RESTARTS counts the app containers (and the
		// sidecars) once the pod is initialized.
		restarts, lastRestart = sidecarRestarts, lastSidecarRestart
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := &p.Status.ContainerStatuses[i]
			noteRestart(cs)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		// A container still running turns a Completed pod back.
		if reason == "Completed" && hasRunning {
			if conditionTrue(p, api.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		switch {
		case p.Status.Reason == "NodeLost":
			reason = "Unknown"
		case !api.IsTerminal(p):
			reason = "Terminating"
		}
	}
	if reason == "" {
		// Not yet seen by the cluster; the API server always sets a phase.
		reason = string(api.PodPending)
	}

	restartsCol := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsCol = fmt.Sprintf("%d (%s ago)", restarts, age(api.Time{Time: lastRestart}, now))
	}
	return podColumns{
		Ready:    fmt.Sprintf("%d/%d", ready, total),
		Status:   reason,
		Restarts: restartsCol,
	}
}

func conditionTrue(p *api.Pod, t api.PodConditionType) bool {
	c := api.GetPodCondition(p, t)
	return c != nil && c.Status == api.ConditionTrue
}

// podIP is the pod's (first) IP, or "<none>".
func podIP(p *api.Pod) string {
	if len(p.Status.PodIPs) > 0 && p.Status.PodIPs[0].IP != "" {
		return p.Status.PodIPs[0].IP
	}
	return orNone(p.Status.PodIP)
}

// QoS classes, as Kubernetes names them.
const (
	qosGuaranteed = "Guaranteed"
	qosBurstable  = "Burstable"
	qosBestEffort = "BestEffort"
)

// qosClass computes a pod's quality-of-service class as Kubernetes does
// (pkg/apis/core/helper/qos.ComputePodQOS), over app and init containers,
// cpu and memory: BestEffort when no container requests or limits either;
// Guaranteed when every container has cpu and memory limits and the
// requests equal the limits; Burstable otherwise. A limit without a request
// counts as a request of the same amount, as Kubernetes defaults it.
func qosClass(p *api.Pod) string {
	requests := map[api.ResourceName]*resource.Quantity{}
	limits := map[api.ResourceName]*resource.Quantity{}
	add := func(sum map[api.ResourceName]*resource.Quantity, name api.ResourceName, q resource.Quantity) {
		if s, ok := sum[name]; ok {
			s.Add(q)
			return
		}
		c := q.DeepCopy()
		sum[name] = &c
	}
	guaranteed := true
	containers := append(append([]api.Container{}, p.Spec.Containers...), p.Spec.InitContainers...)
	for _, c := range containers {
		limitsFound := 0
		for _, name := range []api.ResourceName{api.ResourceCPU, api.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if !hasReq && hasLim {
				req, hasReq = lim, true
			}
			if hasReq && req.Sign() > 0 {
				add(requests, name, req)
			}
			if hasLim && lim.Sign() > 0 {
				add(limits, name, lim)
				limitsFound++
			}
		}
		if limitsFound < 2 {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return qosBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(*req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return qosGuaranteed
	}
	return qosBurstable
}
