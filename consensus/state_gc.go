package consensus

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// Garbage collection by owner references, as Kubernetes' garbage collector
// does it, but inside the state machine: a deletion and what it does to the
// dependents are one log entry, applied identically on every replica, so no
// dependent is ever left behind by a leader change, and no controller can
// race the collector. Only what must wait for a node (a running pod's
// graceful termination) is left for later entries; the removal of the pod
// then finishes what waits on it (a foreground deletion, a namespace).

// The kinds that can have owners, as the watch log and events name them.
const (
	kindPod        = "Pod"
	kindReplicaSet = "ReplicaSet"
	kindDeployment = "Deployment"
)

// objRef names a stored object: its kind and its namespace/name key.
type objRef struct {
	kind, key string
}

// indexOwners keeps s.dependents in step with one object's owner
// references as they change from old to cur (either may be empty).
func (s *State) indexOwners(ref objRef, old, cur []api.OwnerReference) {
	if slices.EqualFunc(old, cur, func(a, b api.OwnerReference) bool { return a.UID == b.UID }) {
		return
	}
	for _, r := range old {
		if deps := s.dependents[r.UID]; deps != nil {
			delete(deps, ref)
			if len(deps) == 0 {
				delete(s.dependents, r.UID)
			}
		}
	}
	for _, r := range cur {
		deps := s.dependents[r.UID]
		if deps == nil {
			deps = map[objRef]struct{}{}
			s.dependents[r.UID] = deps
		}
		deps[ref] = struct{}{}
	}
}

// sortedDependents returns the objects whose owner references name uid,
// in a fixed order (kind, then key), so every replica acts on them alike.
func (s *State) sortedDependents(uid types.UID) []objRef {
	out := slices.Collect(maps.Keys(s.dependents[uid]))
	slices.SortFunc(out, func(a, b objRef) int {
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	return out
}

// metaOf returns the metadata of a stored object, or nil. It is the stored
// object's: do not modify it.
func (s *State) metaOf(ref objRef) *api.ObjectMeta {
	switch ref.kind {
	case kindPod:
		if p, ok := s.pods[ref.key]; ok {
			return &p.ObjectMeta
		}
	case kindReplicaSet:
		if rs, ok := s.replicaSets[ref.key]; ok {
			return &rs.ObjectMeta
		}
	case kindDeployment:
		if d, ok := s.deployments[ref.key]; ok {
			return &d.ObjectMeta
		}
	}
	return nil
}

// ownerOf resolves an owner reference of an object in namespace to the
// stored owner: a Deployment or a ReplicaSet of apps/v1 with that name and
// uid. Owners of other kinds are never stored, so they count as absent, as
// Kubernetes' collector counts an owner it cannot find.
func (s *State) ownerOf(namespace string, r api.OwnerReference) (objRef, *api.ObjectMeta, bool) {
	if r.APIVersion != "apps/v1" || (r.Kind != kindReplicaSet && r.Kind != kindDeployment) {
		return objRef{}, nil, false
	}
	ref := objRef{r.Kind, podKey(namespace, r.Name)}
	m := s.metaOf(ref)
	if m == nil || m.UID != r.UID {
		return objRef{}, nil, false
	}
	return ref, m, true
}

// admitController checks an object about to be created by a controller
// (kind is its kind, for the message): if its controller reference names a
// Deployment or ReplicaSet, that owner must exist with that uid and not be
// being deleted. A controller acting on a stale view (its owner deleted
// meanwhile) thus creates nothing that would only be collected again.
func (s *State) admitController(kind string, m *api.ObjectMeta) error {
	for i, r := range m.OwnerReferences {
		if r.Controller == nil || !*r.Controller || r.APIVersion != "apps/v1" || (r.Kind != kindReplicaSet && r.Kind != kindDeployment) {
			continue
		}
		resource := "deployments.apps"
		if r.Kind == kindReplicaSet {
			resource = "replicasets.apps"
		}
		_, owner, ok := s.ownerOf(m.Namespace, r)
		switch {
		case !ok:
			return api.NewInvalidControllerRef(kind, m.Name, i, r, fmt.Sprintf("no %s %q with this uid exists", resource, r.Name))
		case owner.DeletionTimestamp != nil:
			return api.NewInvalidControllerRef(kind, m.Name, i, r, fmt.Sprintf("%s %q is being deleted", resource, r.Name))
		}
	}
	return nil
}

// checkPropagation refuses a policy that is not one of Kubernetes' three;
// empty is the default, Background.
func checkPropagation(p api.DeletionPropagation) error {
	switch p {
	case "", api.DeletePropagationBackground, api.DeletePropagationForeground, api.DeletePropagationOrphan:
		return nil
	}
	return api.NewBadRequest(fmt.Sprintf("propagationPolicy %q: must be Foreground, Background or Orphan", p))
}

// deleteWithPolicy deletes a Deployment or ReplicaSet and acts on its
// dependents as policy says:
//
//   - Orphan: every dependent loses its reference to the object, which goes.
//   - Background (or empty): the object goes; each dependent is collected.
//   - Foreground: the object stays with its deletionTimestamp and the
//     foregroundDeletion finalizer while dependents that block its deletion
//     (blockOwnerDeletion) exist; they are collected, in the foreground
//     themselves when they have dependents, and the object goes with the
//     last of them (here, or when a pod's node confirms it stopped).
//
// An object already being deleted is left as it is.
func (s *State) deleteWithPolicy(index uint64, cmd Command, ref objRef, policy api.DeletionPropagation) {
	m := s.metaOf(ref)
	if m == nil || m.DeletionTimestamp != nil {
		return
	}
	uid := m.UID
	deps := s.sortedDependents(uid)
	switch policy {
	case api.DeletePropagationOrphan:
		for _, dep := range deps {
			s.dropOwner(index, dep, uid)
		}
		s.removeObject(index, ref)
	case api.DeletePropagationForeground:
		if len(deps) == 0 {
			s.removeObject(index, ref)
			return
		}
		s.markDeleting(index, cmd, ref)
		for _, dep := range deps {
			s.collect(index, cmd, dep, uid, api.DeletePropagationForeground)
		}
		s.finishForeground(index, ref)
	default:
		s.removeObject(index, ref)
		for _, dep := range deps {
			s.collect(index, cmd, dep, uid, api.DeletePropagationBackground)
		}
	}
}

// collect is the garbage collector's decision on one dependent of an owner
// (uid) being deleted: a dependent that another live owner still holds
// only loses its reference to this one; any other is deleted, a pod
// gracefully, a Deployment or ReplicaSet in the foreground when its owner
// is deleted in the foreground and it has dependents of its own.
func (s *State) collect(index uint64, cmd Command, dep objRef, ownerUID types.UID, policy api.DeletionPropagation) {
	m := s.metaOf(dep)
	if m == nil {
		return
	}
	for _, r := range m.OwnerReferences {
		if r.UID == ownerUID {
			continue
		}
		if _, owner, ok := s.ownerOf(m.Namespace, r); ok && owner.DeletionTimestamp == nil {
			s.dropOwner(index, dep, ownerUID)
			return
		}
	}
	if dep.kind == kindPod {
		_, _ = s.deletePod(index, cmd, DeletePod{Namespace: m.Namespace, Name: m.Name, UID: m.UID})
		return
	}
	depPolicy := api.DeletePropagationBackground
	if policy == api.DeletePropagationForeground && len(s.dependents[m.UID]) > 0 {
		depPolicy = api.DeletePropagationForeground
	}
	s.deleteWithPolicy(index, cmd, dep, depPolicy)
}

// finishForeground removes an object deleted in the foreground once no
// dependent blocks it any more.
func (s *State) finishForeground(index uint64, ref objRef) {
	m := s.metaOf(ref)
	if m == nil || m.DeletionTimestamp == nil || !api.HasFinalizer(m, api.FinalizerForegroundDeletion) {
		return
	}
	for dep := range s.dependents[m.UID] {
		dm := s.metaOf(dep)
		if dm == nil {
			continue
		}
		for _, r := range dm.OwnerReferences {
			if r.UID == m.UID && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				return
			}
		}
	}
	s.removeObject(index, ref)
}

// finishOwners lets the owners of an object that just went finish their
// foreground deletion.
func (s *State) finishOwners(index uint64, namespace string, refs []api.OwnerReference) {
	for _, r := range refs {
		if ref, _, ok := s.ownerOf(namespace, r); ok {
			s.finishForeground(index, ref)
		}
	}
}

// removeObject removes a Deployment, ReplicaSet or pod from the state at
// once, with its events, and lets what waited on it (a foreground owner, a
// terminating namespace) finish.
func (s *State) removeObject(index uint64, ref objRef) {
	switch ref.kind {
	case kindPod:
		if p, ok := s.pods[ref.key]; ok {
			s.removePod(index, p)
		}
		return
	case kindReplicaSet:
		rs, ok := s.replicaSets[ref.key]
		if !ok {
			return
		}
		delete(s.replicaSets, ref.key)
		emitDeleted(s, index, kindReplicaSet, rs)
		s.afterRemoval(index, ref, &rs.ObjectMeta)
	case kindDeployment:
		d, ok := s.deployments[ref.key]
		if !ok {
			return
		}
		delete(s.deployments, ref.key)
		emitDeleted(s, index, kindDeployment, d)
		s.afterRemoval(index, ref, &d.ObjectMeta)
	}
}

// afterRemoval is what every removal does after the object left its map:
// drop its events and its owner references from the index, then let its
// owners and its namespace finish.
func (s *State) afterRemoval(index uint64, ref objRef, m *api.ObjectMeta) {
	for key, e := range s.events {
		if e.InvolvedObject.UID == m.UID {
			delete(s.events, key)
		}
	}
	s.indexOwners(ref, m.OwnerReferences, nil)
	s.finishOwners(index, m.Namespace, m.OwnerReferences)
	s.finishNamespace(index, m.Namespace)
}

// markDeleting starts a foreground deletion: deletionTimestamp is the
// command's time and the foregroundDeletion finalizer holds the object.
func (s *State) markDeleting(index uint64, cmd Command, ref objRef) {
	ts := api.NewTime(cmd.Time)
	mark := func(m *api.ObjectMeta) {
		m.DeletionTimestamp = &ts
		if !api.HasFinalizer(m, api.FinalizerForegroundDeletion) {
			m.Finalizers = append(m.Finalizers, api.FinalizerForegroundDeletion)
		}
	}
	switch ref.kind {
	case kindReplicaSet:
		old := s.replicaSets[ref.key]
		rs := old.DeepCopy()
		mark(&rs.ObjectMeta)
		s.putReplicaSet(index, old, rs)
	case kindDeployment:
		old := s.deployments[ref.key]
		d := old.DeepCopy()
		mark(&d.ObjectMeta)
		s.putDeployment(index, old, d)
	}
}

// dropOwner removes the owner references to uid from a stored object.
// Callers that may have unblocked a foreground deletion call
// finishForeground on the owner themselves.
func (s *State) dropOwner(index uint64, ref objRef, uid types.UID) {
	keep := func(refs []api.OwnerReference) []api.OwnerReference {
		out := slices.DeleteFunc(slices.Clone(refs), func(r api.OwnerReference) bool { return r.UID == uid })
		if len(out) == 0 {
			return nil
		}
		return out
	}
	switch ref.kind {
	case kindPod:
		old := s.pods[ref.key]
		p := old.DeepCopy()
		p.OwnerReferences = keep(p.OwnerReferences)
		s.putPod(index, old, p)
	case kindReplicaSet:
		old := s.replicaSets[ref.key]
		rs := old.DeepCopy()
		rs.OwnerReferences = keep(rs.OwnerReferences)
		s.putReplicaSet(index, old, rs)
	case kindDeployment:
		old := s.deployments[ref.key]
		d := old.DeepCopy()
		d.OwnerReferences = keep(d.OwnerReferences)
		s.putDeployment(index, old, d)
	}
}
