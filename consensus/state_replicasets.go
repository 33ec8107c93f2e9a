package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// ReplicaSet commands.
const (
	CmdCreateReplicaSet      CommandType = "CreateReplicaSet"
	CmdUpdateReplicaSet      CommandType = "UpdateReplicaSet"
	CmdDeleteReplicaSet      CommandType = "DeleteReplicaSet"
	CmdSetReplicaSetStatuses CommandType = "SetReplicaSetStatuses"
)

// CreateReplicaSet stores a new ReplicaSet, made by a user or by the
// Deployment controller (uid set by the proposer). The FSM checks it with
// api.ValidateNewReplicaSet (422), admits it to its namespace, and checks
// that its controller, if it names a Deployment, exists and is not being
// deleted (422). The response is the stored object, a 409 if one of that
// name exists.
type CreateReplicaSet struct {
	ReplicaSet api.ReplicaSet `json:"replicaSet"`
}

// UpdateReplicaSet replaces a ReplicaSet's labels, annotations and spec
// (replicas, minReadySeconds, template): a user's PUT, the scale
// subresource, and the Deployment controller scaling a rollout and keeping
// its annotations. The resourceVersion and uid, when set, are
// preconditions (409). Owner references and finalizers stay as stored: the
// garbage collector and ClaimObjects change them. generation moves when
// the spec does. The result must pass api.ValidateReplicaSetUpdate against
// the committed object, with the ceiling on replicas (422).
type UpdateReplicaSet struct {
	ReplicaSet api.ReplicaSet `json:"replicaSet"`
}

// DeleteReplicaSet deletes a ReplicaSet; its pods follow the propagation
// policy (Background when empty): see DeleteDeployment. UID, when set, is a
// precondition. The response is the object as last stored.
type DeleteReplicaSet struct {
	Namespace         string                  `json:"namespace"`
	Name              string                  `json:"name"`
	UID               types.UID               `json:"uid,omitempty"`
	PropagationPolicy api.DeletionPropagation `json:"propagationPolicy,omitempty"`
}

// SetReplicaSetStatuses records what the ReplicaSet controller observed,
// for several ReplicaSets in one entry; an update for a ReplicaSet that is
// gone or was replaced (uid) is skipped.
type SetReplicaSetStatuses struct {
	Updates []ReplicaSetStatusUpdate `json:"updates"`
}

// ReplicaSetStatusUpdate is one ReplicaSet's observed status.
type ReplicaSetStatusUpdate struct {
	Namespace string               `json:"namespace"`
	Name      string               `json:"name"`
	UID       types.UID            `json:"uid"`
	Status    api.ReplicaSetStatus `json:"status"`
}

// ReplicaSet returns the named ReplicaSet. It is shared: do not modify it.
func (s *State) ReplicaSet(namespace, name string) (*api.ReplicaSet, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs, ok := s.replicaSets[podKey(namespace, name)]
	return rs, ok
}

// ReplicaSets returns the ReplicaSets for which keep returns true (all if
// nil), sorted by namespace and name, and the index they reflect. They are
// shared: do not modify them.
func (s *State) ReplicaSets(keep func(*api.ReplicaSet) bool) ([]*api.ReplicaSet, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*api.ReplicaSet, 0, len(s.replicaSets))
	for _, k := range slices.Sorted(maps.Keys(s.replicaSets)) {
		if rs := s.replicaSets[k]; keep == nil || keep(rs) {
			out = append(out, rs)
		}
	}
	return out, s.index
}

// putReplicaSet stores a new version of a ReplicaSet (old is the previous
// one or nil), keeping the owner index and the watch log in step.
func (s *State) putReplicaSet(index uint64, old, rs *api.ReplicaSet) {
	rs.ResourceVersion = strconv.FormatUint(index, 10)
	key := podKey(rs.Namespace, rs.Name)
	var oldRefs []api.OwnerReference
	if old != nil {
		oldRefs = old.OwnerReferences
	}
	s.indexOwners(objRef{kindReplicaSet, key}, oldRefs, rs.OwnerReferences)
	s.replicaSets[key] = rs
	s.emit(index, kindReplicaSet, added(old != nil), rs)
}

func (s *State) createReplicaSet(index uint64, cmd Command, c CreateReplicaSet) (*api.ReplicaSet, error) {
	rs := c.ReplicaSet.DeepCopy()
	if rs.Name == "" || rs.Namespace == "" {
		return nil, api.NewBadRequest("replicaset name and namespace are required")
	}
	if err := api.ValidateNewReplicaSet(rs); err != nil {
		return nil, err
	}
	if err := s.admitNamespaced("replicasets.apps", rs.Name, rs.Namespace); err != nil {
		return nil, err
	}
	if err := s.admitController("ReplicaSet", &rs.ObjectMeta); err != nil {
		return nil, err
	}
	if _, exists := s.replicaSets[podKey(rs.Namespace, rs.Name)]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("replicasets.apps %q already exists", rs.Name))
		st.Details = &api.StatusDetails{Name: rs.Name, Group: "apps", Kind: "replicasets"}
		return nil, st
	}
	rs.Kind, rs.APIVersion = "ReplicaSet", "apps/v1"
	rs.CreationTimestamp = api.NewTime(cmd.Time)
	rs.DeletionTimestamp, rs.DeletionGracePeriodSeconds, rs.Finalizers = nil, nil, nil
	rs.Generation = 1
	rs.Status = api.ReplicaSetStatus{}
	s.putReplicaSet(index, nil, rs)
	return rs, nil
}

func (s *State) updateReplicaSet(index uint64, u UpdateReplicaSet) (*api.ReplicaSet, error) {
	in := &u.ReplicaSet
	old, ok := s.replicaSets[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("replicasets.apps", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("replicasets.apps", in.Name)
	}
	rs := old.DeepCopy()
	rs.Labels = maps.Clone(in.Labels)
	rs.Annotations = maps.Clone(in.Annotations)
	if !equality.Semantic.DeepEqual(in.Spec, old.Spec) {
		rs.Generation++
		rs.Spec = in.DeepCopy().Spec
	}
	if err := api.ValidateReplicaSetUpdate(old, rs, api.MaxDeploymentReplicasCeiling); err != nil {
		return nil, err
	}
	if equality.Semantic.DeepEqual(rs, old) {
		return old, nil
	}
	s.putReplicaSet(index, old, rs)
	return rs, nil
}

func (s *State) deleteReplicaSet(index uint64, cmd Command, d DeleteReplicaSet) (*api.ReplicaSet, error) {
	key := podKey(d.Namespace, d.Name)
	rs, ok := s.replicaSets[key]
	if !ok {
		return nil, api.NewNotFound("replicasets.apps", d.Name)
	}
	if d.UID != "" && d.UID != rs.UID {
		return nil, uidConflict("replicasets.apps", d.Name, d.UID, rs.UID)
	}
	if err := checkPropagation(d.PropagationPolicy); err != nil {
		return nil, err
	}
	s.deleteWithPolicy(index, cmd, objRef{kindReplicaSet, key}, d.PropagationPolicy)
	if cur, ok := s.replicaSets[key]; ok {
		return cur, nil
	}
	return rs, nil
}

func (s *State) setReplicaSetStatuses(index uint64, u SetReplicaSetStatuses) {
	for _, up := range u.Updates {
		old, ok := s.replicaSets[podKey(up.Namespace, up.Name)]
		if !ok || old.UID != up.UID || equality.Semantic.DeepEqual(old.Status, up.Status) {
			continue
		}
		rs := old.DeepCopy()
		rs.Status = up.Status
		s.putReplicaSet(index, old, rs)
	}
}

// conflictOn is Kubernetes' 409 for a write based on a stale object of
// resource.
func conflictOn(resource, name string) *api.Status {
	st := api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", resource, name))
	st.Details = &api.StatusDetails{Name: name, Kind: resource}
	return st
}

// uidConflict is Kubernetes' 409 for a delete whose uid precondition fails.
func uidConflict(resource, name string, want, have types.UID) *api.Status {
	st := api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
		fmt.Sprintf("Operation cannot be fulfilled on %s %q: the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", resource, name, want, have))
	st.Details = &api.StatusDetails{Name: name, Kind: resource}
	return st
}
