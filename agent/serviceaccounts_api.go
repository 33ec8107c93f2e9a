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
		return keepValues(all, keep), index
	}
	if isWatch(r) {
		serveKindWatch(a, w, r, "ServiceAccount", keep, func() ([]*api.ServiceAccount, uint64) {
			items, index := list()
			return pointersTo(items), index
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

// handleUpdateServiceAccount serves PUT on a service account (kubectl
// replace); see updateServiceAccount.
func (a *Agent) handleUpdateServiceAccount(w http.ResponseWriter, r *http.Request) {
	sa, err := readNamespaced[*api.ServiceAccount](r, "a v1 ServiceAccount")
	if err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updateServiceAccount(r.Context(), sa, r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// handlePatchServiceAccount serves PATCH on a service account: kubectl
// apply's strategic merge patch, label's and annotate's merge patches, and
// JSON patches; the result goes through updateServiceAccount, PUT's path.
func (a *Agent) handlePatchServiceAccount(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	servePatch(w, r, patch.Target[*api.ServiceAccount]{
		Kind:   "ServiceAccount",
		Schema: &corev1.ServiceAccount{},
		Get: func(ctx context.Context) (*api.ServiceAccount, error) {
			if err := a.syncRead(ctx); err != nil {
				return nil, err
			}
			sa, ok := a.store.State().ServiceAccount(ns, name)
			if !ok {
				return nil, api.NewNotFound("serviceaccounts", name)
			}
			sa.TypeMeta = api.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"}
			return sa, nil
		},
		Decode: func(b []byte) (*api.ServiceAccount, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return checkNamespaced[*api.ServiceAccount](obj, ns, "a v1 ServiceAccount")
		},
		ResourceVersion: func(sa *api.ServiceAccount) string { return sa.ResourceVersion },
		Update: func(ctx context.Context, _, sa *api.ServiceAccount) (*api.ServiceAccount, error) {
			return a.updateServiceAccount(ctx, sa, name)
		},
	})
}

// updateServiceAccount is the update path of PUT and PATCH: sa, decoded
// and in its namespace, replaces the labels, annotations and
// automountServiceAccountToken of the service account named name,
// validated against the stored one here and again by the FSM.
func (a *Agent) updateServiceAccount(ctx context.Context, sa *api.ServiceAccount, name string) (*api.ServiceAccount, error) {
	if sa.Name != name {
		return nil, api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sa.Name, name))
	}
	old, ok := a.store.State().ServiceAccount(sa.Namespace, name)
	if !ok {
		return nil, api.NewNotFound("serviceaccounts", name)
	}
	if err := api.ValidateServiceAccountUpdate(old, sa); err != nil {
		return nil, err
	}
	cmd, err := consensus.NewCommand(consensus.CmdUpdateServiceAccount, consensus.UpdateServiceAccount{ServiceAccount: *sa})
	if err != nil {
		return nil, err
	}
	return commitFor[api.ServiceAccount](ctx, a, cmd)
}

func (a *Agent) handleDeleteServiceAccount(w http.ResponseWriter, r *http.Request) {
	commitAndRespond[api.ServiceAccount](a, w, r, consensus.CmdDeleteServiceAccount,
		consensus.DeleteServiceAccount{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}, http.StatusOK)
}
