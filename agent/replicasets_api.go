package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// handleListReplicaSets serves GET /apis/apps/v1/replicasets and
// /apis/apps/v1/namespaces/{ns}/replicasets, with label selectors (what
// `kubectl rollout history` lists a Deployment's ReplicaSets by), the
// metadata.name and metadata.namespace field selectors, and ?watch.
func (a *Agent) handleListReplicaSets(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns := r.PathValue("namespace")
	sel, err := parseListSelector(r, "metadata.name", "metadata.namespace")
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(rs *api.ReplicaSet) bool {
		return (ns == "" || rs.Namespace == ns) && sel.matches(rs.Labels, fields.Set{"metadata.name": rs.Name, "metadata.namespace": rs.Namespace})
	}
	if isWatch(r) {
		serveKindWatch(a, w, r, "ReplicaSet", keep, func() ([]*api.ReplicaSet, uint64) { return a.store.State().ReplicaSets(keep) })
		return
	}
	rss, index := a.store.State().ReplicaSets(keep)
	list := api.ReplicaSetList{
		TypeMeta: api.TypeMeta{Kind: "ReplicaSetList", APIVersion: "apps/v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    make([]api.ReplicaSet, len(rss)),
	}
	for i, rs := range rss {
		list.Items[i] = *rs
	}
	writeObject(w, r, http.StatusOK, list)
}

// handleGetReplicaSet serves GET of one ReplicaSet, as a Table when asked.
func (a *Agent) handleGetReplicaSet(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	rs, ok := a.store.State().ReplicaSet(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("replicasets.apps", r.PathValue("name")))
		return
	}
	writeObject(w, r, http.StatusOK, rs)
}

// handleCreateReplicaSet serves POST: a ReplicaSet without an owner is run
// by the ReplicaSet controller as a Deployment's is. Its replicas are
// bounded by --max-deployment-replicas, as a Deployment's.
func (a *Agent) handleCreateReplicaSet(w http.ResponseWriter, r *http.Request) {
	rs, err := readNamespaced[*api.ReplicaSet](r, "an apps/v1 ReplicaSet")
	if err != nil {
		writeError(w, err)
		return
	}
	api.SetReplicaSetDefaults(rs)
	if err := api.ValidateReplicaSet(rs, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		writeError(w, err)
		return
	}
	if err := api.ValidateReplicaSetHostPaths(rs, a.cfg.AllowedHostPaths); err != nil {
		writeError(w, err)
		return
	}
	rs.UID = newUID()
	rs.ResourceVersion = ""
	rs.Status = api.ReplicaSetStatus{}
	commitAndRespond[api.ReplicaSet](a, w, r, consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *rs}, http.StatusCreated)
}

// handleUpdateReplicaSet serves PUT: labels, annotations and spec, against
// the stored ReplicaSet (its selector is immutable).
func (a *Agent) handleUpdateReplicaSet(w http.ResponseWriter, r *http.Request) {
	rs, err := readNamespaced[*api.ReplicaSet](r, "an apps/v1 ReplicaSet")
	if err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updateReplicaSet(r.Context(), rs, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// updateReplicaSet is the update path of PUT and PATCH: rs, decoded and in
// its namespace, replaces the ReplicaSet named name, defaulted and
// validated against the stored one.
func (a *Agent) updateReplicaSet(ctx context.Context, rs *api.ReplicaSet, name string) (*api.ReplicaSet, error) {
	if rs.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", rs.Name, name))
	}
	old, ok := a.store.State().ReplicaSet(rs.Namespace, name)
	if !ok {
		return nil, api.NewNotFound("replicasets.apps", name)
	}
	api.SetReplicaSetDefaults(rs)
	if err := api.ValidateReplicaSetUpdate(old, rs, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		return nil, err
	}
	if err := api.ValidateReplicaSetHostPaths(rs, a.cfg.AllowedHostPaths); err != nil {
		return nil, err
	}
	cmd, err := consensus.NewCommand(consensus.CmdUpdateReplicaSet, consensus.UpdateReplicaSet{ReplicaSet: *rs})
	if err != nil {
		return nil, err
	}
	return commitFor[api.ReplicaSet](ctx, a, cmd)
}

// handleDeleteReplicaSet deletes a ReplicaSet and, by its propagation
// policy (Background by default), its pods.
func (a *Agent) handleDeleteReplicaSet(w http.ResponseWriter, r *http.Request) {
	o, err := readDeleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	commitAndRespond[api.ReplicaSet](a, w, r, consensus.CmdDeleteReplicaSet, consensus.DeleteReplicaSet{
		Namespace: r.PathValue("namespace"), Name: r.PathValue("name"), UID: uidPrecondition(o),
		PropagationPolicy: o.Propagation(api.DeletePropagationBackground)}, http.StatusOK)
}

// replicaSetScale is the autoscaling/v1 Scale of a ReplicaSet.
func replicaSetScale(rs *api.ReplicaSet) Scale {
	var s Scale
	s.TypeMeta = api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"}
	s.ObjectMeta = api.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace, UID: rs.UID, ResourceVersion: rs.ResourceVersion}
	if rs.Spec.Replicas != nil {
		s.Spec.Replicas = *rs.Spec.Replicas
	}
	s.Status.Replicas = rs.Status.Replicas
	if sel, err := api.LabelSelectorAsSelector(rs.Spec.Selector); err == nil {
		s.Status.Selector = sel.String()
	}
	return s
}

// handleGetReplicaSetScale serves GET .../replicasets/{name}/scale.
func (a *Agent) handleGetReplicaSetScale(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	rs, ok := a.store.State().ReplicaSet(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("replicasets.apps", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, replicaSetScale(rs))
}

// handleUpdateReplicaSetScale serves PUT .../replicasets/{name}/scale
// (`kubectl scale rs`).
func (a *Agent) handleUpdateReplicaSetScale(w http.ResponseWriter, r *http.Request) {
	var s Scale
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&s); err != nil {
		writeError(w, api.NewBadRequest(fmt.Sprintf("decode Scale: %v", err)))
		return
	}
	updated, err := a.updateReplicaSetScale(r.Context(), r.PathValue("namespace"), r.PathValue("name"), &s)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// updateReplicaSetScale is the update path of the scale subresource's PUT
// and PATCH: the ReplicaSet takes s's replicas, on the condition of its
// resourceVersion when s names one.
func (a *Agent) updateReplicaSetScale(ctx context.Context, ns, name string, s *Scale) (*Scale, error) {
	if s.Name != "" && s.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", s.Name, name))
	}
	if err := api.ValidateReplicas("Scale.autoscaling", name, s.Spec.Replicas, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		return nil, err
	}
	old, ok := a.store.State().ReplicaSet(ns, name)
	if !ok {
		return nil, api.NewNotFound("replicasets.apps", name)
	}
	rs := *old
	replicas := s.Spec.Replicas
	rs.Spec.Replicas = &replicas
	rs.ResourceVersion = s.ResourceVersion
	cmd, err := consensus.NewCommand(consensus.CmdUpdateReplicaSet, consensus.UpdateReplicaSet{ReplicaSet: rs})
	if err != nil {
		return nil, err
	}
	updated, err := commitFor[api.ReplicaSet](ctx, a, cmd)
	if err != nil {
		return nil, err
	}
	sc := replicaSetScale(updated)
	return &sc, nil
}
