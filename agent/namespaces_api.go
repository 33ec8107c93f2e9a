package agent

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// handleListNamespaces serves GET /api/v1/namespaces, with label selectors,
// the metadata.name and status.phase field selectors, and ?watch.
func (a *Agent) handleListNamespaces(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	q := r.URL.Query()
	lsel, fsel := labels.Everything(), fields.Everything()
	if s := q.Get("labelSelector"); s != "" {
		var err error
		if lsel, err = labels.Parse(s); err != nil {
			writeError(w, api.NewBadRequest(err.Error()))
			return
		}
	}
	if s := q.Get("fieldSelector"); s != "" {
		var err error
		if fsel, err = fields.ParseSelector(s); err != nil {
			writeError(w, api.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err)))
			return
		}
		for _, req := range fsel.Requirements() {
			if req.Field != "metadata.name" && req.Field != "status.phase" {
				writeError(w, api.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field)))
				return
			}
		}
	}
	keep := func(ns *api.Namespace) bool {
		return lsel.Matches(labels.Set(ns.Labels)) &&
			fsel.Matches(fields.Set{"metadata.name": ns.Name, "status.phase": string(ns.Status.Phase)})
	}
	list := func() ([]api.Namespace, uint64) {
		all, index := a.store.State().Namespaces()
		out := all[:0]
		for i := range all {
			if keep(&all[i]) {
				out = append(out, all[i])
			}
		}
		return out, index
	}
	if isWatch(r) {
		a.serveWatch(w, r, "Namespace",
			func(obj any) bool { ns, ok := obj.(*api.Namespace); return ok && keep(ns) },
			func() ([]any, uint64) {
				items, index := list()
				out := make([]any, len(items))
				for i := range items {
					out[i] = &items[i]
				}
				return out, index
			})
		return
	}
	items, index := list()
	writeObject(w, r, http.StatusOK, api.NamespaceList{
		TypeMeta: api.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    items,
	})
}

func (a *Agent) handleGetNamespace(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns, ok := a.store.State().Namespace(r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("namespaces", r.PathValue("name")))
		return
	}
	writeObject(w, r, http.StatusOK, ns)
}

// handleCreateNamespace serves POST /api/v1/namespaces; the FSM validates
// the namespace again and refuses a name taken.
func (a *Agent) handleCreateNamespace(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ns, ok := obj.(*api.Namespace)
	if !ok {
		apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		writeError(w, api.NewBadRequest(fmt.Sprintf("expected a v1 Namespace in the request body, got %s %s", apiVersion, kind)))
		return
	}
	if err := api.ValidateNamespace(ns); err != nil {
		writeError(w, err)
		return
	}
	ns.UID = newUID()
	ns.ResourceVersion = ""
	ns.Status = api.NamespaceStatus{}
	commitAndRespond[api.Namespace](a, w, r, consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: *ns}, http.StatusCreated)
}

// handleDeleteNamespace serves DELETE /api/v1/namespaces/{name}: the
// namespace turns Terminating and goes once its content is gone; kubectl
// waits for that by watching it.
func (a *Agent) handleDeleteNamespace(w http.ResponseWriter, r *http.Request) {
	commitAndRespond[api.Namespace](a, w, r, consensus.CmdDeleteNamespace,
		consensus.DeleteNamespace{Name: r.PathValue("name")}, http.StatusOK)
}

// reconcileNamespaces is the leader's share of the namespace lifecycle:
// the system namespaces exist, and so does every namespace that an object
// stored before namespaces were objects lives in (an upgraded cluster keeps
// its pods reachable by namespace). It commits only when one is missing.
func (a *Agent) reconcileNamespaces(ctx context.Context) {
	state := a.store.State()
	want := map[string]bool{}
	for _, name := range api.SystemNamespaces {
		want[name] = true
	}
	pods, _ := state.Pods(func(*api.Pod) bool { return true })
	for _, p := range pods {
		want[p.Namespace] = true
	}
	deps, _ := state.Deployments(func(*api.Deployment) bool { return true })
	for _, d := range deps {
		want[d.Namespace] = true
	}
	var ensure consensus.EnsureNamespaces
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := state.Namespace(name); !ok {
			ensure.Namespaces = append(ensure.Namespaces, api.Namespace{ObjectMeta: api.ObjectMeta{Name: name, UID: newUID()}})
		}
	}
	if len(ensure.Namespaces) == 0 {
		return
	}
	if err := a.commitPayload(ctx, consensus.CmdEnsureNamespaces, ensure); err != nil {
		a.log.Warn("create missing namespaces", "error", err)
	}
}
