package agent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// maxBodyBytes bounds a request body; Kubernetes' limit is 3 MiB.
const maxBodyBytes = 3 << 20

// podFieldLabels are the fields a pod list may be selected by, as in
// Kubernetes (kubelet and kubectl use spec.nodeName and status.phase).
var podFieldLabels = []string{"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}

// podSelected reports whether p is in namespace ("" for all) and selected
// by s.
func podSelected(s listSelector, namespace string, p *api.Pod) bool {
	if namespace != "" && p.Namespace != namespace {
		return false
	}
	return s.matches(p.Labels, fields.Set{
		"metadata.name":      p.Name,
		"metadata.namespace": p.Namespace,
		"spec.nodeName":      p.Spec.NodeName,
		"status.phase":       string(p.Status.Phase),
	})
}

// handleListPods serves GET /api/v1/pods and /api/v1/namespaces/{ns}/pods,
// with selectors and ?watch.
func (a *Agent) handleListPods(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns := r.PathValue("namespace")
	sel, err := parseListSelector(r, podFieldLabels...)
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(p *api.Pod) bool { return podSelected(sel, ns, p) }
	if isWatch(r) {
		serveKindWatch(a, w, r, "Pod", keep, func() ([]*api.Pod, uint64) { return a.store.State().Pods(keep) })
		return
	}
	pods, index := a.store.State().Pods(keep)
	list := api.PodList{
		TypeMeta: api.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    make([]api.Pod, len(pods)),
	}
	for i, p := range pods {
		list.Items[i] = *p
	}
	writeObject(w, r, http.StatusOK, list)
}

func isWatch(r *http.Request) bool {
	v := r.URL.Query().Get("watch")
	return v == "1" || v == "true"
}

func (a *Agent) handleGetPod(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	p, ok := a.store.State().Pod(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("pods", r.PathValue("name")))
		return
	}
	writeObject(w, r, http.StatusOK, p)
}

// readPod decodes a request body into one Pod, strictly: unknown fields are
// errors that name their path. The namespace comes from the URL when the
// body leaves it out, and must match it otherwise.
func readPod(r *http.Request) (*api.Pod, error) {
	return readNamespaced[*api.Pod](r, "a v1 Pod")
}

func (a *Agent) handleCreatePod(w http.ResponseWriter, r *http.Request) {
	p, err := readPod(r)
	if err != nil {
		writeError(w, err)
		return
	}
	api.SetPodDefaults(p)
	if err := api.ValidatePod(p); err != nil {
		writeError(w, err)
		return
	}
	// This agent's own rule, which the FSM cannot check (agents' lists
	// differ); the node that runs the pod checks its own list again.
	if err := api.ValidatePodHostPaths(p, a.cfg.AllowedHostPaths); err != nil {
		writeError(w, err)
		return
	}
	p.UID = newUID()
	p.ResourceVersion = ""
	p.Status = api.PodStatus{}
	commitAndRespond[api.Pod](a, w, r, consensus.CmdCreatePod, consensus.CreatePod{Pod: *p}, http.StatusCreated)
}

func (a *Agent) handleUpdatePod(w http.ResponseWriter, r *http.Request) {
	p, err := readPod(r)
	if err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updatePod(r.Context(), p, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// updatePod is the update path of PUT and PATCH: p, decoded and in its
// namespace, replaces the pod named name, defaulted and validated against
// the stored pod (only images and metadata may change).
func (a *Agent) updatePod(ctx context.Context, p *api.Pod, name string) (*api.Pod, error) {
	if p.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", p.Name, name))
	}
	old, ok := a.store.State().Pod(p.Namespace, name)
	if !ok {
		return nil, api.NewNotFound("pods", name)
	}
	api.SetPodDefaults(p)
	if p.Spec.NodeName == "" {
		p.Spec.NodeName = old.Spec.NodeName
	}
	if err := api.ValidatePod(p); err != nil {
		return nil, err
	}
	if err := api.ValidatePodUpdate(old, p); err != nil {
		return nil, err
	}
	cmd, err := consensus.NewCommand(consensus.CmdUpdatePod, consensus.UpdatePod{Pod: *p})
	if err != nil {
		return nil, err
	}
	return commitFor[api.Pod](ctx, a, cmd)
}

// handleDeletePod deletes a pod, gracefully unless the DeleteOptions (a
// body, or ?gracePeriodSeconds) say otherwise. A propagation policy is
// accepted and changes nothing: nothing in gossipod is owned by a pod.
func (a *Agent) handleDeletePod(w http.ResponseWriter, r *http.Request) {
	o, err := readDeleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	d := consensus.DeletePod{Namespace: r.PathValue("namespace"), Name: r.PathValue("name"),
		UID: uidPrecondition(o), GracePeriodSeconds: o.GracePeriodSeconds}
	commitAndRespond[api.Pod](a, w, r, consensus.CmdDeletePod, d, http.StatusOK)
}

// handleListEvents serves GET /api/v1/events and
// /api/v1/namespaces/{ns}/events, with ?fieldSelector=involvedObject.uid=…
// (what `gossipod describe` asks for), or involvedObject.name, .namespace
// and .kind (what kubectl describe asks for).
func (a *Agent) handleListEvents(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns := r.PathValue("namespace")
	fs := fields.Everything()
	if s := r.URL.Query().Get("fieldSelector"); s != "" {
		var err error
		if fs, err = fields.ParseSelector(s); err != nil {
			writeError(w, api.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err)))
			return
		}
	}
	list := api.EventList{TypeMeta: api.TypeMeta{Kind: "EventList", APIVersion: "v1"}}
	for _, e := range a.store.State().Events() {
		if ns != "" && e.Namespace != ns {
			continue
		}
		if !fs.Matches(fields.Set{
			"involvedObject.uid":       string(e.InvolvedObject.UID),
			"involvedObject.name":      e.InvolvedObject.Name,
			"involvedObject.namespace": e.InvolvedObject.Namespace,
			"involvedObject.kind":      e.InvolvedObject.Kind,
			"reason":                   e.Reason,
			"type":                     e.Type,
		}) {
			continue
		}
		list.Items = append(list.Items, *e)
	}
	list.ResourceVersion = strconv.FormatUint(a.store.State().Index(), 10)
	writeObject(w, r, http.StatusOK, list)
}
