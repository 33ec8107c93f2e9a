package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/patch"
	"github.com/gossipod/gossipod/consensus"
)

// readPatch reads a PATCH request: its patch type (a 415 for any other
// Content-Type, server-side apply's included) and its body, within the
// API's body bound. A dry run (`kubectl patch --dry-run=server`) is
// refused rather than applied: gossipod has no dry-run path, and a client
// asking for one must not find its change committed.
func readPatch(r *http.Request) (types.PatchType, []byte, error) {
	if v := r.URL.Query()["dryRun"]; len(v) > 0 {
		return "", nil, api.NewBadRequest(fmt.Sprintf("dryRun=%s: gossipod does not implement server-side dry run; nothing was changed", strings.Join(v, ",")))
	}
	t, err := patch.TypeOf(r.Header.Get("Content-Type"))
	if err != nil {
		return "", nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return "", nil, bodyError(err)
	}
	return t, body, nil
}

// decodePatched decodes a patched object as a request body is decoded
// (DecodeManifests, strictly), leaving a *api.DecodeError as it is for
// patch.Do to answer with the 422 of a patch whose result is invalid.
func decodePatched(b []byte) (api.Object, error) {
	objs, err := api.DecodeManifests(b)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, api.NewBadRequest(fmt.Sprintf("the patched object is %d objects, not one", len(objs)))
	}
	return objs[0], nil
}

// servePatch reads the patch of r, applies it to target and writes the
// object as stored.
func servePatch[T any](w http.ResponseWriter, r *http.Request, target patch.Target[T]) {
	t, body, err := readPatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := patch.Do(r.Context(), t, body, target)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handlePatchPod serves PATCH /api/v1/namespaces/{ns}/pods/{name}: the
// patched pod goes through updatePod, PUT's path, so only images,
// labels and annotations can change, as in Kubernetes.
func (a *Agent) handlePatchPod(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*api.Pod]{
		Kind:   "Pod",
		Schema: &corev1.Pod{},
		Get: func(ctx context.Context) (*api.Pod, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			p, ok := a.store.State().Pod(ns, name)
			if !ok {
				return nil, api.NewNotFound("pods", name)
			}
			c := *p // the state's pod is shared: set the kind on a copy
			c.TypeMeta = api.TypeMeta{Kind: "Pod", APIVersion: "v1"}
			return &c, nil
		},
		Decode: func(b []byte) (*api.Pod, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return checkNamespaced[*api.Pod](obj, ns, "a v1 Pod")
		},
		ResourceVersion: func(p *api.Pod) string { return p.ResourceVersion },
		Update: func(ctx context.Context, _, p *api.Pod) (*api.Pod, error) {
			return a.updatePod(ctx, p, name)
		},
	})
}

// handlePatchDeployment serves PATCH on a Deployment: apply, set image,
// rollout restart, label; the result goes through updateDeployment.
func (a *Agent) handlePatchDeployment(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*api.Deployment]{
		Kind:   "Deployment",
		Schema: &appsv1.Deployment{},
		Get: func(ctx context.Context) (*api.Deployment, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			d, ok := a.store.State().Deployment(ns, name)
			if !ok {
				return nil, api.NewNotFound("deployments.apps", name)
			}
			c := *d
			c.TypeMeta = api.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
			return &c, nil
		},
		Decode: func(b []byte) (*api.Deployment, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return checkNamespaced[*api.Deployment](obj, ns, "an apps/v1 Deployment")
		},
		ResourceVersion: func(d *api.Deployment) string { return d.ResourceVersion },
		Update: func(ctx context.Context, _, d *api.Deployment) (*api.Deployment, error) {
			return a.updateDeployment(ctx, d, name)
		},
	})
}

// handlePatchScale serves PATCH on a Deployment's scale subresource, what
// `kubectl scale` sends ({"spec":{"replicas":N}} as a merge patch); the
// result goes through updateScale, the scale PUT's path.
func (a *Agent) handlePatchScale(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*Scale]{
		Kind:   "Scale",
		Schema: &autoscalingv1.Scale{},
		Get: func(ctx context.Context) (*Scale, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			d, ok := a.store.State().Deployment(ns, name)
			if !ok {
				return nil, api.NewNotFound("deployments.apps", name)
			}
			s := scaleOf(d)
			return &s, nil
		},
		Decode: func(b []byte) (*Scale, error) {
			var s Scale
			if err := api.DecodeInto(b, &s); err != nil {
				return nil, err
			}
			return &s, nil
		},
		ResourceVersion: func(s *Scale) string { return s.ResourceVersion },
		Update: func(ctx context.Context, _, s *Scale) (*Scale, error) {
			return a.updateScale(ctx, ns, name, s)
		},
	})
}

// handlePatchReplicaSet serves PATCH on a ReplicaSet (`kubectl apply`,
// `label`, `scale --current-replicas`); the result goes through
// updateReplicaSet, PUT's path.
func (a *Agent) handlePatchReplicaSet(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*api.ReplicaSet]{
		Kind:   "ReplicaSet",
		Schema: &appsv1.ReplicaSet{},
		Get: func(ctx context.Context) (*api.ReplicaSet, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			rs, ok := a.store.State().ReplicaSet(ns, name)
			if !ok {
				return nil, api.NewNotFound("replicasets.apps", name)
			}
			c := *rs
			c.TypeMeta = api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"}
			return &c, nil
		},
		Decode: func(b []byte) (*api.ReplicaSet, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return checkNamespaced[*api.ReplicaSet](obj, ns, "an apps/v1 ReplicaSet")
		},
		ResourceVersion: func(rs *api.ReplicaSet) string { return rs.ResourceVersion },
		Update: func(ctx context.Context, _, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
			return a.updateReplicaSet(ctx, rs, name)
		},
	})
}

// handlePatchReplicaSetScale serves PATCH on a ReplicaSet's scale
// subresource (`kubectl scale rs`).
func (a *Agent) handlePatchReplicaSetScale(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*Scale]{
		Kind:   "Scale",
		Schema: &autoscalingv1.Scale{},
		Get: func(ctx context.Context) (*Scale, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			rs, ok := a.store.State().ReplicaSet(ns, name)
			if !ok {
				return nil, api.NewNotFound("replicasets.apps", name)
			}
			s := replicaSetScale(rs)
			return &s, nil
		},
		Decode: func(b []byte) (*Scale, error) {
			var s Scale
			if err := api.DecodeInto(b, &s); err != nil {
				return nil, err
			}
			return &s, nil
		},
		ResourceVersion: func(s *Scale) string { return s.ResourceVersion },
		Update: func(ctx context.Context, _, s *Scale) (*Scale, error) {
			return a.updateReplicaSetScale(ctx, ns, name, s)
		},
	})
}

// handlePatchNode serves PATCH on a node. A node's registration (labels,
// addresses, capacity) and status are the agent's, which the leader keeps
// in step with gossip and would overwrite; what a user may change is
// spec.unschedulable, as cordon and uncordon do (a strategic merge patch
// from kubectl, a merge patch from gossipod's CLI). A patch that changes
// anything else is refused, naming the fields.
func (a *Agent) handlePatchNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	servePatch(w, r, patch.Target[*api.Node]{
		Kind:   "Node",
		Schema: &corev1.Node{},
		Get: func(ctx context.Context) (*api.Node, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			n, ok := a.store.State().Node(name)
			if !ok {
				return nil, api.NewNotFound("nodes", name)
			}
			c := *n
			c.TypeMeta = api.TypeMeta{Kind: "Node", APIVersion: "v1"}
			return &c, nil
		},
		Decode: func(b []byte) (*api.Node, error) {
			var n api.Node
			if err := api.DecodeInto(b, &n); err != nil {
				return nil, err
			}
			return &n, nil
		},
		ResourceVersion: func(n *api.Node) string { return n.ResourceVersion },
		Update: func(ctx context.Context, current, patched *api.Node) (*api.Node, error) {
			return a.updateNode(ctx, current, patched)
		},
	})
}

// updateNode commits the one change a node patch may make,
// spec.unschedulable, after checking that it makes no other. A
// resourceVersion the patch set is checked here, against the state just
// read: SetNodeUnschedulable carries none to the FSM.
func (a *Agent) updateNode(ctx context.Context, current, patched *api.Node) (*api.Node, error) {
	if patched.Name != current.Name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", patched.Name, current.Name))
	}
	if patched.ResourceVersion != "" && patched.ResourceVersion != current.ResourceVersion {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonConflict, fmt.Sprintf(
			"Operation cannot be fulfilled on nodes %q: the object has been modified; please apply your changes to the latest version and try again", current.Name))
		st.Details = &api.StatusDetails{Name: current.Name, Kind: "nodes"}
		return nil, st
	}
	allowed := *current
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
	res, err := a.Commit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := a.waitApplied(ctx, res.Index); err != nil {
		return nil, api.NewServiceUnavailable(fmt.Sprintf("node %s cordoned but not yet visible on this agent: %v", current.Name, err))
	}
	n, ok := a.store.State().Node(current.Name)
	if !ok {
		return nil, api.NewNotFound("nodes", current.Name)
	}
	return n, nil
}
