package consensus

import (
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// Ownership commands: the Deployment controller's move of a Deployment
// stored before ReplicaSets existed, and the claims of both controllers.
const (
	CmdAdoptLegacyPods CommandType = "AdoptLegacyPods"
	CmdClaimObjects    CommandType = "ClaimObjects"
)

// AdoptLegacyPods moves a Deployment stored before ReplicaSets to the
// ReplicaSet model in one entry, without restarting any pod: it creates
// the given ReplicaSets, one per pod-template-hash the Deployment's pods
// carry, and makes each such pod's controller the ReplicaSet of its hash
// instead of the Deployment. Every ReplicaSet must be controlled by the
// Deployment, select and label its pods by a pod-template-hash of its own,
// pass CreateReplicaSet's checks and not exist yet; otherwise nothing is
// done (409 or 422). Pods whose hash has no ReplicaSet, or whose labels
// the ReplicaSet does not select, stay as they are. The response is an
// AdoptResult.
type AdoptLegacyPods struct {
	Namespace   string           `json:"namespace"`
	Name        string           `json:"name"`
	UID         types.UID        `json:"uid"`
	ReplicaSets []api.ReplicaSet `json:"replicaSets"`
}

// AdoptResult counts what AdoptLegacyPods or ClaimObjects changed.
type AdoptResult struct {
	ReplicaSets int `json:"replicaSets,omitempty"`
	Adopted     int `json:"adopted,omitempty"`
	Released    int `json:"released,omitempty"`
}

// ClaimObjects is Kubernetes' controller reference manager in one entry:
// the owner (a Deployment claiming ReplicaSets, or a ReplicaSet claiming
// pods) adopts orphans its selector matches, and releases dependents it
// controls whose labels it no longer matches (a pod relabelled to take it
// out of service). Each claim is checked against the committed state: an
// adopted object exists with its uid, has no controller, is not being
// deleted and matches the selector, and the owner is not being deleted; a
// released one is controlled by the owner and does not match. A claim that
// fails its check is skipped. The response is an AdoptResult.
type ClaimObjects struct {
	Namespace string `json:"namespace"`
	// OwnerKind is Deployment or ReplicaSet.
	OwnerKind string      `json:"ownerKind"`
	OwnerName string      `json:"ownerName"`
	OwnerUID  types.UID   `json:"ownerUID"`
	Adopt     []ObjectKey `json:"adopt,omitempty"`
	Release   []ObjectKey `json:"release,omitempty"`
}

// ObjectKey names one object of the claim's namespace: a ReplicaSet when
// the owner is a Deployment, a pod when it is a ReplicaSet.
type ObjectKey struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid"`
}

func (s *State) adoptLegacyPods(index uint64, cmd Command, a AdoptLegacyPods) (AdoptResult, error) {
	var res AdoptResult
	d, ok := s.deployments[podKey(a.Namespace, a.Name)]
	switch {
	case !ok:
		return res, api.NewNotFound("deployments.apps", a.Name)
	case d.UID != a.UID:
		return res, uidConflict("deployments.apps", a.Name, a.UID, d.UID)
	case d.DeletionTimestamp != nil:
		return res, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, fmt.Sprintf("deployments.apps %q is being deleted", a.Name))
	}
	// Every check first: the entry applies whole or not at all.
	byHash := map[string]*api.ReplicaSet{}
	for i := range a.ReplicaSets {
		rs := &a.ReplicaSets[i]
		hash := rs.Spec.Template.Labels[api.LabelPodTemplateHash]
		switch {
		case rs.Namespace != d.Namespace || !api.IsControlledBy(&rs.ObjectMeta, d.UID):
			return res, api.NewBadRequest(fmt.Sprintf("AdoptLegacyPods: ReplicaSet %q is not controlled by deployment %q", rs.Name, d.Name))
		case hash == "" || rs.Spec.Selector == nil || rs.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] != hash:
			return res, api.NewBadRequest(fmt.Sprintf("AdoptLegacyPods: ReplicaSet %q does not select its pods by %s", rs.Name, api.LabelPodTemplateHash))
		case byHash[hash] != nil:
			return res, api.NewBadRequest(fmt.Sprintf("AdoptLegacyPods: two ReplicaSets for %s=%s", api.LabelPodTemplateHash, hash))
		}
		if _, exists := s.replicaSets[podKey(rs.Namespace, rs.Name)]; exists {
			st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("replicasets.apps %q already exists", rs.Name))
			st.Details = &api.StatusDetails{Name: rs.Name, Group: "apps", Kind: "replicasets"}
			return res, st
		}
		if err := api.ValidateNewReplicaSet(rs); err != nil {
			return res, err
		}
		byHash[hash] = rs
	}
	if err := s.admitNamespaced("replicasets.apps", a.Name, a.Namespace); err != nil {
		return res, err
	}

	created := map[string]*api.ReplicaSet{}
	for hash, in := range byHash {
		rs, err := s.createReplicaSet(index, cmd, CreateReplicaSet{ReplicaSet: *in})
		if err != nil {
			// Checked above; a failure here is a bug, not a user error.
			return res, fmt.Errorf("AdoptLegacyPods: create ReplicaSet %s: %w", in.Name, err)
		}
		created[hash] = rs
		res.ReplicaSets++
	}
	for _, p := range s.ownedPods(d.UID) {
		rs := created[p.Labels[api.LabelPodTemplateHash]]
		if rs == nil {
			continue
		}
		if sel, err := api.LabelSelectorAsSelector(rs.Spec.Selector); err != nil || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		q := p.DeepCopy()
		refs := []api.OwnerReference{api.NewControllerRef("apps/v1", kindReplicaSet, rs.Name, rs.UID)}
		for _, r := range p.OwnerReferences {
			if r.UID != d.UID {
				refs = append(refs, r)
			}
		}
		q.OwnerReferences = refs
		s.putPod(index, p, q)
		res.Adopted++
	}
	return res, nil
}

func (s *State) claimObjects(index uint64, c ClaimObjects) (AdoptResult, error) {
	var res AdoptResult
	var owner *api.ObjectMeta
	var selector *api.LabelSelector
	var dependentKind, apiVersion string
	switch c.OwnerKind {
	case kindDeployment:
		d, ok := s.deployments[podKey(c.Namespace, c.OwnerName)]
		if !ok {
			return res, api.NewNotFound("deployments.apps", c.OwnerName)
		}
		owner, selector, dependentKind, apiVersion = &d.ObjectMeta, d.Spec.Selector, kindReplicaSet, "apps/v1"
	case kindReplicaSet:
		rs, ok := s.replicaSets[podKey(c.Namespace, c.OwnerName)]
		if !ok {
			return res, api.NewNotFound("replicasets.apps", c.OwnerName)
		}
		owner, selector, dependentKind, apiVersion = &rs.ObjectMeta, rs.Spec.Selector, kindPod, "apps/v1"
	default:
		return res, api.NewBadRequest(fmt.Sprintf("ClaimObjects: owner kind %q: must be Deployment or ReplicaSet", c.OwnerKind))
	}
	if owner.UID != c.OwnerUID {
		return res, uidConflict(c.OwnerKind, c.OwnerName, c.OwnerUID, owner.UID)
	}
	sel, err := api.LabelSelectorAsSelector(selector)
	if err != nil {
		return res, api.NewBadRequest(fmt.Sprintf("ClaimObjects: the selector of %s %q: %v", c.OwnerKind, c.OwnerName, err))
	}
	for _, k := range c.Adopt {
		ref := objRef{dependentKind, podKey(c.Namespace, k.Name)}
		m := s.metaOf(ref)
		if owner.DeletionTimestamp != nil || m == nil || m.UID != k.UID || m.DeletionTimestamp != nil ||
			api.ControllerOf(m) != nil || !sel.Matches(labels.Set(m.Labels)) {
			continue
		}
		s.addControllerRef(index, ref, api.NewControllerRef(apiVersion, c.OwnerKind, c.OwnerName, c.OwnerUID))
		res.Adopted++
	}
	for _, k := range c.Release {
		ref := objRef{dependentKind, podKey(c.Namespace, k.Name)}
		m := s.metaOf(ref)
		if m == nil || m.UID != k.UID || !api.IsControlledBy(m, c.OwnerUID) || sel.Matches(labels.Set(m.Labels)) {
			continue
		}
		s.dropOwner(index, ref, c.OwnerUID)
		res.Released++
	}
	if res.Released > 0 {
		s.finishForeground(index, objRef{c.OwnerKind, podKey(c.Namespace, c.OwnerName)})
	}
	return res, nil
}

// addControllerRef gives a stored pod or ReplicaSet a controller.
func (s *State) addControllerRef(index uint64, ref objRef, r api.OwnerReference) {
	switch ref.kind {
	case kindPod:
		old := s.pods[ref.key]
		p := old.DeepCopy()
		p.OwnerReferences = append(p.OwnerReferences, r)
		s.putPod(index, old, p)
	case kindReplicaSet:
		old := s.replicaSets[ref.key]
		rs := old.DeepCopy()
		rs.OwnerReferences = append(rs.OwnerReferences, r)
		s.putReplicaSet(index, old, rs)
	}
}
