package agent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/patch"
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
		return keepValues(all, keep), index
	}
	if isWatch(r) {
		serveKindWatch(a, w, r, "Namespace", keep, func() ([]*api.Namespace, uint64) {
			items, index := list()
			return pointersTo(items), index
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
	ns, err := checkNamespace(obj)
	if err != nil {
		writeError(w, err)
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

// handleUpdateNamespace serves PUT /api/v1/namespaces/{name} (kubectl
// replace): labels and annotations change; see updateNamespace.
func (a *Agent) handleUpdateNamespace(w http.ResponseWriter, r *http.Request) {
	obj, err := readObject(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ns, err := checkNamespace(obj)
	if err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updateNamespace(r.Context(), ns, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// handlePatchNamespace serves PATCH /api/v1/namespaces/{name}: kubectl
// apply's strategic merge patch, label's and annotate's merge patches, and
// JSON patches; the result goes through updateNamespace, PUT's path.
func (a *Agent) handlePatchNamespace(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	servePatch(w, r, patch.Target[*api.Namespace]{
		Kind:   "Namespace",
		Schema: &corev1.Namespace{},
		Get: func(ctx context.Context) (*api.Namespace, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			ns, ok := a.store.State().Namespace(name)
			if !ok {
				return nil, api.NewNotFound("namespaces", name)
			}
			ns.TypeMeta = api.TypeMeta{Kind: "Namespace", APIVersion: "v1"}
			return ns, nil
		},
		Decode: func(b []byte) (*api.Namespace, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return checkNamespace(obj)
		},
		ResourceVersion: func(ns *api.Namespace) string { return ns.ResourceVersion },
		Update: func(ctx context.Context, _, ns *api.Namespace) (*api.Namespace, error) {
			return a.updateNamespace(ctx, ns, name)
		},
	})
}

// checkNamespace checks that a request's object is a Namespace.
func checkNamespace(obj api.Object) (*api.Namespace, error) {
	ns, ok := obj.(*api.Namespace)
	if !ok {
		apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		return nil, api.NewBadRequest(fmt.Sprintf("expected a v1 Namespace in the request body, got %s %s", apiVersion, kind))
	}
	return ns, nil
}

// updateNamespace is the update path of PUT and PATCH: ns replaces the
// labels and annotations of the namespace named name, validated against
// the stored one here and again by the FSM. Its spec.finalizers and status
// stay the cluster's, as kube-apiserver keeps them on an update.
func (a *Agent) updateNamespace(ctx context.Context, ns *api.Namespace, name string) (*api.Namespace, error) {
	if ns.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", ns.Name, name))
	}
	old, ok := a.store.State().Namespace(name)
	if !ok {
		return nil, api.NewNotFound("namespaces", name)
	}
	if err := api.ValidateNamespaceUpdate(old, ns); err != nil {
		return nil, err
	}
	cmd, err := consensus.NewCommand(consensus.CmdUpdateNamespace, consensus.UpdateNamespace{Namespace: *ns})
	if err != nil {
		return nil, err
	}
	return commitFor[api.Namespace](ctx, a, cmd)
}

// handleDeleteNamespace serves DELETE /api/v1/namespaces/{name}: the
// namespace turns Terminating and goes once its content is gone; kubectl
// waits for that by watching it.
func (a *Agent) handleDeleteNamespace(w http.ResponseWriter, r *http.Request) {
	commitAndRespond[api.Namespace](a, w, r, consensus.CmdDeleteNamespace,
		consensus.DeleteNamespace{Name: r.PathValue("name")}, http.StatusOK)
}
