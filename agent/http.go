package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/apiserver/openapi"
	"github.com/gossipod/gossipod/apiserver/writeoptions"
	"github.com/gossipod/gossipod/consensus"
)

// routes builds the agent's HTTP API. Every error is a Kubernetes Status
// object, unknown paths included, so clients decode one error shape.
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, methods map[string]http.HandlerFunc) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				writeError(w, api.NewStatus(http.StatusMethodNotAllowed, api.StatusReasonMethodNotAllowed,
					fmt.Sprintf("the server does not allow the %s method on %s", r.Method, r.URL.Path)))
				return
			}
			h(w, r)
		})
	}
	handle("/healthz", map[string]http.HandlerFunc{http.MethodGet: a.handleHealthz})
	// Discovery, /version and OpenAPI, from the one table of what the
	// routes below serve: keep discovery.Resources in step with them.
	resources := discovery.Resources()
	disco := discovery.NewHandler(resources, net.JoinHostPort(a.cfg.advertiseIP(), strconv.Itoa(a.cfg.APIPort)))
	for _, p := range []string{"/api", "/apis", "/api/{version}", "/apis/{group}", "/apis/{group}/{version}"} {
		handle(p, map[string]http.HandlerFunc{http.MethodGet: disco.ServeHTTP})
	}
	handle("/version", map[string]http.HandlerFunc{http.MethodGet: discovery.VersionHandler(discovery.VersionInfo(a.cfg.BinaryVersion))})
	oapi := openapi.New(resources)
	handle(openapi.Root, map[string]http.HandlerFunc{http.MethodGet: oapi.ServeHTTP})
	handle(openapi.Root+"/{groupversion...}", map[string]http.HandlerFunc{http.MethodGet: oapi.ServeHTTP})
	handle(openapi.V2Root, map[string]http.HandlerFunc{http.MethodGet: oapi.ServeV2})
	handle("/readyz", map[string]http.HandlerFunc{http.MethodGet: a.handleReadyz})
	handle("/metrics", map[string]http.HandlerFunc{http.MethodGet: promhttp.HandlerFor(a.metricsRegistry(), promhttp.HandlerOpts{}).ServeHTTP})
	handle("/v1/agent/members", map[string]http.HandlerFunc{http.MethodGet: a.handleMembers})
	handle("/v1/raft/peers", map[string]http.HandlerFunc{http.MethodGet: a.handleRaftPeers})
	handle("/api/v1/nodes", map[string]http.HandlerFunc{http.MethodGet: a.handleListNodes})
	handle("/api/v1/nodes/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetNode, http.MethodDelete: a.handleDeleteNode, http.MethodPatch: a.handlePatchNode})
	// The status subresources read as the object itself, as in Kubernetes
	// (`kubectl get --subresource=status`); their writers are the agents
	// and controllers, through the log, not these URLs.
	handle("/api/v1/nodes/{name}/status", map[string]http.HandlerFunc{http.MethodGet: a.handleGetNode})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/status", map[string]http.HandlerFunc{http.MethodGet: a.handleGetPod})
	handle("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", map[string]http.HandlerFunc{http.MethodGet: a.handleGetDeployment})
	handle("/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status", map[string]http.HandlerFunc{http.MethodGet: a.handleGetReplicaSet})
	handle("/apis/apps/v1/deployments", map[string]http.HandlerFunc{http.MethodGet: a.handleListDeployments})
	handle("/apis/apps/v1/namespaces/{namespace}/deployments", map[string]http.HandlerFunc{
		http.MethodGet: a.handleListDeployments, http.MethodPost: a.handleCreateDeployment})
	handle("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetDeployment, http.MethodPut: a.handleUpdateDeployment, http.MethodDelete: a.handleDeleteDeployment,
		http.MethodPatch: a.handlePatchDeployment})
	handle("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetScale, http.MethodPut: a.handleUpdateScale, http.MethodPatch: a.handlePatchScale})
	handle("/apis/apps/v1/replicasets", map[string]http.HandlerFunc{http.MethodGet: a.handleListReplicaSets})
	handle("/apis/apps/v1/namespaces/{namespace}/replicasets", map[string]http.HandlerFunc{
		http.MethodGet: a.handleListReplicaSets, http.MethodPost: a.handleCreateReplicaSet})
	handle("/apis/apps/v1/namespaces/{namespace}/replicasets/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetReplicaSet, http.MethodPut: a.handleUpdateReplicaSet, http.MethodDelete: a.handleDeleteReplicaSet,
		http.MethodPatch: a.handlePatchReplicaSet})
	handle("/apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetReplicaSetScale, http.MethodPut: a.handleUpdateReplicaSetScale,
		http.MethodPatch: a.handlePatchReplicaSetScale})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/eviction", map[string]http.HandlerFunc{http.MethodPost: a.handleEvictPod})
	handle("/api/v1/namespaces", map[string]http.HandlerFunc{
		http.MethodGet: a.handleListNamespaces, http.MethodPost: a.handleCreateNamespace})
	handle("/api/v1/namespaces/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetNamespace, http.MethodPut: a.handleUpdateNamespace, http.MethodDelete: a.handleDeleteNamespace,
		http.MethodPatch: a.handlePatchNamespace})
	handle("/api/v1/serviceaccounts", map[string]http.HandlerFunc{http.MethodGet: a.handleListServiceAccounts})
	handle("/api/v1/namespaces/{namespace}/serviceaccounts", map[string]http.HandlerFunc{
		http.MethodGet: a.handleListServiceAccounts, http.MethodPost: a.handleCreateServiceAccount})
	handle("/api/v1/namespaces/{namespace}/serviceaccounts/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetServiceAccount, http.MethodPut: a.handleUpdateServiceAccount, http.MethodDelete: a.handleDeleteServiceAccount,
		http.MethodPatch: a.handlePatchServiceAccount})
	handle("/api/v1/pods", map[string]http.HandlerFunc{http.MethodGet: a.handleListPods})
	handle("/api/v1/namespaces/{namespace}/pods", map[string]http.HandlerFunc{
		http.MethodGet: a.handleListPods, http.MethodPost: a.handleCreatePod})
	handle("/api/v1/namespaces/{namespace}/pods/{name}", map[string]http.HandlerFunc{
		http.MethodGet: a.handleGetPod, http.MethodPut: a.handleUpdatePod, http.MethodDelete: a.handleDeletePod,
		http.MethodPatch: a.handlePatchPod})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/log", map[string]http.HandlerFunc{http.MethodGet: a.handleLogs})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/exec", map[string]http.HandlerFunc{
		http.MethodPost: a.handleExec, http.MethodGet: a.handleExec})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/attach", map[string]http.HandlerFunc{
		http.MethodPost: a.handleAttach, http.MethodGet: a.handleAttach})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/portforward", map[string]http.HandlerFunc{
		http.MethodPost: a.handlePortForward, http.MethodGet: a.handlePortForward})
	handle("/v1/images", map[string]http.HandlerFunc{http.MethodGet: a.handleListImages})
	handle("/v1/images/load", map[string]http.HandlerFunc{http.MethodPost: a.handleLoadImage})
	handle("/api/v1/events", map[string]http.HandlerFunc{http.MethodGet: a.handleListEvents})
	handle("/api/v1/namespaces/{namespace}/events", map[string]http.HandlerFunc{http.MethodGet: a.handleListEvents})
	handle("/v1/tokens", map[string]http.HandlerFunc{http.MethodGet: a.handleListTokens, http.MethodPost: a.handleCreateToken})
	handle("/v1/tokens/{id}", map[string]http.HandlerFunc{http.MethodDelete: a.handleDeleteToken})
	handle(internalReadIndexPath, map[string]http.HandlerFunc{http.MethodGet: a.handleReadIndex})
	handle(internalApplyPath, map[string]http.HandlerFunc{http.MethodPost: a.handleInternalApply})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, api.NewStatus(http.StatusNotFound, api.StatusReasonNotFound,
			fmt.Sprintf("the server could not find the requested resource %s", r.URL.Path)))
	})
	// Refuse the write options no handler honours (dryRun,
	// fieldValidation=Ignore|Warn) before any handler runs.
	return writeoptions.Filter(mux)
}

// handleHealthz answers 200 while the agent serves; it does not require a
// leader, so a load balancer keeps sending reads during an election.
func (a *Agent) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// handleReadyz answers 200 when the agent can serve consistent reads and
// writes, i.e. it knows a Raft leader, and 503 otherwise, listing its checks
// as kube-apiserver's /readyz does.
func (a *Agent) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if leader, _ := a.store.Leader(); leader == "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "[+]ping ok\n[-]raft-leader failed: no raft leader known\nreadyz check failed\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

func (a *Agent) handleMembers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Members(r.Context()))
}

func (a *Agent) handleRaftPeers(w http.ResponseWriter, r *http.Request) {
	peers, err := a.RaftPeers()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, peers)
}

// handleListNodes serves GET /api/v1/nodes with label selectors (`kubectl
// get nodes -l`), the metadata.name and spec.unschedulable field selectors
// Kubernetes serves for nodes, and ?watch (`kubectl get nodes -w`,
// informers on nodes).
func (a *Agent) handleListNodes(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	sel, err := parseListSelector(r, "metadata.name", "spec.unschedulable")
	if err != nil {
		writeError(w, err)
		return
	}
	keep := func(n *api.Node) bool {
		return sel.matches(n.Labels, fields.Set{"metadata.name": n.Name, "spec.unschedulable": strconv.FormatBool(n.Spec.Unschedulable)})
	}
	list := func() ([]api.Node, uint64) {
		all, index := a.store.State().Nodes()
		return keepValues(all, keep), index
	}
	if isWatch(r) {
		serveKindWatch(a, w, r, "Node", keep, func() ([]*api.Node, uint64) {
			items, index := list()
			return pointersTo(items), index
		})
		return
	}
	nodes, index := list()
	writeObject(w, r, http.StatusOK, api.NodeList{
		TypeMeta: api.TypeMeta{Kind: "NodeList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    nodes,
	})
}

func (a *Agent) handleGetNode(w http.ResponseWriter, r *http.Request) {
	if !a.consistentRead(w, r) {
		return
	}
	name := r.PathValue("name")
	node, ok := a.store.State().Node(name)
	if !ok {
		writeError(w, api.NewNotFound("nodes", name))
		return
	}
	writeObject(w, r, http.StatusOK, node)
}

// handleDeleteNode removes a node object, releasing its pod CIDR. An agent
// still alive under that name registers it again (with a new CIDR), as a
// kubelet does.
func (a *Agent) handleDeleteNode(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	node, ok := a.store.State().Node(name)
	if !ok {
		writeError(w, api.NewNotFound("nodes", name))
		return
	}
	if err := a.commitPayload(r.Context(), consensus.CmdDeleteNode, consensus.DeleteNode{Name: name}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, node)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes err as a Status; an error that is not already a Status
// becomes a 500 InternalError.
func writeError(w http.ResponseWriter, err error) {
	var status *api.Status
	if !errors.As(err, &status) {
		status = api.NewInternalError(err)
	}
	writeJSON(w, status.Code, status)
}
