package runtime

import (
	"context"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
)

// podState is everything the runtime knows about one pod. The pod's worker
// owns it; other goroutines see it only through snapshots. The exported
// fields are the pod record persisted as Root/pods/<uid>/pod.json, from
// which a restarted agent re-adopts the pod.
type podState struct {
	// Pod is the desired pod as last given to SyncPods.
	Pod *api.Pod `json:"pod"`
	// StartTime is when this node first started to run the pod.
	StartTime time.Time `json:"startTime,omitzero"`
	// Terminal is set once the pod has finished (Succeeded or Failed): it
	// never runs again, its sandbox is gone, its statuses are final.
	Terminal bool `json:"terminal,omitempty"`
	// Evicted is set when the eviction manager evicted the pod: it is then
	// Failed with reason Evicted and this message.
	Evicted *evictionRecord `json:"evicted,omitempty"`
	// PodIP is the address the pod network gave the current sandbox ("" with
	// no pod network).
	PodIP string `json:"podIP,omitempty"`
	// UserNamespace is the pod's own user namespace (spec.hostUsers:
	// false), allocated before its first volume or sandbox is made and
	// kept until its directory is removed; nil for the host's.
	UserNamespace *userNamespace `json:"userNamespace,omitempty"`
	// SandboxGen counts the sandboxes created for the pod; a container
	// record's Gen tells in which one its latest instance ran.
	SandboxGen int `json:"sandboxGen"`
	// InitContainers and Containers follow the spec's order.
	InitContainers []*containerRecord `json:"initContainers,omitempty"`
	Containers     []*containerRecord `json:"containers"`
	// ImageBackoff paces pulls of an image that failed, by image reference.
	ImageBackoff map[string]backoffEntry `json:"imageBackoff,omitempty"`
	// Status is the status last reported, the base for the next one (a
	// condition keeps its transition time while its value holds).
	Status api.PodStatus `json:"status"`

	// frozen marks a pod that reached this node already finished, with no
	// record of it here: it is not run, and its status is left as the
	// cluster has it. Not persisted.
	frozen bool
}

// containerRecord is one container of the pod across its instances: each
// restart removes the previous instance and starts a new one.
type containerRecord struct {
	Name string `json:"name"`
	Init bool   `json:"init,omitempty"`
	// Started says an instance has been started at least once; until then
	// RestartCount is 0 and there is nothing to show in logs.
	Started bool `json:"started,omitempty"`
	// RestartCount is the latest instance's: 0 for the first, counting up.
	// It is also that instance's log file name.
	RestartCount int32 `json:"restartCount"`
	// Gen is the sandbox generation the latest instance ran in.
	Gen int `json:"gen,omitempty"`
	// Hash identifies the container spec the latest instance runs; a
	// different spec (a new image) restarts the container.
	Hash string `json:"hash,omitempty"`
	// ID, Image and ImageID describe the latest instance.
	ID      string `json:"id,omitempty"`
	Image   string `json:"image,omitempty"`
	ImageID string `json:"imageID,omitempty"`
	// Running is true from a successful start until the exit is seen.
	Running   bool      `json:"running,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	// Exit is the latest instance's termination (nil while it runs).
	Exit *termination `json:"exit,omitempty"`
	// Last is the termination of the instance before, kept for
	// lastTerminationState while the latest one runs.
	Last *termination `json:"last,omitempty"`
	// Waiting is why the container is not running now although it should
	// (back-off, image pull error, start error); nil otherwise.
	Waiting *waitReason `json:"waiting,omitempty"`
	// FailedAt is when the latest start failed (CreateContainerError);
	// the back-off counts from it as from an exit.
	FailedAt time.Time `json:"failedAt,omitzero"`
	// Backoff paces restarts after failures.
	Backoff backoffEntry `json:"backoff,omitzero"`

	// inst is the live instance, if any (not persisted).
	inst *instance
	// probe is what the running instance's probes found, as of the
	// worker's latest look (not persisted: probes start over with a new
	// agent, as kubelet's do).
	probe probeView
}

// termination is how one instance of a container ended.
type termination struct {
	ExitCode    int32     `json:"exitCode"`
	Signal      int32     `json:"signal,omitempty"`
	Reason      string    `json:"reason"`
	Message     string    `json:"message,omitempty"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	FinishedAt  time.Time `json:"finishedAt,omitzero"`
	ContainerID string    `json:"containerID,omitempty"`
}

// waitReason is a waiting state's reason and message, in Kubernetes'
// words (CrashLoopBackOff, ErrImagePull, ImagePullBackOff…).
type waitReason struct {
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// instance is a started container process the worker watches. done is
// closed when its process has exited; exit and waitErr are set before.
type instance struct {
	handle podContainer
	done   chan struct{}
	// ctx ends with the instance (or the runtime): its probes' context.
	ctx     context.Context
	exit    exitStatus
	waitErr error
	// probes are the instance's probe results; nil without probes.
	probes *containerProbes
}

// exited reports whether the instance's process has exited.
func (in *instance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

// Kubernetes' termination reasons.
const (
	reasonCompleted = "Completed"
	reasonError     = "Error"
	reasonOOMKilled = "OOMKilled"
	// reasonStatusUnknown is kubelet's reason for a container whose end
	// could not be observed; it reports exit code 137 with it.
	reasonStatusUnknown = "ContainerStatusUnknown"
)

// Kubernetes' waiting reasons that the runtime sets itself (image errors
// come from runtime/image's Reason).
const (
	reasonContainerCreating    = "ContainerCreating"
	reasonPodInitializing      = "PodInitializing"
	reasonCrashLoopBackOff     = "CrashLoopBackOff"
	reasonImagePullBackOff     = "ImagePullBackOff"
	reasonCreateContainerError = "CreateContainerError"
)

// newContainerRecords makes a record per container of cs.
func newContainerRecords(cs []api.Container, init bool) []*containerRecord {
	out := make([]*containerRecord, len(cs))
	for i := range cs {
		out[i] = &containerRecord{Name: cs[i].Name, Init: init}
	}
	return out
}

// newPodState is the state of a pod this node has not run yet.
func newPodState(pod *api.Pod) *podState {
	return &podState{
		Pod:            pod,
		InitContainers: newContainerRecords(pod.Spec.InitContainers, true),
		Containers:     newContainerRecords(pod.Spec.Containers, false),
	}
}

// reconcileRecords makes the records follow the spec's containers by name,
// keeping what is known of those that stay: an update may only change
// images, but a record from an older agent must not break on a mismatch.
func reconcileRecords(recs []*containerRecord, cs []api.Container, init bool) []*containerRecord {
	byName := make(map[string]*containerRecord, len(recs))
	for _, r := range recs {
		byName[r.Name] = r
	}
	out := make([]*containerRecord, len(cs))
	for i := range cs {
		if r := byName[cs[i].Name]; r != nil {
			out[i] = r
		} else {
			out[i] = &containerRecord{Name: cs[i].Name, Init: init}
		}
	}
	return out
}

// containerHash identifies what of a container spec may change while the
// pod runs, so that a change restarts the container: the image, the only
// field Kubernetes lets an update change. Hashing the whole spec would
// restart every container when an upgraded gossipod adds a field to it,
// which is what kubelet's whole-spec hash once did.
func containerHash(c *api.Container) string {
	h := fnv.New64a()
	h.Write([]byte(c.Image))
	return strconv.FormatUint(h.Sum64(), 16)
}

// shouldRestart applies the restart policy to an exited container.
func shouldRestart(policy api.RestartPolicy, exitCode int32) bool {
	switch policy {
	case api.RestartPolicyNever:
		return false
	case api.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// gracePeriod is how long a pod being deleted gives its containers between
// SIGTERM and SIGKILL: the deletion's grace period if it set one, else the
// pod's terminationGracePeriodSeconds, else Kubernetes' default.
func gracePeriod(p *api.Pod) time.Duration {
	switch {
	case p.DeletionGracePeriodSeconds != nil:
		return time.Duration(max(*p.DeletionGracePeriodSeconds, 0)) * time.Second
	case p.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(max(*p.Spec.TerminationGracePeriodSeconds, 0)) * time.Second
	}
	return time.Duration(api.DefaultTerminationGracePeriodSeconds) * time.Second
}

// podFullName is kubelet's format.Pod: name_namespace(uid).
func podFullName(p *api.Pod) string {
	return p.Name + "_" + p.Namespace + "(" + string(p.UID) + ")"
}
