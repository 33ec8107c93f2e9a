package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/patch"
	"github.com/gossipod/gossipod/consensus"
)

// subresourceRoutes are the subresources with their own bodies: the scale
// of Deployments and ReplicaSets (`kubectl scale`) and pod eviction
// (`kubectl drain`). Status subresources are the resources' own routes;
// log, exec, attach and portforward are the agent's, which reach the
// pod's node.
func (s *Server) subresourceRoutes() []Route {
	deployments := scaleTarget[api.Deployment]{s: s, resource: "deployments.apps",
		get:      func(st *consensus.State, ns, name string) (*api.Deployment, bool) { return st.Deployment(ns, name) },
		replicas: func(d *api.Deployment) int32 { return int32(consensus.DesiredReplicas(d)) },
		selector: func(d *api.Deployment) *api.LabelSelector { return d.Spec.Selector },
		status:   func(d *api.Deployment) int32 { return d.Status.Replicas },
		meta:     func(d *api.Deployment) *api.ObjectMeta { return &d.ObjectMeta },
		commit: func(ctx context.Context, d api.Deployment, replicas int32) (*api.Deployment, error) {
			d.Spec.Replicas = &replicas
			return commitObject[api.Deployment](ctx, s.b, consensus.CmdUpdateDeployment, consensus.UpdateDeployment{Deployment: d})
		},
	}
	replicaSets := scaleTarget[api.ReplicaSet]{s: s, resource: "replicasets.apps",
		get: func(st *consensus.State, ns, name string) (*api.ReplicaSet, bool) { return st.ReplicaSet(ns, name) },
		replicas: func(rs *api.ReplicaSet) int32 {
			if rs.Spec.Replicas == nil {
				return 1
			}
			return *rs.Spec.Replicas
		},
		selector: func(rs *api.ReplicaSet) *api.LabelSelector { return rs.Spec.Selector },
		status:   func(rs *api.ReplicaSet) int32 { return rs.Status.Replicas },
		meta:     func(rs *api.ReplicaSet) *api.ObjectMeta { return &rs.ObjectMeta },
		commit: func(ctx context.Context, rs api.ReplicaSet, replicas int32) (*api.ReplicaSet, error) {
			rs.Spec.Replicas = &replicas
			return commitObject[api.ReplicaSet](ctx, s.b, consensus.CmdUpdateReplicaSet, consensus.UpdateReplicaSet{ReplicaSet: rs})
		},
	}
	return []Route{
		{Path: "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", Methods: deployments.methods()},
		{Path: "/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale", Methods: replicaSets.methods()},
		{Path: "/api/v1/namespaces/{namespace}/pods/{name}/eviction", Methods: map[string]http.HandlerFunc{http.MethodPost: s.serveEviction}},
		{Path: "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", Methods: map[string]http.HandlerFunc{http.MethodPost: s.serveTokenRequest}},
	}
}

// scaleTarget is the scale subresource of a kind T: how to read its
// replicas and selector, and how to commit new replicas.
type scaleTarget[T any] struct {
	s        *Server
	resource string // "deployments.apps", for errors
	get      func(st *consensus.State, ns, name string) (*T, bool)
	replicas func(*T) int32
	selector func(*T) *api.LabelSelector
	status   func(*T) int32
	meta     func(*T) *api.ObjectMeta
	// commit sets the replicas on a copy of the stored object, whose
	// resourceVersion is the condition, and commits it.
	commit func(ctx context.Context, obj T, replicas int32) (*T, error)
}

func (t scaleTarget[T]) methods() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{http.MethodGet: t.serveGet, http.MethodPut: t.servePut, http.MethodPatch: t.servePatch}
}

// scaleOf is obj's autoscaling/v1 Scale.
func (t scaleTarget[T]) scaleOf(obj *T) *autoscalingv1.Scale {
	m := t.meta(obj)
	s := &autoscalingv1.Scale{
		TypeMeta:   api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: api.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion},
	}
	s.Spec.Replicas = t.replicas(obj)
	s.Status.Replicas = t.status(obj)
	if sel, err := api.LabelSelectorAsSelector(t.selector(obj)); err == nil {
		s.Status.Selector = sel.String()
	}
	return s
}

func (t scaleTarget[T]) serveGet(w http.ResponseWriter, r *http.Request) {
	if !t.s.ConsistentRead(w, r) {
		return
	}
	obj, ok := t.get(t.s.b.State(), r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		WriteError(w, api.NewNotFound(t.resource, r.PathValue("name")))
		return
	}
	WriteJSON(w, http.StatusOK, t.scaleOf(obj))
}

func (t scaleTarget[T]) servePut(w http.ResponseWriter, r *http.Request) {
	var s autoscalingv1.Scale
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes)).Decode(&s); err != nil {
		WriteError(w, api.NewBadRequest(fmt.Sprintf("decode Scale: %v", err)))
		return
	}
	out, err := t.update(r.Context(), r.PathValue("namespace"), r.PathValue("name"), &s)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// servePatch serves PATCH on the scale, what `kubectl scale` sends
// ({"spec":{"replicas":N}} as a merge patch); the result goes through the
// PUT's path.
func (t scaleTarget[T]) servePatch(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*autoscalingv1.Scale]{
		Kind:   "Scale",
		Schema: &autoscalingv1.Scale{},
		Get: func(ctx context.Context) (*autoscalingv1.Scale, error) {
			if err := t.s.SyncRead(ctx); err != nil {
				return nil, err
			}
			obj, ok := t.get(t.s.b.State(), ns, name)
			if !ok {
				return nil, api.NewNotFound(t.resource, name)
			}
			return t.scaleOf(obj), nil
		},
		Decode: func(b []byte) (*autoscalingv1.Scale, error) {
			var s autoscalingv1.Scale
			if err := api.DecodeInto(b, &s); err != nil {
				return nil, err
			}
			return &s, nil
		},
		ResourceVersion: func(s *autoscalingv1.Scale) string { return s.ResourceVersion },
		Update: func(ctx context.Context, _, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
			return t.update(ctx, ns, name, s)
		},
	})
}

// update is the path of the scale's PUT and PATCH: the object takes s's
// replicas, on the condition of s's resourceVersion (the object's) when it
// has one.
func (t scaleTarget[T]) update(ctx context.Context, ns, name string, s *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
	if s.Name != "" && s.Name != name {
		return nil, nameMismatch(s.Name, name)
	}
	if err := api.ValidateReplicas("Scale.autoscaling", name, s.Spec.Replicas, t.s.cfg.MaxDeploymentReplicas); err != nil {
		return nil, err
	}
	old, ok := t.get(t.s.b.State(), ns, name)
	if !ok {
		return nil, api.NewNotFound(t.resource, name)
	}
	c := *old
	t.meta(&c).ResourceVersion = s.ResourceVersion
	updated, err := t.commit(ctx, c, s.Spec.Replicas)
	if err != nil {
		return nil, err
	}
	return t.scaleOf(updated), nil
}

// serveEviction serves the eviction subresource (policy/v1 Eviction): a
// graceful delete that refuses, with 429, to take a Deployment below
// replicas − maxUnavailable available pods.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request) {
	// The policy/v1 Eviction body may carry deleteOptions.gracePeriodSeconds
	// and a uid precondition; an empty body is fine.
	var eviction struct {
		DeleteOptions *struct {
			GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
			Preconditions      *struct {
				UID *string `json:"uid"`
			} `json:"preconditions"`
		} `json:"deleteOptions"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes)).Decode(&eviction); err != nil && !errors.Is(err, io.EOF) {
		WriteError(w, api.NewBadRequest(fmt.Sprintf("decode Eviction: %v", err)))
		return
	}
	e := consensus.EvictPod{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	if o := eviction.DeleteOptions; o != nil {
		if o.GracePeriodSeconds != nil && *o.GracePeriodSeconds < 0 {
			WriteError(w, api.NewBadRequest("deleteOptions.gracePeriodSeconds must not be negative"))
			return
		}
		e.GracePeriodSeconds = o.GracePeriodSeconds
		if o.Preconditions != nil && o.Preconditions.UID != nil {
			e.UID = types.UID(*o.Preconditions.UID)
		}
	}
	cmd, err := consensus.NewCommand(consensus.CmdEvictPod, e)
	if err != nil {
		WriteError(w, err)
		return
	}
	if _, err := s.b.Commit(r.Context(), cmd); err != nil {
		WriteError(w, err)
		return
	}
	st := api.NewStatus(http.StatusCreated, "", "")
	st.Status = "Success"
	WriteJSON(w, http.StatusCreated, st)
}

// updateNode commits the one change a node update may make,
// spec.unschedulable (cordon, uncordon), after checking that it makes no
// other: a node's registration (labels, addresses, capacity) and status
// are its agent's, which the leader keeps in step with gossip. A
// resourceVersion the patch set is checked here, against the state just
// read: SetNodeUnschedulable carries none to the FSM.
func (s *Server) updateNode(ctx context.Context, current, patched *api.Node) (*api.Node, error) {
	if patched.ResourceVersion != "" && patched.ResourceVersion != current.ResourceVersion {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonConflict, fmt.Sprintf(
			"Operation cannot be fulfilled on nodes %q: the object has been modified; please apply your changes to the latest version and try again", current.Name))
		st.Details = &api.StatusDetails{Name: current.Name, Kind: "nodes"}
		return nil, st
	}
	allowed := *current
	allowed.TypeMeta = patched.TypeMeta
	allowed.Spec.Unschedulable = patched.Spec.Unschedulable
	allowed.ResourceVersion = patched.ResourceVersion
	changed, err := patch.ChangedPaths(&allowed, patched)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	if len(changed) > 0 {
		return nil, patch.ForbiddenChanges("Node", current.Name, changed,
			"gossipod's agents set their nodes' labels, annotations, addresses, resources and status; only spec.unschedulable may be changed (cordon, uncordon)")
	}
	cmd, err := consensus.NewCommand(consensus.CmdSetNodeUnschedulable, consensus.SetNodeUnschedulable{
		Name: current.Name, Unschedulable: patched.Spec.Unschedulable})
	if err != nil {
		return nil, err
	}
	res, err := s.b.Commit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := s.b.WaitApplied(ctx, res.Index); err != nil {
		return nil, api.NewServiceUnavailable(fmt.Sprintf("node %s cordoned but not yet visible on this agent: %v", current.Name, err))
	}
	n, ok := s.b.State().Node(current.Name)
	if !ok {
		return nil, api.NewNotFound("nodes", current.Name)
	}
	return n, nil
}
