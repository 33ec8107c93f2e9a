package agent

import (
	"fmt"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// handleListNamespaces serves GET /api/v1/namespaces, with label selectors,
// the metadata.name and status.phase field selectors, and ?watch.
func (a *Agent) handleListNamespaces(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	sel, err := parseListSelector(r, "metadata.name", "status.phase")
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(ns *api.Namespace) bool {
		return sel.matches(ns.Labels, fields.Set{"metadata.name": ns.Name, "status.phase": string(ns.Status.Phase)})
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
		tm := obj.GetTypeMeta()
		writeError(w, api.NewBadRequest(fmt.Sprintf("expected a v1 Namespace in the request body, got %s %s", tm.APIVersion, tm.Kind)))
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
