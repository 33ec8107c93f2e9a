package tables

import (
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// objectMetaDoc is metav1.ObjectMeta's field documentation, the source of
// Kubernetes' NAME and AGE column descriptions; built once, as the
// printers' column definitions are.
var objectMetaDoc = sync.OnceValue(metav1.ObjectMeta{}.SwaggerDoc)

// podTable is the pods' table: printPod of kubernetes/pkg/printers/
// internalversion/printers.go.
var podTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
			{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
			{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
			{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
			{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
			{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
			{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow { return p.pod(o.(*api.Pod)) },
}

// The row conditions of finished pods, as Kubernetes marks them.
var (
	podSuccessConditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(api.PodSucceeded), Message: "The pod has completed successfully."}}
	podFailedConditions  = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(api.PodFailed), Message: "The pod failed."}}
)

// reasonSchedulingGated is the PodScheduled reason of a pod held by
// scheduling gates (corev1.PodReasonSchedulingGated).
const reasonSchedulingGated = "SchedulingGated"

// pod is Kubernetes' printPod, line for line, on gossipod's Pod:
//
//   - READY counts the app containers that are ready and running, over
//     all app containers;
//   - STATUS starts as the phase, or the pod's reason (NodeLost, Evicted...);
//     while init containers run it is Init:<i>/<n>, Init:<reason> or
//     Init:ExitCode:<code>; after them, the last app container that is
//     waiting or terminated gives its reason (ContainerCreating,
//     CrashLoopBackOff, Completed, Error, ExitCode:<code>); a Completed pod
//     with a container still running is Running (or NotReady); a pod being
//     deleted is Terminating, or Unknown when its node was lost;
//   - RESTARTS sums the restart counts, with the time of the last restart
//     ("3 (2m ago)").
//
// Sidecars (restartable init containers) count in READY like app
// containers, a started one does not hold STATUS at Init:, and their
// restarts still count once the pod is initialized, as printPod does.
func (p printer) pod(pod *api.Pod) metav1.TableRow {
	restarts, sidecarRestarts := 0, 0
	totalContainers := len(pod.Spec.Containers)
	readyContainers := 0
	var lastRestartDate, lastSidecarRestartDate api.Time
	sidecars := map[string]bool{}
	for i := range pod.Spec.InitContainers {
		if api.IsSidecar(&pod.Spec.InitContainers[i]) {
			sidecars[pod.Spec.InitContainers[i].Name] = true
			totalContainers++
		}
	}

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == api.PodScheduled && c.Reason == reasonSchedulingGated {
			reason = reasonSchedulingGated
		}
	}

	row := metav1.TableRow{}
	switch pod.Status.Phase {
	case api.PodSucceeded:
		row.Conditions = podSuccessConditions
	case api.PodFailed:
		row.Conditions = podFailedConditions
	}

	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		container := pod.Status.InitContainerStatuses[i]
		restarts += int(container.RestartCount)
		if t := container.LastTerminationState.Terminated; t != nil && lastRestartDate.Before(&t.FinishedAt) {
			lastRestartDate = t.FinishedAt
		}
		if sidecars[container.Name] {
			sidecarRestarts += int(container.RestartCount)
			if t := container.LastTerminationState.Terminated; t != nil && lastSidecarRestartDate.Before(&t.FinishedAt) {
				lastSidecarRestartDate = t.FinishedAt
			}
		}
		switch {
		case container.State.Terminated != nil && container.State.Terminated.ExitCode == 0:
			continue
		case sidecars[container.Name] && container.Started != nil && *container.Started:
			if container.Ready {
				readyContainers++
			}
			continue
		case container.State.Terminated != nil:
			// initialization failed
			t := container.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
			initializing = true
		case container.State.Waiting != nil && container.State.Waiting.Reason != "" && container.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + container.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
			initializing = true
		}
		break
	}

	if !initializing || podInitialized(pod) {
		// Once the pod is initialized, only the sidecars' restarts count
		// of the init containers'.
		restarts = sidecarRestarts
		lastRestartDate = lastSidecarRestartDate
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			container := pod.Status.ContainerStatuses[i]
			restarts += int(container.RestartCount)
			if t := container.LastTerminationState.Terminated; t != nil && lastRestartDate.Before(&t.FinishedAt) {
				lastRestartDate = t.FinishedAt
			}
			switch s := container.State; {
			case s.Waiting != nil && s.Waiting.Reason != "":
				reason = s.Waiting.Reason
			case s.Terminated != nil && s.Terminated.Reason != "":
				reason = s.Terminated.Reason
			case s.Terminated != nil && s.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", s.Terminated.Signal)
			case s.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", s.Terminated.ExitCode)
			case container.Ready && s.Running != nil:
				hasRunning = true
				readyContainers++
			}
		}
		// A pod Completed with a container still running is Running.
		if reason == "Completed" && hasRunning {
			if c := api.GetPodCondition(pod, api.PodReady); c != nil && c.Status == api.ConditionTrue {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	switch {
	case pod.DeletionTimestamp != nil && pod.Status.Reason == api.PodReasonNodeLost:
		reason = "Unknown"
	case pod.DeletionTimestamp != nil && pod.Status.Phase != api.PodSucceeded && pod.Status.Phase != api.PodFailed:
		reason = "Terminating"
	}

	restartsStr := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestartDate.IsZero() {
		restartsStr = fmt.Sprintf("%d (%s ago)", restarts, p.since(lastRestartDate))
	}
	row.Cells = []any{pod.Name, fmt.Sprintf("%d/%d", readyContainers, totalContainers), reason, restartsStr, p.since(pod.CreationTimestamp)}

	// The wide columns: kube-apiserver always computes them (kubectl hides
	// the priority-1 columns without -o wide).
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	} else {
		// Kubernetes keeps podIPs[0] equal to podIP; a gossipod status
		// that carries only podIP prints the same.
		podIP = pod.Status.PodIP
	}
	row.Cells = append(row.Cells, orNone(podIP), orNone(pod.Spec.NodeName),
		"<none>", // NOMINATED NODE: gossipod does not preempt
		"<none>", // READINESS GATES: not a field gossipod implements
	)
	return row
}

// podInitialized reports whether the pod's Initialized condition is True.
func podInitialized(pod *api.Pod) bool {
	c := api.GetPodCondition(pod, api.PodInitialized)
	return c != nil && c.Status == api.ConditionTrue
}

// orNone is s, or "<none>" when it is empty, as the printers show a
// missing value.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
