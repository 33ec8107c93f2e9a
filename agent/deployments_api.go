package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// readObject decodes a request body holding exactly one object, strictly.
func readObject(r *http.Request) (api.Object, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bodyError(err)
	}
	return decodeObject(body)
}

// decodeObject decodes a body holding exactly one object, strictly: a
// request's, or the result of a patch.
func decodeObject(body []byte) (api.Object, error) {
	objs, err := api.DecodeManifests(body)
	if err != nil {
		var de *api.DecodeError
		if errors.As(err, &de) {
			return nil, de.Status()
		}
		return nil, api.NewBadRequest(err.Error())
	}
	if len(objs) != 1 {
		return nil, api.NewBadRequest(fmt.Sprintf("expected one object in the request body, got %d", len(objs)))
	}
	return objs[0], nil
}

// readDeployment reads a Deployment body, as readPod reads a Pod.
func readDeployment(r *http.Request) (*api.Deployment, error) {
	return readNamespaced[*api.Deployment](r, "an apps/v1 Deployment")
}

// readNamespaced decodes a body holding one object of type T (what names
// it for the error) and reconciles its namespace with the URL's.
func readNamespaced[T api.Object](r *http.Request, what string) (T, error) {
	var zero T
	obj, err := readObject(r)
	if err != nil {
		return zero, err
	}
	return checkNamespaced[T](obj, r.PathValue("namespace"), what)
}

// checkNamespaced checks that obj is a T and puts it in the URL's
// namespace ns when it names none; one that names another is refused, in
// kube-apiserver's words.
func checkNamespaced[T api.Object](obj api.Object, ns, what string) (T, error) {
	var zero T
	typed, ok := obj.(T)
	if !ok {
		apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		return zero, api.NewBadRequest(fmt.Sprintf("expected %s in the request body, got %s %s", what, apiVersion, kind))
	}
	switch typed.GetNamespace() {
	case "":
		typed.SetNamespace(ns)
	case ns:
	default:
		return zero, api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return typed, nil
}

func (a *Agent) handleListDeployments(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns := r.PathValue("namespace")
	sel, err := parseListSelector(r, "metadata.name", "metadata.namespace")
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(d *api.Deployment) bool {
		return (ns == "" || d.Namespace == ns) && sel.matches(d.Labels, fields.Set{"metadata.name": d.Name, "metadata.namespace": d.Namespace})
	}
	if isWatch(r) {
		serveKindWatch(a, w, r, "Deployment", keep, func() ([]*api.Deployment, uint64) { return a.store.State().Deployments(keep) })
		return
	}
	ds, index := a.store.State().Deployments(keep)
	list := api.DeploymentList{
		TypeMeta: api.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    make([]api.Deployment, len(ds)),
	}
	for i, d := range ds {
		list.Items[i] = *d
	}
	writeObject(w, r, http.StatusOK, list)
}

func (a *Agent) handleGetDeployment(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	d, ok := a.store.State().Deployment(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	writeObject(w, r, http.StatusOK, d)
}

func (a *Agent) handleCreateDeployment(w http.ResponseWriter, r *http.Request) {
	d, err := readDeployment(r)
	if err != nil {
		writeError(w, err)
		return
	}
	api.SetDeploymentDefaults(d)
	if err := api.ValidateDeploymentWithin(d, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		writeError(w, err)
		return
	}
	if err := api.ValidateDeploymentHostPaths(d, a.cfg.AllowedHostPaths); err != nil {
		writeError(w, err)
		return
	}
	d.UID = newUID()
	d.ResourceVersion = ""
	d.Status = api.DeploymentStatus{}
	commitAndRespond[api.Deployment](a, w, r, consensus.CmdCreateDeployment, consensus.CreateDeployment{Deployment: *d}, http.StatusCreated)
}

func (a *Agent) handleUpdateDeployment(w http.ResponseWriter, r *http.Request) {
	d, err := readDeployment(r)
	if err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updateDeployment(r.Context(), d, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// updateDeployment is the update path of PUT and PATCH: d, decoded and in
// its namespace, replaces the Deployment named name, defaulted and
// validated against the stored one.
func (a *Agent) updateDeployment(ctx context.Context, d *api.Deployment, name string) (*api.Deployment, error) {
	if d.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", d.Name, name))
	}
	old, ok := a.store.State().Deployment(d.Namespace, name)
	if !ok {
		return nil, api.NewNotFound("deployments.apps", name)
	}
	api.SetDeploymentDefaults(d)
	if err := api.ValidateDeploymentUpdateWithin(old, d, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		return nil, err
	}
	// A new template is a new set of pods: it passes this agent's
	// hostPath rule as a new Deployment does.
	if err := api.ValidateDeploymentHostPaths(d, a.cfg.AllowedHostPaths); err != nil {
		return nil, err
	}
	cmd, err := consensus.NewCommand(consensus.CmdUpdateDeployment, consensus.UpdateDeployment{Deployment: *d})
	if err != nil {
		return nil, err
	}
	return commitFor[api.Deployment](ctx, a, cmd)
}

// handleDeleteDeployment deletes a Deployment and, by its propagation
// policy (Background unless the DeleteOptions say otherwise), its
// ReplicaSets and their pods.
func (a *Agent) handleDeleteDeployment(w http.ResponseWriter, r *http.Request) {
	o, err := readDeleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	commitAndRespond[api.Deployment](a, w, r, consensus.CmdDeleteDeployment, consensus.DeleteDeployment{
		Namespace: r.PathValue("namespace"), Name: r.PathValue("name"), UID: uidPrecondition(o),
		PropagationPolicy: o.Propagation(api.DeletePropagationBackground)}, http.StatusOK)
}

// Scale is autoscaling/v1 Scale, the body of a Deployment's scale
// subresource, which `kubectl scale` uses.
type Scale struct {
	api.TypeMeta   `json:",inline"`
	api.ObjectMeta `json:"metadata"`
	Spec           struct {
		Replicas int32 `json:"replicas"`
	} `json:"spec"`
	Status struct {
		Replicas int32  `json:"replicas"`
		Selector string `json:"selector,omitempty"`
	} `json:"status"`
}

func scaleOf(d *api.Deployment) Scale {
	var s Scale
	s.TypeMeta = api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"}
	s.ObjectMeta = api.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion}
	s.Spec.Replicas = int32(consensus.DesiredReplicas(d))
	s.Status.Replicas = d.Status.Replicas
	if sel, err := api.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		s.Status.Selector = sel.String()
	}
	return s
}

func (a *Agent) handleGetScale(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	d, ok := a.store.State().Deployment(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, scaleOf(d))
}

func (a *Agent) handleUpdateScale(w http.ResponseWriter, r *http.Request) {
	var s Scale
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&s); err != nil {
		writeError(w, api.NewBadRequest(fmt.Sprintf("decode Scale: %v", err)))
		return
	}
	updated, err := a.updateScale(r.Context(), r.PathValue("namespace"), r.PathValue("name"), &s)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// updateScale is the update path of the scale subresource's PUT and
// PATCH: the Deployment takes s's replicas, on the condition of s's
// resourceVersion (the Deployment's) when it has one.
func (a *Agent) updateScale(ctx context.Context, ns, name string, s *Scale) (*Scale, error) {
	if s.Name != "" && s.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", s.Name, name))
	}
	if err := api.ValidateReplicas("Scale.autoscaling", name, s.Spec.Replicas, a.cfg.Limits.MaxDeploymentReplicas); err != nil {
		return nil, err
	}
	old, ok := a.store.State().Deployment(ns, name)
	if !ok {
		return nil, api.NewNotFound("deployments.apps", name)
	}
	d := *old
	replicas := s.Spec.Replicas
	d.Spec.Replicas = &replicas
	d.ResourceVersion = s.ResourceVersion
	cmd, err := consensus.NewCommand(consensus.CmdUpdateDeployment, consensus.UpdateDeployment{Deployment: d})
	if err != nil {
		return nil, err
	}
	updated, err := commitFor[api.Deployment](ctx, a, cmd)
	if err != nil {
		return nil, err
	}
	out := scaleOf(updated)
	return &out, nil
}

// handleEvictPod serves the eviction subresource (policy/v1 Eviction):
// a graceful delete that refuses, with 429, to take a Deployment below
// replicas − maxUnavailable available pods.
func (a *Agent) handleEvictPod(w http.ResponseWriter, r *http.Request) {
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
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(&eviction); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, api.NewBadRequest(fmt.Sprintf("decode Eviction: %v", err)))
		return
	}
	e := consensus.EvictPod{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	if o := eviction.DeleteOptions; o != nil {
		if o.GracePeriodSeconds != nil && *o.GracePeriodSeconds < 0 {
			writeError(w, api.NewBadRequest("deleteOptions.gracePeriodSeconds must not be negative"))
			return
		}
		e.GracePeriodSeconds = o.GracePeriodSeconds
		if o.Preconditions != nil && o.Preconditions.UID != nil {
			e.UID = types.UID(*o.Preconditions.UID)
		}
	}
	cmd, err := consensus.NewCommand(consensus.CmdEvictPod, e)
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := a.Commit(r.Context(), cmd); err != nil {
		writeError(w, err)
		return
	}
	st := api.NewStatus(http.StatusCreated, "", "")
	st.Status = "Success"
	writeJSON(w, http.StatusCreated, st)
}
