package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/apiserver/writeoptions"
	"github.com/gossipod/gossipod/consensus"
)

// testServer is the agent's real API server (package apiserver) over a
// consensus.MemStore, the real state machine without Raft, so the CLI
// tests go through real HTTP, the real client and the real server. No
// controller, scheduler or node runs: a test seeds the state and plays
// their part by committing the commands they would commit (a node
// reporting a pod's status, or confirming that a Terminating pod has
// stopped). The handler in front of the server only observes: it records
// every request and runs the test's hooks around it.
type testServer struct {
	t     *testing.T
	store *consensus.MemStore
	srv   *httptest.Server
	// handler is the recording handler, for a second (TLS) server.
	handler http.Handler

	clockMu sync.Mutex
	ago     time.Duration // the state's clock runs this far behind

	mu       sync.Mutex
	requests []string // "METHOD /path?query"
	bodies   []string // the bodies of the requests that had one, "METHOD /path: body"
	// watches ends the watches in flight (endWatches).
	watches map[*http.Request]context.CancelFunc
	// before runs before each request is served, after is run after.
	before, after []func(r *http.Request)
	// stopping: see nodesConfirmAfter.
	stopping *nodeStops
}

// newTestServer starts the API server over a new MemStore with the default
// namespace, as an agent creates it.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	f := &testServer{t: t, store: consensus.NewMemStore(), watches: map[*http.Request]context.CancelFunc{}}
	f.store.Now = f.now
	f.namespace("default")
	mux := http.NewServeMux()
	// Discovery as the agent serves it (agent/http.go): the CLI resolves
	// resource names through it.
	disco := discovery.NewHandler(discovery.Resources(), "127.0.0.1:0")
	for _, p := range []string{"/api", "/apis", "/api/{version}", "/apis/{group}", "/apis/{group}/{version}"} {
		apiserver.Mount(mux, apiserver.Route{Path: p, Methods: map[string]http.HandlerFunc{http.MethodGet: disco.ServeHTTP}})
	}
	apiserver.Mount(mux, apiserver.New(f.store, apiserver.Config{WatchWriteTimeout: 10 * time.Second,
		WatchBookmarkInterval: time.Minute, MaxDeploymentReplicas: api.DefaultMaxDeploymentReplicas}).Routes()...)
	// The write options no handler honours (dryRun) are refused in front
	// of the handlers, as the agent's chain does (agent/http.go).
	filtered := writeoptions.Filter(mux)
	f.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(filtered, w, r) })
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)
	return f
}

// serve records r, runs the hooks and serves it.
func (f *testServer) serve(mux http.Handler, w http.ResponseWriter, r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("test server: read body of %s: %v", line, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if apiserver.IsWatch(r) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		f.mu.Lock()
		f.watches[r] = cancel
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.watches, r)
			f.mu.Unlock()
		}()
	}
	f.mu.Lock()
	// Discovery (/api, /apis), which kubectl caches and the CLI asks
	// before each resolution, is not recorded: tests assert the requests
	// on the resources.
	if line != "GET /api" && line != "GET /apis" {
		f.requests = append(f.requests, line)
	}
	if len(body) > 0 {
		f.bodies = append(f.bodies, r.Method+" "+r.URL.Path+": "+string(body))
	}
	before, after := f.before, f.after
	f.mu.Unlock()
	for _, h := range before {
		h(r)
	}
	mux.ServeHTTP(w, r)
	for _, h := range after {
		h(r)
	}
}

// beforeEach runs h before every request is served, in the request's
// goroutine: a test uses it to change the state at a known point of the
// CLI's conversation, as a controller or node would in between.
func (f *testServer) beforeEach(h func(r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = append(f.before, h)
}

// afterEach runs h after every request is served.
func (f *testServer) afterEach(h func(r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after = append(f.after, h)
}

// endWatches ends the watches in flight, as an agent that goes away ends
// its streams; the server's handler returns and the response ends.
func (f *testServer) endWatches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, cancel := range f.watches {
		cancel()
	}
	return len(f.watches)
}

// now is the state's clock: the time, less f.ago.
func (f *testServer) now() time.Time {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	return time.Now().Add(-f.ago)
}

// setAgo makes the commands committed from now on (creation timestamps)
// happen d ago; 0 is now. It returns a function that resets it to 0.
func (f *testServer) setAgo(d time.Duration) func() {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.ago = d
	return func() { f.setAgo(0) }
}

// takeRequests returns the requests since the last call.
func (f *testServer) takeRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

// countRequests counts the requests recorded since the last takeRequests
// that are exactly line.
func (f *testServer) countRequests(line string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countOf(f.requests, line)
}

// bodiesOf returns the bodies sent with method to path.
func (f *testServer) bodiesOf(method, path string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.bodies {
		if rest, ok := strings.CutPrefix(b, method+" "+path+": "); ok {
			out = append(out, rest)
		}
	}
	return out
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

// commit commits a command as a controller or node would, and returns the
// stored object the state machine answers with, decoded into out (if not
// nil).
func (f *testServer) commit(t consensus.CommandType, payload, out any) {
	f.t.Helper()
	res, err := f.store.CommitPayload(context.Background(), t, payload)
	if err != nil {
		f.t.Fatalf("commit %s: %v", t, err)
	}
	if out != nil {
		if err := json.Unmarshal(res.Response, out); err != nil {
			f.t.Fatalf("decode %s response: %v", t, err)
		}
	}
}

// namespace creates a namespace unless it exists.
func (f *testServer) namespace(name string) {
	f.t.Helper()
	if _, ok := f.store.State().Namespace(name); ok {
		return
	}
	f.commit(consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{
		TypeMeta:   api.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: name, UID: apiserver.NewUID()}}}, nil)
}

// addNode registers a node, as its agent does, with room for any test's
// pods, unless it exists; cordoned, it is unschedulable.
func (f *testServer) addNode(name string, cordoned bool) {
	f.t.Helper()
	if _, ok := f.store.State().Node(name); !ok {
		room := api.ResourceList{api.ResourceCPU: resource.MustParse("64"), api.ResourceMemory: resource.MustParse("256Gi"),
			api.ResourcePods: resource.MustParse("110")}
		f.commit(consensus.CmdRegisterNode, consensus.RegisterNode{Node: api.Node{
			TypeMeta:   api.TypeMeta{Kind: "Node", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{Name: name, UID: apiserver.NewUID()},
			Status:     api.NodeStatus{Capacity: room, Allocatable: room}}}, nil)
	}
	if cordoned {
		f.commit(consensus.CmdSetNodeUnschedulable, consensus.SetNodeUnschedulable{Name: name, Unschedulable: true}, nil)
	}
}

func (f *testServer) node(name string) *api.Node {
	f.t.Helper()
	n, ok := f.store.State().Node(name)
	if !ok {
		f.t.Fatalf("no node %s", name)
	}
	return n.DeepCopy()
}

// add creates a pod, with uid "uid-<name>" unless it has one. A pod with
// spec.nodeName is bound to that node (registered if need be) as it is
// created, and then the node reports p.Status, unless it is Pending with
// nothing else to say.
func (f *testServer) add(p *api.Pod) *api.Pod {
	f.t.Helper()
	p = p.DeepCopy()
	p.CreationTimestamp = api.Time{}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	f.namespace(p.Namespace)
	if p.UID == "" {
		p.UID = types.UID("uid-" + p.Name)
	}
	api.SetPodDefaults(p)
	st := p.Status
	p.Status = api.PodStatus{}
	if p.Spec.NodeName != "" {
		f.addNode(p.Spec.NodeName, false)
	}
	var stored api.Pod
	f.commit(consensus.CmdCreatePod, consensus.CreatePod{Pod: *p}, &stored)
	if p.Spec.NodeName != "" && (st.Phase != api.PodPending || len(st.ContainerStatuses) > 0) {
		f.reportStatus(&stored, st)
	}
	return f.pod(p.Namespace, p.Name)
}

// reportStatus commits p's status as its node reports it.
func (f *testServer) reportStatus(p *api.Pod, st api.PodStatus) {
	f.t.Helper()
	f.commit(consensus.CmdSetPodStatuses, consensus.SetPodStatuses{Node: p.Spec.NodeName, Updates: []consensus.PodStatusUpdate{{
		Namespace: p.Namespace, Name: p.Name, UID: p.UID, Status: st}}}, nil)
}

// pod returns a copy of the stored pod, or nil.
func (f *testServer) pod(ns, name string) *api.Pod {
	if p, ok := f.store.State().Pod(ns, name); ok {
		return p.DeepCopy()
	}
	return nil
}

// addDeployment creates a Deployment (uid "uid-<name>" unless it has one)
// and, if d.Status is set, commits it as the controller would.
func (f *testServer) addDeployment(d *api.Deployment) *api.Deployment {
	f.t.Helper()
	d = d.DeepCopy()
	f.namespace(d.Namespace)
	if d.UID == "" {
		d.UID = types.UID("uid-" + d.Name)
	}
	api.SetDeploymentDefaults(d)
	st := d.Status
	d.Status = api.DeploymentStatus{}
	var stored api.Deployment
	f.commit(consensus.CmdCreateDeployment, consensus.CreateDeployment{Deployment: *d}, &stored)
	if st.ObservedGeneration != 0 || st.Replicas != 0 {
		f.setDeploymentStatus(&stored, st)
	}
	return f.deployment(d.Namespace, d.Name)
}

// setDeploymentStatus commits st as the Deployment controller would.
func (f *testServer) setDeploymentStatus(d *api.Deployment, st api.DeploymentStatus) {
	f.t.Helper()
	f.commit(consensus.CmdSetDeploymentStatus, consensus.SetDeploymentStatus{Namespace: d.Namespace, Name: d.Name, UID: d.UID, Status: st}, nil)
}

func (f *testServer) deployment(ns, name string) *api.Deployment {
	if d, ok := f.store.State().Deployment(ns, name); ok {
		return d.DeepCopy()
	}
	return nil
}

// addReplicaSet creates a ReplicaSet, uid "uid-<name>" unless it has one.
func (f *testServer) addReplicaSet(rs *api.ReplicaSet) *api.ReplicaSet {
	f.t.Helper()
	rs = rs.DeepCopy()
	f.namespace(rs.Namespace)
	if rs.UID == "" {
		rs.UID = types.UID("uid-" + rs.Name)
	}
	api.SetReplicaSetDefaults(rs)
	var stored api.ReplicaSet
	f.commit(consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *rs}, &stored)
	return &stored
}

func (f *testServer) replicaSet(ns, name string) *api.ReplicaSet {
	if rs, ok := f.store.State().ReplicaSet(ns, name); ok {
		return rs.DeepCopy()
	}
	return nil
}

// nodeStops is the nodes' side of graceful deletion: see nodesConfirmAfter.
type nodeStops struct {
	reads int
	mu    sync.Mutex
	seen  map[types.UID]int  // reads of each Terminating pod
	grace map[string]int64   // namespace/name: the grace period the node was given
	done  map[types.UID]bool // confirmed
}

// nodesConfirmAfter plays the nodes: a pod that is Terminating is stopped
// by its node, which confirms it (DeletePod with a grace period of 0, as
// the agent commits it) once the CLI has read pods reads times while the
// pod was Terminating; with 0, right after the request that deleted it.
// The grace period each node was given is kept for stoppedWithGrace.
func (f *testServer) nodesConfirmAfter(reads int) {
	s := &nodeStops{reads: reads, seen: map[types.UID]int{}, grace: map[string]int64{}, done: map[types.UID]bool{}}
	f.mu.Lock()
	f.stopping = s
	f.mu.Unlock()
	f.afterEach(func(r *http.Request) {
		// A get or list of pods (in a namespace or in all).
		isPodRead := r.Method == http.MethodGet && !apiserver.IsWatch(r) && strings.Contains(r.URL.Path, "/pods")
		terminating, _ := f.store.State().Pods(func(p *api.Pod) bool { return p.DeletionTimestamp != nil })
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range terminating {
			if s.done[p.UID] {
				continue
			}
			if isPodRead {
				s.seen[p.UID]++
			}
			if s.seen[p.UID] < s.reads {
				continue
			}
			if p.DeletionGracePeriodSeconds != nil {
				s.grace[p.Namespace+"/"+p.Name] = *p.DeletionGracePeriodSeconds
			}
			zero := int64(0)
			if _, err := f.store.CommitPayload(context.Background(), consensus.CmdDeletePod, consensus.DeletePod{
				Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: &zero}); err != nil {
				f.t.Errorf("node %s: confirm pod %s/%s stopped: %v", p.Spec.NodeName, p.Namespace, p.Name, err)
			}
			s.done[p.UID] = true
		}
	})
}

// stoppedWithGrace returns the grace period the node of pod ns/name was
// given when it stopped it.
func (f *testServer) stoppedWithGrace(ns, name string) (int64, bool) {
	f.mu.Lock()
	s := f.stopping
	f.mu.Unlock()
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grace[ns+"/"+name]
	return g, ok
}

// run runs the CLI against the server and returns its stdout, stderr and
// error.
func (f *testServer) run(stdin string, args ...string) (string, string, error) {
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

// runAsync runs the CLI in the background; the returned function waits
// for it and returns its error.
func (f *testServer) runAsync(ctx context.Context, args ...string) (out, errOut *syncBuffer, wait func() error) {
	out, errOut = &syncBuffer{}, &syncBuffer{}
	app := newApp()
	app.Writer, app.ErrWriter = out, errOut
	done := make(chan error, 1)
	go func() { done <- app.RunContext(ctx, append([]string{"gossipod", "--addr", f.srv.URL}, args...)) }()
	return out, errOut, func() error { return <-done }
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tlsServer serves the same API over HTTPS, asking for a client
// certificate, and records the CN and Authorization of every request.
type tlsServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "CN=… Authorization=…"
}

func (f *testServer) startTLS() *tlsServer {
	f.t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		s.mu.Lock()
		s.seen = append(s.seen, "CN="+cn+" Authorization="+r.Header.Get("Authorization"))
		s.mu.Unlock()
		f.handler.ServeHTTP(w, r)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the wrong-CA cases' handshake errors
	s.StartTLS()
	f.t.Cleanup(s.Close)
	return s
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

// ownedBy makes p a pod controlled by the ReplicaSet rs.
func ownedBy(p *api.Pod, rs *api.ReplicaSet) *api.Pod {
	controller := true
	p.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &controller}}
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
