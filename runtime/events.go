package runtime

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gossipod/gossipod/api"
)

// Event reasons the runtime reports, kubelet's.
const (
	eventPulling           = "Pulling"
	eventPulled            = "Pulled"
	eventCreated           = "Created"
	eventStarted           = "Started"
	eventKilling           = "Killing"
	eventBackOff           = "BackOff"
	eventFailed            = "Failed"
	eventFailedMount       = "FailedMount"
	eventSandboxChanged    = "SandboxChanged"
	eventFailedCreatePod   = "FailedCreatePodSandBox"
	eventErrImageNeverPull = "ErrImageNeverPull"
	// eventFailedPullSecret: an image pull Secret of the pod is missing.
	eventFailedPullSecret = "FailedToRetrieveImagePullSecret"
)

// eventComponent is the source component of the runtime's events, as
// Kubernetes names the node agent.
const eventComponent = "kubelet"

// maxPendingEvents bounds the events a pod keeps while nobody reads
// Updates: the oldest go first.
const maxPendingEvents = 64

// eventSeq makes event names unique within one nanosecond.
var eventSeq atomic.Uint64

// eventRecorder collects a pod's events until the next update carries
// them. Identical events (same type, reason and message) are folded into
// one with a count, as Kubernetes' event recorder aggregates them. It is
// used by the pod's worker only.
type eventRecorder struct {
	node    string
	now     func() time.Time
	pending []api.Event
}

// record adds an event about pod.
func (e *eventRecorder) record(pod *api.Pod, typ, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t := api.NewTime(e.now())
	for i := range e.pending {
		ev := &e.pending[i]
		if ev.Type == typ && ev.Reason == reason && ev.Message == msg {
			ev.Count++
			ev.LastTimestamp = t
			return
		}
	}
	if len(e.pending) >= maxPendingEvents {
		e.pending = e.pending[1:]
	}
	e.pending = append(e.pending, api.Event{
		TypeMeta: api.TypeMeta{Kind: "Event", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", pod.Name, uint64(e.now().UnixNano())+eventSeq.Add(1)),
			Namespace: pod.Namespace,
		},
		InvolvedObject: api.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Reason:         reason,
		Message:        msg,
		Type:           typ,
		Source:         api.EventSource{Component: eventComponent, Host: e.node},
		FirstTimestamp: t,
		LastTimestamp:  t,
		Count:          1,
	})
}

// take returns the pending events and forgets them.
func (e *eventRecorder) take() []api.Event {
	out := e.pending
	e.pending = nil
	return out
}
