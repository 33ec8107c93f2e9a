package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// fakeAgent serves the pod, Deployment, node and eviction routes of the
// agent API from memory, with the server's own decoding, defaulting and
// validation (api package), and records every request, so CLI tests go
// through real HTTP and the real client.
type fakeAgent struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	pods     map[string]*api.Pod // by namespace/name
	events   []api.Event
	version  int
	requests []string // "METHOD /path?query"
	// bound, if set, is the node every created pod is bound to.
	bound string
	// watch feeds the ?watch=1 streams: one event per value sent.
	watch chan watchEvent

	// Deployments, nodes and evictions: fakeagent_apps_test.go.
	deployments map[string]*api.Deployment // by namespace/name
	nodes       map[string]*api.Node
	// deploymentWatch feeds the Deployment ?watch=1 streams.
	deploymentWatch chan deploymentWatchEvent
	// refuseEvictions is how many more times the eviction of a pod
	// (namespace/name) is refused with 429 before it succeeds.
	refuseEvictions map[string]int
	// lingering counts, for a deleted or evicted pod, the reads (GET or
	// list) during which it is still there, Terminating, as a pod whose
	// node has not confirmed it stopped.
	lingering map[string]int
	// linger is the count a pod deleted from now on starts with.
	linger int
	// evictionGrace records the gracePeriodSeconds evictions asked for.
	evictionGrace map[string]int64

	// ReplicaSets: fakeagent_rs_test.go.
	replicaSets map[string]*api.ReplicaSet
	// deleteBodies records the bodies of DELETE requests of ReplicaSets.
	deleteBodies []string
}

// watchEvent is one event a fake watch stream sends.
type watchEvent struct {
	Type   string   `json:"type"`
	Object *api.Pod `json:"object"`
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	f := &fakeAgent{t: t, pods: map[string]*api.Pod{}, watch: make(chan watchEvent),
		deployments: map[string]*api.Deployment{}, nodes: map[string]*api.Node{}, replicaSets: map[string]*api.ReplicaSet{},
		deploymentWatch: make(chan deploymentWatchEvent), refuseEvictions: map[string]int{}, lingering: map[string]int{},
		evictionGrace: map[string]int64{}}
	mux := http.NewServeMux()
	f.appsRoutes(mux)
	f.replicaSetRoutes(mux)
	mux.HandleFunc("GET /api/v1/pods", f.list)
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods", f.list)
	mux.HandleFunc("POST /api/v1/namespaces/{namespace}/pods", f.create)
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods/{name}", f.get)
	mux.HandleFunc("PUT /api/v1/namespaces/{namespace}/pods/{name}", f.update)
	mux.HandleFunc("DELETE /api/v1/namespaces/{namespace}/pods/{name}", f.delete)
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/events", f.listEvents)
	mux.HandleFunc("GET /api/v1/events", f.listEvents)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		f.requests = append(f.requests, line)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// takeRequests returns the requests since the last call, without the
// read-only GETs of single pods unless all is set.
func (f *fakeAgent) takeRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

// writes are the requests that change something.
func writes(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if !strings.HasPrefix(r, "GET ") {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeAgent) reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("fake agent: encode: %v", err)
	}
}

func (f *fakeAgent) fail(w http.ResponseWriter, err error) {
	s, ok := err.(*api.Status)
	if !ok {
		s = api.NewBadRequest(err.Error())
	}
	f.reply(w, s.Code, s)
}

// put stores a pod as the cluster would (deep copy, next version).
func (f *fakeAgent) put(p *api.Pod) *api.Pod {
	f.version++
	p = p.DeepCopy()
	p.ResourceVersion = strconv.Itoa(f.version)
	f.pods[p.Namespace+"/"+p.Name] = p
	return p.DeepCopy()
}

// add stores a pod as a fixture.
func (f *fakeAgent) add(p *api.Pod) *api.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = p.DeepCopy()
	api.SetPodDefaults(p)
	if p.UID == "" {
		p.UID = types.UID("uid-" + p.Name)
	}
	return f.put(p)
}

func (f *fakeAgent) pod(ns, name string) *api.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.pods[ns+"/"+name]; ok {
		return p.DeepCopy()
	}
	return nil
}

func (f *fakeAgent) readPod(r *http.Request) (*api.Pod, error) {
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
	p, ok := objs[0].(*api.Pod)
	if !ok {
		return nil, api.NewBadRequest("not a pod")
	}
	if p.Namespace == "" {
		p.Namespace = r.PathValue("namespace")
	}
	if p.Namespace != r.PathValue("namespace") {
		return nil, api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return p, nil
}

func (f *fakeAgent) list(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("watch") == "1" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case e := <-f.watch:
				if err := enc.Encode(e); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick()
	ns := r.PathValue("namespace")
	ls, err := labels.Parse(r.URL.Query().Get("labelSelector"))
	if err != nil {
		f.fail(w, api.NewBadRequest(err.Error()))
		return
	}
	fs, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector"))
	if err != nil {
		f.fail(w, api.NewBadRequest(err.Error()))
		return
	}
	list := api.PodList{TypeMeta: api.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.Itoa(f.version)}, Items: []api.Pod{}}
	for _, p := range f.pods {
		if ns != "" && p.Namespace != ns {
			continue
		}
		if !ls.Matches(labels.Set(p.Labels)) || !fs.Matches(fields.Set{"metadata.name": p.Name,
			"metadata.namespace": p.Namespace, "spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase)}) {
			continue
		}
		list.Items = append(list.Items, *p)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	f.reply(w, http.StatusOK, list)
}

func (f *fakeAgent) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tick()
	p, ok := f.pods[r.PathValue("namespace")+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("pods", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, p)
}

func (f *fakeAgent) create(w http.ResponseWriter, r *http.Request) {
	p, err := f.readPod(r)
	if err != nil {
		f.fail(w, err)
		return
	}
	api.SetPodDefaults(p)
	if err := api.ValidatePod(p); err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.pods[p.Namespace+"/"+p.Name]; ok {
		s := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("pods %q already exists", p.Name))
		f.fail(w, s)
		return
	}
	p.UID = types.UID("uid-" + p.Name)
	p.CreationTimestamp = api.NewTime(time.Now())
	p.Status = api.PodStatus{Phase: api.PodPending}
	if f.bound != "" {
		p.Spec.NodeName = f.bound
	}
	f.reply(w, http.StatusCreated, f.put(p))
}

func (f *fakeAgent) update(w http.ResponseWriter, r *http.Request) {
	p, err := f.readPod(r)
	if err != nil {
		f.fail(w, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.pods[p.Namespace+"/"+r.PathValue("name")]
	if !ok {
		f.fail(w, api.NewNotFound("pods", r.PathValue("name")))
		return
	}
	if p.ResourceVersion != "" && p.ResourceVersion != old.ResourceVersion {
		f.fail(w, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, "the object has been modified"))
		return
	}
	api.SetPodDefaults(p)
	if p.Spec.NodeName == "" {
		p.Spec.NodeName = old.Spec.NodeName
	}
	if err := api.ValidatePodUpdate(old, p); err != nil {
		f.fail(w, err)
		return
	}
	next := old.DeepCopy()
	next.Labels, next.Annotations, next.Spec = p.Labels, p.Annotations, p.Spec
	f.reply(w, http.StatusOK, f.put(next))
}

func (f *fakeAgent) delete(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("namespace") + "/" + r.PathValue("name")
	if _, ok := f.pods[key]; !ok {
		f.fail(w, api.NewNotFound("pods", r.PathValue("name")))
		return
	}
	f.reply(w, http.StatusOK, f.deletePod(key))
}

func (f *fakeAgent) listEvents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := api.EventList{TypeMeta: api.TypeMeta{Kind: "EventList", APIVersion: "v1"}, Items: []api.Event{}}
	uid, _ := strings.CutPrefix(r.URL.Query().Get("fieldSelector"), "involvedObject.uid=")
	for _, e := range f.events {
		if string(e.InvolvedObject.UID) == uid {
			list.Items = append(list.Items, e)
		}
	}
	f.reply(w, http.StatusOK, list)
}

// run runs the CLI against the fake agent and returns its stdout, stderr
// and error.
func (f *fakeAgent) run(stdin string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter, app.Reader = &out, &errOut, strings.NewReader(stdin)
	err := app.Run(append([]string{"gossipod", "--addr", f.srv.URL}, args...))
	if err != nil {
		if msg := errorMessage(err); msg != "" {
			errOut.WriteString(msg + "\n")
		}
	}
	return out.String(), errOut.String(), err
}

// writeFile writes a manifest into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
