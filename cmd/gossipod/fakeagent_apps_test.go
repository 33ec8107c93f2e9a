package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// deploymentWatchEvent is one event a fake Deployment watch stream sends.
type deploymentWatchEvent struct {
	Type   string          `json:"type"`
	Object *api.Deployment `json:"object"`
}

// appsRoutes adds the Deployment, scale, node and eviction routes, with
// the status codes and messages of the agent (apiserver/kinds.go).
func (f *fakeAgent) appsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /apis/apps/v1/deployments", f.listDeployments)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{namespace}/deployments", f.listDeployments)
	mux.HandleFunc("POST /apis/apps/v1/namespaces/{namespace}/deployments", f.createDeployment)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{namespace}/deployments/{name}", f.getDeployment)
	mux.HandleFunc("PUT /apis/apps/v1/namespaces/{namespace}/deployments/{name}", f.updateDeployment)
	mux.HandleFunc("DELETE /apis/apps/v1/namespaces/{namespace}/deployments/{name}", f.deleteDeployment)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", f.getScale)
	mux.HandleFunc("PUT /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", f.updateScale)
	mux.HandleFunc("GET /api/v1/nodes/{name}", f.getNode)
	mux.HandleFunc("PATCH /api/v1/nodes/{name}", f.patchNode)
	mux.HandleFunc("POST /api/v1/namespaces/{namespace}/pods/{name}/eviction", f.evict)
}

// tick counts one read against every lingering pod and removes those
// whose time is up. Called with f.mu held.
func (f *fakeAgent) tick() {
	for key, n := range f.lingering {
		if n <= 1 {
			delete(f.lingering, key)
			delete(f.pods, key)
			continue
		}
		f.lingering[key] = n - 1
	}
}

// deletePod deletes a pod: at once, or, with f.linger, after that many
// reads, Terminating until then. Called with f.mu held; returns the pod.
func (f *fakeAgent) deletePod(key string) *api.Pod {
	p := f.pods[key]
	if f.linger == 0 {
		delete(f.pods, key)
		return p.DeepCopy()
	}
	if _, ok := f.lingering[key]; !ok {
		f.lingering[key] = f.linger
		now := api.NewTime(time.Now())
		p.DeletionTimestamp = &now
	}
	return p.DeepCopy()
}

// addDeployment stores a Deployment as a fixture, defaulted, with the
// given status.
func (f *fakeAgent) addDeployment(d *api.Deployment) *api.Deployment {
	f.mu.Lock()
	defer f.mu.Unlock()
	d = d.DeepCopy()
	api.SetDeploymentDefaults(d)
	if d.UID == "" {
		d.UID = types.UID("uid-" + d.Name)
	}
	d.Kind, d.APIVersion = "Deployment", "apps/v1"
	if d.Generation == 0 {
		d.Generation = 1
	}
	return f.putDeployment(d)
}

func (f *fakeAgent) putDeployment(d *api.Deployment) *api.Deployment {
	f.version++
	d = d.DeepCopy()
	d.ResourceVersion = strconv.Itoa(f.version)
	f.deployments[d.Namespace+"/"+d.Name] = d
	return d.DeepCopy()
}

func (f *fakeAgent) deployment(ns, name string) *api.Deployment {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.deployments[ns+"/"+name]; ok {
		return d.DeepCopy()
	}
	return nil
}

// addNode stores a node as a fixture.
func (f *fakeAgent) addNode(name string, unschedulable bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version++
	f.nodes[name] = &api.Node{TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, ResourceVersion: strconv.Itoa(f.version)},
		Spec:       api.NodeSpec{Unschedulable: unschedulable}}
}

func (f *fakeAgent) node(name string) *api.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := *f.nodes[name]
	return &n
}

func (f *fakeAgent) readDeployment(r *http.Request) (*api.Deployment, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	objs, err := api.DecodeManifests(body)
	if err != nil {
		return nil, api.NewBadRequest(err.Error())
	}
	if len(objs) != 1 {
		return nil, api.NewBadRequest(fmt.Sprintf("want one object, got %d", len(objs)))
	}
	d, ok := objs[0].(*api.Deployment)
	if !ok {
		return nil, api.NewBadRequest("not a Deployment")
	}
	if d.Namespace == "" {
		d.Namespace = r.PathValue("namespace")
	}
	if d.Namespace != r.PathValue("namespace") {
		return nil, api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return d, nil
}

func (f *fakeAgent) listDeployments(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("watch") == "1" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case e := <-f.deploymentWatch:
				if e.Type == "" { // end the stream, as an agent that goes away
					return
				}
				if err := enc.Encode(e); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := r.PathValue("namespace")
	sel, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		f.fail(w, api.NewBadRequest(err.Error()))
		return
	}
	list := api.DeploymentList{TypeMeta: api.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.Itoa(f.version)}, Items: []api.Deployment{}}
	for _, d := range f.deployments {
		if (ns == "" || d.Namespace == ns) && sel.Matches(labels.Set(d.Labels)) {
			list.Items = append(list.Items, *d)
		}
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	f.reply(w, http.StatusOK, list)
}

func (f *fakeAgent) getDeployment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deployments[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, d)
}

func (f *fakeAgent) createDeployment(w http.ResponseWriter, r *http.Request) {
	d, err := f.readDeployment(r)
	if err != nil {
		f.fail(w, err)
		return
	}
	api.SetDeploymentDefaults(d)
	if err := api.ValidateDeployment(d); err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.deployments[d.Namespace+"/"+d.Name]; ok {
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("deployments.apps %q already exists", d.Name)))
		return
	}
	d.Kind, d.APIVersion = "Deployment", "apps/v1"
	d.UID = types.UID("uid-" + d.Name)
	d.Generation = 1
	d.CreationTimestamp = api.NewTime(time.Now())
	d.Status = api.DeploymentStatus{}
	f.reply(w, http.StatusCreated, f.putDeployment(d))
}

func (f *fakeAgent) updateDeployment(w http.ResponseWriter, r *http.Request) {
	d, err := f.readDeployment(r)
	if err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.deployments[d.Namespace+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	if d.ResourceVersion != "" && d.ResourceVersion != old.ResourceVersion {
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, "the object has been modified"))
		return
	}
	api.SetDeploymentDefaults(d)
	if err := api.ValidateDeploymentUpdate(old, d); err != nil {
		f.fail(w, err)
		return
	}
	next := old.DeepCopy()
	next.Labels, next.Annotations = d.Labels, d.Annotations
	if !equality.Semantic.DeepEqual(d.Spec, old.Spec) {
		next.Spec = d.Spec
		next.Generation++
	}
	f.reply(w, http.StatusOK, f.putDeployment(next))
}

// deleteDeployment deletes a Deployment and, as the agent does, its pods
// (those whose controller it is).
func (f *fakeAgent) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("namespace") + "/" + r.PathValue("name")
	d, ok := f.deployments[key]
	if !ok {
		f.fail(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	delete(f.deployments, key)
	for k, p := range f.pods {
		if controllerUID(p) == d.UID {
			f.deletePod(k)
		}
	}
	f.reply(w, http.StatusOK, d)
}

func scaleOfDeployment(d *api.Deployment) *client.Scale {
	s := &client.Scale{TypeMeta: api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion}}
	s.Spec.Replicas = desiredReplicas(d)
	s.Status.Replicas = d.Status.Replicas
	s.Status.Selector = selectorString(d.Spec.Selector)
	return s
}

func (f *fakeAgent) getScale(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deployments[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, scaleOfDeployment(d))
}

func (f *fakeAgent) updateScale(w http.ResponseWriter, r *http.Request) {
	var s client.Scale
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		f.fail(w, api.NewBadRequest(err.Error()))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deployments[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("deployments.apps", r.PathValue("name")))
		return
	}
	if s.ResourceVersion != "" && s.ResourceVersion != d.ResourceVersion {
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, "the object has been modified"))
		return
	}
	next := d.DeepCopy()
	if desiredReplicas(next) != s.Spec.Replicas {
		next.Spec.Replicas = &s.Spec.Replicas
		next.Generation++
	}
	f.reply(w, http.StatusOK, scaleOfDeployment(f.putDeployment(next)))
}

func (f *fakeAgent) getNode(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodes[r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("nodes", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, n)
}

// patchNode takes only what the agent takes: {"spec":{"unschedulable":b}}.
func (f *fakeAgent) patchNode(w http.ResponseWriter, r *http.Request) {
	var patch struct {
		Spec *struct {
			Unschedulable *bool `json:"unschedulable"`
		} `json:"spec"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&patch); err != nil || patch.Spec == nil || patch.Spec.Unschedulable == nil {
		f.fail(w, api.NewBadRequest(`only {"spec":{"unschedulable":true|false}} can be patched on a node`))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodes[r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("nodes", r.PathValue("name")))
		return
	}
	f.version++
	n.Spec.Unschedulable = *patch.Spec.Unschedulable
	n.ResourceVersion = strconv.Itoa(f.version)
	f.reply(w, http.StatusOK, n)
}

// evictionBudgetMessage is what Kubernetes says when an eviction would
// break a disruption budget.
const evictionBudgetMessage = "Cannot evict pod as it would violate the pod's disruption budget."

// evict serves the eviction subresource: 429 while refuseEvictions says
// so, else the pod is deleted (lingering as f.linger says) and the answer
// is 201 with a Success Status.
func (f *fakeAgent) evict(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Kind, APIVersion string
		Metadata         api.ObjectMeta `json:"metadata"`
		DeleteOptions    *struct {
			GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
		} `json:"deleteOptions"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.Kind != "Eviction" || ev.Metadata.Name != r.PathValue("name") {
		f.fail(w, api.NewBadRequest(fmt.Sprintf("bad eviction body: %v %+v", err, ev)))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("namespace") + "/" + r.PathValue("name")
	if _, ok := f.pods[key]; !ok {
		f.fail(w, api.NewNotFound("pods", r.PathValue("name")))
		return
	}
	if f.refuseEvictions[key] > 0 {
		f.refuseEvictions[key]--
		f.fail(w, api.NewStatus(http.StatusTooManyRequests, "TooManyRequests", evictionBudgetMessage))
		return
	}
	if ev.DeleteOptions != nil && ev.DeleteOptions.GracePeriodSeconds != nil {
		f.evictionGrace[key] = *ev.DeleteOptions.GracePeriodSeconds
	}
	if _, gone := f.lingering[key]; !gone {
		f.deletePod(key)
	}
	st := api.NewStatus(http.StatusCreated, "", "")
	st.Status = "Success"
	f.reply(w, http.StatusCreated, st)
}

// ownedBy makes p a pod of Deployment d.
func ownedBy(p *api.Pod, d *api.Deployment) *api.Pod {
	controller := true
	p.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller}}
	return p
}

// hasPrefixLine reports whether out has a line starting with prefix.
func hasPrefixLine(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
