package agent

import (
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// handleListServiceAccounts serves GET /api/v1/serviceaccounts and
// /api/v1/namespaces/{ns}/serviceaccounts, with label selectors, the
// metadata.name field selector, and ?watch.
func (a *Agent) handleListServiceAccounts(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	ns := r.PathValue("namespace")
	sel, err := parseListSelector(r, "metadata.name", "metadata.namespace")
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(sa *api.ServiceAccount) bool {
		return (ns == "" || sa.Namespace == ns) && sel.matches(sa.Labels, fields.Set{"metadata.name": sa.Name, "metadata.namespace": sa.Namespace})
	}
	list := func() ([]api.ServiceAccount, uint64) {
		all, index := a.store.State().ServiceAccounts(ns)
		out := all[:0]
		for i := range all {
			if keep(&all[i]) {
				out = append(out, all[i])
			}
		}
		return out, index
	}
	if isWatch(r) {
		a.serveWatch(w, r, "ServiceAccount",
			func(obj any) bool { sa, ok := obj.(*api.ServiceAccount); return ok && keep(sa) },
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
	if items == nil {
		items = []api.ServiceAccount{}
	}
	writeObject(w, r, http.StatusOK, api.ServiceAccountList{
		TypeMeta: api.TypeMeta{Kind: "ServiceAccountList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    items,
	})
}

func (a *Agent) handleGetServiceAccount(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	sa, ok := a.store.State().ServiceAccount(r.PathValue("namespace"), r.PathValue("name"))
	if !ok {
		writeError(w, api.NewNotFound("serviceaccounts", r.PathValue("name")))
		return
	}
	writeObject(w, r, http.StatusOK, sa)
}

func (a *Agent) handleCreateServiceAccount(w http.ResponseWriter, r *http.Request) {
	sa, err := readNamespaced[*api.ServiceAccount](r, "a v1 ServiceAccount")
	if err != nil {
		writeError(w, err)
		return
	}
	if err := api.ValidateServiceAccount(sa); err != nil {
		writeError(w, err)
		return
	}
	sa.UID = newUID()
	sa.ResourceVersion = ""
	commitAndRespond[api.ServiceAccount](a, w, r, consensus.CmdCreateServiceAccount, consensus.CreateServiceAccount{ServiceAccount: *sa}, http.StatusCreated)
}

func (a *Agent) handleDeleteServiceAccount(w http.ResponseWriter, r *http.Request) {
	commitAndRespond[api.ServiceAccount](a, w, r, consensus.CmdDeleteServiceAccount,
		consensus.DeleteServiceAccount{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}, http.StatusOK)
}
