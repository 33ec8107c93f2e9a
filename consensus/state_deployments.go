package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// Deployment returns the named Deployment. It is shared: do not modify it.
func (s *State) Deployment(namespace, name string) (*api.Deployment, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.deployments[podKey(namespace, name)]
	return d, ok
}

// Deployments returns the Deployments for which keep returns true (all if
// nil), sorted by namespace and name, and the index they reflect. They are
// shared: do not modify them.
func (s *State) Deployments(keep func(*api.Deployment) bool) ([]*api.Deployment, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*api.Deployment, 0, len(s.deployments))
	for _, k := range slices.Sorted(maps.Keys(s.deployments)) {
		if d := s.deployments[k]; keep == nil || keep(d) {
			out = append(out, d)
		}
	}
	return out, s.index
}

func (s *State) putDeployment(index uint64, old, d *api.Deployment) {
	d.ResourceVersion = strconv.FormatUint(index, 10)
	key := podKey(d.Namespace, d.Name)
	var oldRefs []api.OwnerReference
	if old != nil {
		oldRefs = old.OwnerReferences
	}
	s.indexOwners(objRef{kindDeployment, key}, oldRefs, d.OwnerReferences)
	s.deployments[key] = d
	s.emit(index, kindDeployment, added(old != nil), d)
}

func (s *State) createDeployment(index uint64, cmd Command, c CreateDeployment) (any, error) {
	d := c.Deployment.DeepCopy()
	if d.Name == "" || d.Namespace == "" {
		return nil, api.NewBadRequest("deployment name and namespace are required")
	}
	if err := api.ValidateNewDeployment(d); err != nil {
		return nil, err
	}
	if err := s.admitNamespaced("deployments.apps", d.Name, d.Namespace); err != nil {
		return nil, err
	}
	if _, exists := s.deployments[podKey(d.Namespace, d.Name)]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("deployments.apps %q already exists", d.Name))
		st.Details = &api.StatusDetails{Name: d.Name, Kind: "deployments"}
		return nil, st
	}
	d.Kind, d.APIVersion = "Deployment", "apps/v1"
	d.CreationTimestamp = api.NewTime(cmd.Time)
	d.DeletionTimestamp, d.DeletionGracePeriodSeconds, d.Finalizers = nil, nil, nil
	d.Generation = 1
	d.Status = api.DeploymentStatus{}
	s.putDeployment(index, nil, d)
	return d, nil
}

func (s *State) updateDeployment(index uint64, u UpdateDeployment) (any, error) {
	in := &u.Deployment
	old, ok := s.deployments[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("deployments.apps", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("deployments.apps", in.Name)
	}
	d := old.DeepCopy()
	d.Labels = maps.Clone(in.Labels)
	d.Annotations = maps.Clone(in.Annotations)
	if !equality.Semantic.DeepEqual(in.Spec, old.Spec) {
		d.Generation++
		d.Spec = in.DeepCopy().Spec
	}
	// Checked against the committed Deployment (the selector is immutable),
	// whatever the proposer read.
	if err := api.ValidateDeploymentUpdateWithin(old, d, api.MaxDeploymentReplicasCeiling); err != nil {
		return nil, err
	}
	s.putDeployment(index, old, d)
	return d, nil
}

func (s *State) deleteDeployment(index uint64, cmd Command, del DeleteDeployment) (any, error) {
	key := podKey(del.Namespace, del.Name)
	d, ok := s.deployments[key]
	if !ok {
		return nil, api.NewNotFound("deployments.apps", del.Name)
	}
	if del.UID != "" && del.UID != d.UID {
		return nil, uidConflict("deployments.apps", del.Name, del.UID, d.UID)
	}
	if err := checkPropagation(del.PropagationPolicy); err != nil {
		return nil, err
	}
	s.deleteWithPolicy(index, cmd, objRef{kindDeployment, key}, del.PropagationPolicy)
	if cur, ok := s.deployments[key]; ok {
		return cur, nil
	}
	return d, nil
}

func (s *State) setDeploymentStatus(index uint64, u SetDeploymentStatus) {
	old, ok := s.deployments[podKey(u.Namespace, u.Name)]
	if !ok || old.UID != u.UID {
		return
	}
	revisionSame := u.Revision == "" || old.Annotations[api.AnnotationRevision] == u.Revision
	if revisionSame && equality.Semantic.DeepEqual(old.Status, u.Status) {
		return
	}
	d := old.DeepCopy()
	d.Status = u.Status
	if !revisionSame {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[api.AnnotationRevision] = u.Revision
	}
	s.putDeployment(index, old, d)
}

// ownedPods returns the pods whose controller is the object with uid,
// sorted by name.
func (s *State) ownedPods(uid types.UID) []*api.Pod {
	var out []*api.Pod
	for dep := range s.dependents[uid] {
		if dep.kind != kindPod {
			continue
		}
		if p := s.pods[dep.key]; p != nil && controllerUID(p) == uid {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *api.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// controlledReplicaSets returns the ReplicaSets whose controller is the
// object with uid.
func (s *State) controlledReplicaSets(uid types.UID) []*api.ReplicaSet {
	var out []*api.ReplicaSet
	for dep := range s.dependents[uid] {
		if dep.kind != kindReplicaSet {
			continue
		}
		if rs := s.replicaSets[dep.key]; rs != nil && api.IsControlledBy(&rs.ObjectMeta, uid) {
			out = append(out, rs)
		}
	}
	return out
}

// controllerUID is the uid of the pod's controlling owner, or "".
func controllerUID(p *api.Pod) types.UID {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.UID
		}
	}
	return ""
}

// MaxPodsPerEntry is the most pods one CreatePods entry may hold: the
// Deployment controller's largest slow-start batch, and Kubernetes'
// burstReplicas. It keeps one log entry, and the work of applying it on
// every agent, bounded.
const MaxPodsPerEntry = 500

func (s *State) createPods(index uint64, cmd Command, c CreatePods) (any, error) {
	if len(c.Pods) > MaxPodsPerEntry {
		return nil, api.NewBadRequest(fmt.Sprintf("CreatePods: %d pods in one entry, at most %d are allowed", len(c.Pods), MaxPodsPerEntry))
	}
	created := 0
	for i := range c.Pods {
		if _, err := s.createPod(index, cmd, CreatePod{Pod: c.Pods[i]}); err == nil {
			created++
		}
	}
	return created, nil
}

func (s *State) deletePods(index uint64, cmd Command, d DeletePods) (any, error) {
	deleted := 0
	for _, del := range d.Deletes {
		if _, err := s.deletePod(index, cmd, del); err == nil {
			deleted++
		}
	}
	return deleted, nil
}

func (s *State) setPodsFailed(index uint64, cmd Command, f SetPodsFailed) {
	var events []api.Event
	for _, u := range f.Updates {
		old, ok := s.pods[podKey(u.Namespace, u.Name)]
		if !ok || old.UID != u.UID || api.IsTerminal(old) {
			continue
		}
		p := old.DeepCopy()
		p.Status.Phase = api.PodFailed
		p.Status.Reason = u.Reason
		p.Status.Message = u.Message
		for i := range p.Status.Conditions {
			if c := &p.Status.Conditions[i]; c.Type == api.PodReady || c.Type == api.ContainersReady {
				c.Status = api.ConditionFalse
				c.LastTransitionTime = api.NewTime(cmd.Time)
			}
		}
		s.putPod(index, old, p)
		if p.DeletionTimestamp != nil {
			// It was being deleted, waiting for its node to confirm; that
			// node is lost and will only stop it (a lost pod is no longer
			// its to run), so nobody would confirm: it goes now, as
			// Kubernetes' pod garbage collector force-deletes terminating
			// pods of nodes out of service. Found by a fault run.
			s.removePod(index, p)
			continue
		}
		events = append(events, podEvent(p, api.EventTypeWarning, u.Reason, u.Message, "node-controller", ""))
	}
	s.recordEvents(index, cmd, events)
}

func (s *State) setNodeUnschedulable(index uint64, u SetNodeUnschedulable) error {
	n, ok := s.nodes[u.Name]
	if !ok {
		return api.NewNotFound("nodes", u.Name)
	}
	if n.Spec.Unschedulable == u.Unschedulable {
		return nil
	}
	n, _ = s.mutableNode(u.Name)
	n.Spec.Unschedulable = u.Unschedulable
	n.ResourceVersion = strconv.FormatUint(index, 10)
	s.emit(index, "Node", WatchModified, n)
	return nil
}

// podAvailable reports whether a pod counts as available for its
// Deployment: running, Ready, and not being deleted.
func podAvailable(p *api.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != api.PodRunning {
		return false
	}
	c := api.GetPodCondition(p, api.PodReady)
	return c != nil && c.Status == api.ConditionTrue
}

// MaxUnavailable resolves a Deployment's maxUnavailable against its
// replicas, rounding down as Kubernetes does; with both maxSurge and
// maxUnavailable resolving to 0 it is 1, so a rollout can progress.
func MaxUnavailable(d *api.Deployment) int {
	replicas := DesiredReplicas(d)
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType || ru == nil {
		if d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType {
			return replicas
		}
		return replicas / 4
	}
	unavailable := scaled(ru.MaxUnavailable, replicas, false, replicas/4)
	surge := scaled(ru.MaxSurge, replicas, true, (replicas+3)/4)
	if unavailable == 0 && surge == 0 {
		unavailable = 1
	}
	return min(unavailable, replicas)
}

// MaxSurge resolves a Deployment's maxSurge against its replicas, rounding
// up as Kubernetes does.
func MaxSurge(d *api.Deployment) int {
	replicas := DesiredReplicas(d)
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType {
		return 0
	}
	if ru == nil {
		return (replicas + 3) / 4
	}
	return scaled(ru.MaxSurge, replicas, true, (replicas+3)/4)
}

// DesiredReplicas is spec.replicas, 1 when unset.
func DesiredReplicas(d *api.Deployment) int {
	if d.Spec.Replicas == nil {
		return 1
	}
	return int(*d.Spec.Replicas)
}

func scaled(v *intstr.IntOrString, total int, roundUp bool, def int) int {
	if v == nil {
		return def
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, roundUp)
	if err != nil || n < 0 {
		return def
	}
	return n
}

func (s *State) evictPod(index uint64, cmd Command, e EvictPod) (any, error) {
	p, ok := s.pods[podKey(e.Namespace, e.Name)]
	if !ok {
		return nil, api.NewNotFound("pods", e.Name)
	}
	if e.UID != "" && p.UID != e.UID {
		return nil, conflict(e.Name)
	}
	if d, pods := s.disruptionBudgetOf(p); d != nil && podAvailable(p) {
		available := 0
		for _, q := range pods {
			if podAvailable(q) {
				available++
			}
		}
		if needed := DesiredReplicas(d) - MaxUnavailable(d); available-1 < needed {
			st := api.NewStatus(http.StatusTooManyRequests, "TooManyRequests",
				"Cannot evict pod as it would violate the pod's disruption budget.")
			st.Details = &api.StatusDetails{Name: e.Name, Kind: "pods", Causes: []api.StatusCause{{
				Type:    "DisruptionBudget",
				Message: fmt.Sprintf("The disruption budget of deployment %s needs %d healthy pods and has %d currently", d.Name, needed, available),
			}}}
			return nil, st
		}
	}
	return s.deletePod(index, cmd, DeletePod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: e.GracePeriodSeconds})
}

// disruptionBudgetOf returns the Deployment whose replicas − maxUnavailable
// bounds the eviction of p, and all the pods of that Deployment: p's
// controller is one of its ReplicaSets (or, for a pod stored before
// ReplicaSets, the Deployment itself). Other pods have no budget.
func (s *State) disruptionBudgetOf(p *api.Pod) (*api.Deployment, []*api.Pod) {
	ref := api.ControllerOf(&p.ObjectMeta)
	if ref == nil {
		return nil, nil
	}
	owner, _, ok := s.ownerOf(p.Namespace, *ref)
	if !ok {
		return nil, nil
	}
	if owner.kind == kindDeployment {
		return s.deployments[owner.key], s.ownedPods(ref.UID)
	}
	rs := s.replicaSets[owner.key]
	dref := api.ControllerOf(&rs.ObjectMeta)
	if dref == nil {
		return nil, nil
	}
	downer, _, ok := s.ownerOf(rs.Namespace, *dref)
	if !ok || downer.kind != kindDeployment {
		return nil, nil
	}
	pods := s.ownedPods(dref.UID) // pods not yet moved to a ReplicaSet
	for _, sibling := range s.controlledReplicaSets(dref.UID) {
		pods = append(pods, s.ownedPods(sibling.UID)...)
	}
	return s.deployments[downer.key], pods
}
