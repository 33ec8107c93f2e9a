package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// nodeAlloc is what the pods bound to one node hold: the sum of their
// requests (pod slots included) and their host ports.
type nodeAlloc struct {
	requested api.Resources
	hostPorts map[api.HostPort]int
}

// holdsNode reports whether a pod holds resources on its node: it is bound
// and has not finished. A Terminating pod still holds them until its node
// confirms it stopped.
func holdsNode(p *api.Pod) bool {
	return p != nil && p.Spec.NodeName != "" && !api.IsTerminal(p)
}

// account adds a pod's hold to its node's allocation.
func (s *State) account(p *api.Pod) {
	if !holdsNode(p) {
		return
	}
	a := s.alloc[p.Spec.NodeName]
	if a == nil {
		a = &nodeAlloc{hostPorts: map[api.HostPort]int{}}
		s.alloc[p.Spec.NodeName] = a
	}
	a.requested = a.requested.Add(api.PodRequests(p))
	for _, hp := range api.PodHostPorts(p) {
		a.hostPorts[hp]++
	}
}

// unaccount removes a pod's hold from its node's allocation.
func (s *State) unaccount(p *api.Pod) {
	if !holdsNode(p) {
		return
	}
	a := s.alloc[p.Spec.NodeName]
	if a == nil {
		return
	}
	a.requested = a.requested.Sub(api.PodRequests(p))
	for _, hp := range api.PodHostPorts(p) {
		if a.hostPorts[hp]--; a.hostPorts[hp] <= 0 {
			delete(a.hostPorts, hp)
		}
	}
	if a.requested == (api.Resources{}) && len(a.hostPorts) == 0 {
		delete(s.alloc, p.Spec.NodeName)
	}
}

// putPod stores a new version of a pod, keeping the allocation and the
// watch log in step. old is the previous version or nil.
func (s *State) putPod(index uint64, old, p *api.Pod) {
	p.ResourceVersion = strconv.FormatUint(index, 10)
	s.unaccount(old)
	s.account(p)
	key := podKey(p.Namespace, p.Name)
	var oldRefs []api.OwnerReference
	if old != nil {
		oldRefs = old.OwnerReferences
	}
	s.indexOwners(objRef{kindPod, key}, oldRefs, p.OwnerReferences)
	s.pods[key] = p
	s.emit(index, "Pod", added(old != nil), p)
}

// removePod deletes a pod and its events, and lets what waited on it (an
// owner deleted in the foreground, a terminating namespace) finish.
func (s *State) removePod(index uint64, p *api.Pod) {
	s.unaccount(p)
	key := podKey(p.Namespace, p.Name)
	delete(s.pods, key)
	emitDeleted(s, index, "Pod", p)
	s.afterRemoval(index, objRef{kindPod, key}, &p.ObjectMeta)
}

// podKey is the map key of a namespaced object.
func podKey(namespace, name string) string { return namespace + "/" + name }

// fitError says why pod does not fit on node given what is bound there, in
// the kubelet's words, or returns "" when it fits.
func (s *State) fitError(p *api.Pod, nodeName string) (reason, message string) {
	n, ok := s.nodes[nodeName]
	if !ok {
		return "NodeNotFound", fmt.Sprintf("node %q not found", nodeName)
	}
	alloc := api.ResourcesOf(n.Status.Allocatable)
	var used api.Resources
	var ports map[api.HostPort]int
	if a := s.alloc[nodeName]; a != nil {
		used, ports = a.requested, a.hostPorts
	}
	req := api.PodRequests(p)
	for _, d := range []struct {
		name                 string
		req, used, allocated int64
	}{
		{"pods", req.Pods, used.Pods, alloc.Pods},
		{"cpu", req.MilliCPU, used.MilliCPU, alloc.MilliCPU},
		{"memory", req.Memory, used.Memory, alloc.Memory},
		// Placement filters on it too; without this a pod created with
		// spec.nodeName, which skips placement, could overcommit a node's disk.
		{"ephemeral-storage", req.EphemeralStorage, used.EphemeralStorage, alloc.EphemeralStorage},
	} {
		if !brokenOvercommit && d.req > 0 && d.used+d.req > d.allocated {
			return "OutOf" + d.name, fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
				d.name, d.req, d.used, d.allocated)
		}
	}
	for _, hp := range api.PodHostPorts(p) {
		if ports[hp] > 0 && !brokenOvercommit {
			return "NodePorts", fmt.Sprintf("Node didn't have free ports for the requested pod ports: %s/%d is in use", hp.Protocol, hp.Port)
		}
	}
	return "", ""
}

func (s *State) createPod(index uint64, cmd Command, c CreatePod) (any, error) {
	p := c.Pod.DeepCopy()
	key := podKey(p.Namespace, p.Name)
	if p.Name == "" || p.Namespace == "" {
		return nil, api.NewBadRequest("pod name and namespace are required")
	}
	// The API validated the pod; the FSM checks again, against the pod as
	// committed, so that no path stores one the API would refuse.
	if err := api.ValidateNewPod(p); err != nil {
		return nil, err
	}
	if err := s.admitNamespaced("pods", p.Name, p.Namespace); err != nil {
		return nil, err
	}
	if err := s.admitServiceAccount(p); err != nil {
		return nil, err
	}
	if err := s.admitPodSecurity(p); err != nil {
		return nil, err
	}
	if err := s.admitController("Pod", &p.ObjectMeta); err != nil {
		return nil, err
	}
	if _, exists := s.pods[key]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("pods %q already exists", p.Name))
		st.Details = &api.StatusDetails{Name: p.Name, Kind: "pods"}
		return nil, st
	}
	p.Kind, p.APIVersion = "Pod", "v1"
	p.CreationTimestamp = api.NewTime(cmd.Time)
	p.Generation = 1
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = nil, nil
	p.Status = api.PodStatus{Phase: api.PodPending}
	if p.Spec.NodeName != "" {
		// Bound by the user: admitted if it fits, as the kubelet admits.
		if reason, msg := s.fitError(p, p.Spec.NodeName); reason != "" && reason != "NodeNotFound" {
			p.Status.Phase = api.PodFailed
			p.Status.Reason = reason
			p.Status.Message = "Pod was rejected: " + msg
		} else {
			setPodCondition(p, api.PodCondition{Type: api.PodScheduled, Status: api.ConditionTrue}, cmd.Time)
		}
	}
	s.putPod(index, nil, p)
	return p, nil
}

func (s *State) updatePod(index uint64, u UpdatePod) (any, error) {
	in := &u.Pod
	old, ok := s.pods[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("pods", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion {
		return nil, conflict(in.Name)
	}
	if in.UID != "" && in.UID != old.UID {
		return nil, conflict(in.Name)
	}
	p := old.DeepCopy()
	p.Labels = maps.Clone(in.Labels)
	p.Annotations = maps.Clone(in.Annotations)
	spec := in.Spec
	if spec.NodeName == "" {
		// The binding is the cluster's: an update that leaves it out keeps
		// it, as kubectl apply's merge does; one that changes it is
		// refused below, as the API refuses it.
		spec.NodeName = old.Spec.NodeName
	}
	p.Spec = *spec.DeepCopy()
	// Immutability is checked against the committed pod, not the one the
	// API read, which may be stale.
	if err := api.ValidatePodUpdate(old, p); err != nil {
		return nil, err
	}
	if err := s.admitPodSecurityUpdate(old, p); err != nil {
		return nil, err
	}
	if !equality.Semantic.DeepEqual(p.Spec, old.Spec) {
		p.Generation++
	}
	s.putPod(index, old, p)
	return p, nil
}

// conflict is Kubernetes' 409 for a write based on a stale pod.
func conflict(name string) *api.Status { return conflictOn("pods", name) }

func (s *State) deletePod(index uint64, cmd Command, d DeletePod) (any, error) {
	if g := d.GracePeriodSeconds; g != nil && *g < 0 {
		// The API refuses it in the same words; a negative grace period
		// would stamp a deletion the node cannot honour.
		return nil, api.NewBadRequest(fmt.Sprintf("gracePeriodSeconds %d: must be a non-negative integer", *g))
	}
	old, ok := s.pods[podKey(d.Namespace, d.Name)]
	if !ok {
		return nil, api.NewNotFound("pods", d.Name)
	}
	if d.UID != "" && d.UID != old.UID {
		return nil, conflict(d.Name)
	}
	// A pod bound to a node that does not exist (deleted, or named by the
	// user and never registered) has nobody to stop it and confirm: it goes
	// at once, as Kubernetes' pod garbage collector removes such pods,
	// instead of staying Terminating forever.
	_, nodeExists := s.nodes[old.Spec.NodeName]
	immediate := !holdsNode(old) || !nodeExists || d.GracePeriodSeconds != nil && *d.GracePeriodSeconds == 0
	if immediate {
		s.removePod(index, old)
		return old, nil
	}
	grace := int64(30)
	if old.Spec.TerminationGracePeriodSeconds != nil {
		grace = *old.Spec.TerminationGracePeriodSeconds
	}
	if d.GracePeriodSeconds != nil {
		grace = *d.GracePeriodSeconds
	}
	if old.DeletionTimestamp != nil {
		// Already terminating: a second delete may only shorten the grace
		// period, as in Kubernetes.
		if old.DeletionGracePeriodSeconds == nil || grace >= *old.DeletionGracePeriodSeconds {
			return old, nil
		}
	}
	p := old.DeepCopy()
	if p.DeletionTimestamp == nil {
		ts := api.NewTime(cmd.Time)
		p.DeletionTimestamp = &ts
	}
	p.DeletionGracePeriodSeconds = &grace
	s.putPod(index, old, p)
	return p, nil
}

func (s *State) bindPods(index uint64, cmd Command, b BindPods) BindResult {
	var res BindResult
	var events []api.Event
	for _, bd := range b.Bindings {
		key := podKey(bd.Namespace, bd.Name)
		reject := func(reason string) {
			res.Rejected = append(res.Rejected, BindRejection{Pod: key, Reason: reason})
		}
		old, ok := s.pods[key]
		switch {
		case !ok:
			reject("pod not found")
			continue
		case bd.UID != "" && old.UID != bd.UID:
			reject("pod was replaced (uid changed)")
			continue
		case old.Spec.NodeName != "" && !brokenRebind:
			reject("pod is already bound to " + old.Spec.NodeName)
			continue
		case old.DeletionTimestamp != nil:
			reject("pod is being deleted")
			continue
		}
		if reason, msg := s.fitError(old, bd.Node); reason != "" {
			reject(msg)
			continue
		}
		p := old.DeepCopy()
		p.Spec.NodeName = bd.Node
		setPodCondition(p, api.PodCondition{Type: api.PodScheduled, Status: api.ConditionTrue}, cmd.Time)
		s.putPod(index, old, p)
		res.Bound = append(res.Bound, key)
		events = append(events, podEvent(p, api.EventTypeNormal, "Scheduled",
			fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, bd.Node), "default-scheduler", ""))
	}
	s.recordEvents(index, cmd, events)
	return res
}

func (s *State) setPodsUnschedulable(index uint64, cmd Command, u SetPodsUnschedulable) {
	var events []api.Event
	for _, up := range u.Updates {
		old, ok := s.pods[podKey(up.Namespace, up.Name)]
		if !ok || old.UID != up.UID || old.Spec.NodeName != "" {
			continue
		}
		if c := api.GetPodCondition(old, api.PodScheduled); c != nil && c.Status == api.ConditionFalse && c.Message == up.Message {
			continue
		}
		p := old.DeepCopy()
		setPodCondition(p, api.PodCondition{Type: api.PodScheduled, Status: api.ConditionFalse,
			Reason: api.PodReasonUnschedulable, Message: up.Message}, cmd.Time)
		s.putPod(index, old, p)
		events = append(events, podEvent(p, api.EventTypeWarning, "FailedScheduling", up.Message, "default-scheduler", ""))
	}
	s.recordEvents(index, cmd, events)
}

func (s *State) setPodStatuses(index uint64, cmd Command, u SetPodStatuses) {
	for _, up := range u.Updates {
		old, ok := s.pods[podKey(up.Namespace, up.Name)]
		if !ok || old.UID != up.UID || old.Spec.NodeName != u.Node {
			continue
		}
		if api.IsTerminal(old) && old.Status.Reason == api.PodReasonNodeLost {
			continue // the cluster gave up on this pod; a late report cannot revive it
		}
		p := old.DeepCopy()
		st := up.Status
		// The scheduler's condition is the cluster's, not the node's.
		if c := api.GetPodCondition(old, api.PodScheduled); c != nil {
			keep := *c
			st.Conditions = slices.DeleteFunc(slices.Clone(st.Conditions), func(c api.PodCondition) bool { return c.Type == api.PodScheduled })
			st.Conditions = append([]api.PodCondition{keep}, st.Conditions...)
		}
		p.Status = st
		if equality.Semantic.DeepEqual(p.Status, old.Status) {
			continue
		}
		s.putPod(index, old, p)
	}
}

// setPodCondition sets a condition, moving lastTransitionTime only when
// the status changes.
func setPodCondition(p *api.Pod, c api.PodCondition, now time.Time) {
	c.LastTransitionTime = api.NewTime(now)
	if old := api.GetPodCondition(p, c.Type); old != nil {
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	p.Status.Conditions = append(p.Status.Conditions, c)
}

// Pod returns the named pod. The pod is shared: do not modify it.
func (s *State) Pod(namespace, name string) (*api.Pod, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.pods[podKey(namespace, name)]
	return p, ok
}

// Pods returns the pods for which keep returns true (all if keep is nil),
// sorted by namespace and name, and the index they reflect. The pods are
// shared: do not modify them.
func (s *State) Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*api.Pod, 0, len(s.pods))
	for _, p := range s.pods {
		if keep == nil || keep(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *api.Pod) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, s.index
}

// WatchSince returns the changes of kind ("Pod", "Node"; "" for all) after
// resourceVersion rv, the index of the State they were read at, and false
// if they are no longer retained (the watcher must re-list). Every change
// of kind up to index is in events, so a watch that has sent them may
// tell its client index as a bookmark. Objects are shared: do not modify
// them.
func (s *State) WatchSince(rv uint64, kind string) (events []WatchEvent, index uint64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	events, ok = s.watch.since(rv, kind)
	return events, s.index, ok
}

// resourceList converts Resources to the wire form.
func resourceList(r api.Resources) api.ResourceList {
	return api.ResourceList{
		api.ResourceCPU:    *resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI),
		api.ResourceMemory: *resource.NewQuantity(r.Memory, resource.BinarySI),
		api.ResourcePods:   *resource.NewQuantity(r.Pods, resource.DecimalSI),
	}
}
