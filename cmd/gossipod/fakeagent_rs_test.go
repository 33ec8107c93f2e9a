package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// replicaSetRoutes adds the ReplicaSet routes, with the status codes and
// messages of the agent (apiserver/kinds.go), minus the controllers.
func (f *fakeAgent) replicaSetRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /apis/apps/v1/replicasets", f.listReplicaSets)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{namespace}/replicasets", f.listReplicaSets)
	mux.HandleFunc("POST /apis/apps/v1/namespaces/{namespace}/replicasets", f.writeReplicaSet)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{namespace}/replicasets/{name}", f.getReplicaSet)
	mux.HandleFunc("PUT /apis/apps/v1/namespaces/{namespace}/replicasets/{name}", f.writeReplicaSet)
	mux.HandleFunc("DELETE /apis/apps/v1/namespaces/{namespace}/replicasets/{name}", f.deleteReplicaSet)
}

// addReplicaSet stores a ReplicaSet as a fixture.
func (f *fakeAgent) addReplicaSet(rs *api.ReplicaSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs = rs.DeepCopy()
	api.SetReplicaSetDefaults(rs)
	rs.Kind, rs.APIVersion = "ReplicaSet", "apps/v1"
	if rs.UID == "" {
		rs.UID = types.UID("uid-" + rs.Name)
	}
	f.version++
	rs.ResourceVersion = strconv.Itoa(f.version)
	f.replicaSets[rs.Namespace+"/"+rs.Name] = rs
}

func (f *fakeAgent) listReplicaSets(w http.ResponseWriter, r *http.Request) {
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	list := api.ReplicaSetList{TypeMeta: api.TypeMeta{Kind: "ReplicaSetList", APIVersion: "apps/v1"}, Items: []api.ReplicaSet{}}
	for _, rs := range f.replicaSets {
		if ns := r.PathValue("namespace"); (ns == "" || rs.Namespace == ns) && sel.Matches(labels.Set(rs.Labels)) {
			list.Items = append(list.Items, *rs.DeepCopy())
		}
	}
	sortReplicaSets(list.Items)
	f.reply(w, http.StatusOK, list)
}

func (f *fakeAgent) getReplicaSet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs, ok := f.replicaSets[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("replicasets.apps", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, rs)
}

// writeReplicaSet is POST (a new one) and PUT (the labels, annotations and
// spec of an existing one, on its resourceVersion).
func (f *fakeAgent) writeReplicaSet(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	objs, err := api.DecodeManifests(body)
	if err != nil || len(objs) != 1 {
		f.fail(w, fmt.Errorf("decode: %v", err))
		return
	}
	rs, ok := objs[0].(*api.ReplicaSet)
	if !ok {
		f.fail(w, fmt.Errorf("not a ReplicaSet"))
		return
	}
	rs.Namespace = r.PathValue("namespace")
	api.SetReplicaSetDefaults(rs)
	if err := api.ValidateReplicaSet(rs, api.DefaultMaxDeploymentReplicas); err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := rs.Namespace + "/" + rs.Name
	old, exists := f.replicaSets[key]
	code := http.StatusOK
	switch {
	case r.Method == http.MethodPost && exists:
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("replicasets.apps %q already exists", rs.Name)))
		return
	case r.Method == http.MethodPost:
		rs.UID, rs.Generation, rs.CreationTimestamp, code = types.UID("uid-"+rs.Name), 1, api.NewTime(time.Now()), http.StatusCreated
	case !exists:
		f.fail(w, api.NewNotFound("replicasets.apps", rs.Name))
		return
	case rs.ResourceVersion != "" && rs.ResourceVersion != old.ResourceVersion:
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, "the object has been modified"))
		return
	default:
		next := old.DeepCopy()
		next.Labels, next.Annotations, next.Spec = rs.Labels, rs.Annotations, rs.Spec
		next.Generation++
		rs = next
	}
	rs.Kind, rs.APIVersion = "ReplicaSet", "apps/v1"
	f.version++
	rs.ResourceVersion = strconv.Itoa(f.version)
	f.replicaSets[key] = rs.DeepCopy()
	f.reply(w, code, rs)
}

// deleteReplicaSet deletes a ReplicaSet and, unless the DeleteOptions body
// orphans them, its pods.
func (f *fakeAgent) deleteReplicaSet(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var o api.DeleteOptions
	if len(body) > 0 {
		if err := json.Unmarshal(body, &o); err != nil {
			f.fail(w, err)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteBodies = append(f.deleteBodies, string(body))
	key := r.PathValue("namespace") + "/" + r.PathValue("name")
	rs, ok := f.replicaSets[key]
	if !ok {
		f.fail(w, api.NewNotFound("replicasets.apps", r.PathValue("name")))
		return
	}
	delete(f.replicaSets, key)
	for k, p := range f.pods {
		if controllerUID(p) == rs.UID && o.Propagation(api.DeletePropagationBackground) != api.DeletePropagationOrphan {
			f.deletePod(k)
		}
	}
	f.reply(w, http.StatusOK, rs)
}
