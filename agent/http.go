package agent

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/apiserver/openapi"
	"github.com/gossipod/gossipod/apiserver/writeoptions"
)

// routes builds the agent's HTTP API. Every error is a Kubernetes Status
// object, unknown paths included, so clients decode one error shape.
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, methods map[string]http.HandlerFunc) {
		apiserver.Mount(mux, apiserver.Route{Path: path, Methods: methods})
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
	// The Kubernetes resources and their subresources, but for those that
	// reach a pod's node (log, exec, attach, portforward), below.
	apiserver.Mount(mux, a.api.Routes()...)
	handle("/api/v1/namespaces/{namespace}/pods/{name}/log", map[string]http.HandlerFunc{http.MethodGet: a.handleLogs})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/exec", map[string]http.HandlerFunc{
		http.MethodPost: a.handleExec, http.MethodGet: a.handleExec})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/attach", map[string]http.HandlerFunc{
		http.MethodPost: a.handleAttach, http.MethodGet: a.handleAttach})
	handle("/api/v1/namespaces/{namespace}/pods/{name}/portforward", map[string]http.HandlerFunc{
		http.MethodPost: a.handlePortForward, http.MethodGet: a.handlePortForward})
	handle("/v1/images", map[string]http.HandlerFunc{http.MethodGet: a.handleListImages})
	handle("/v1/images/load", map[string]http.HandlerFunc{http.MethodPost: a.handleLoadImage})
	handle("/v1/tokens", map[string]http.HandlerFunc{http.MethodGet: a.handleListTokens, http.MethodPost: a.handleCreateToken})
	handle("/v1/tokens/{id}", map[string]http.HandlerFunc{http.MethodDelete: a.handleDeleteToken})
	handle(internalReadIndexPath, map[string]http.HandlerFunc{http.MethodGet: a.handleReadIndex})
	handle(internalApplyPath, map[string]http.HandlerFunc{http.MethodPost: a.handleInternalApply})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apiserver.WriteError(w, api.NewStatus(http.StatusNotFound, api.StatusReasonNotFound,
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
	apiserver.WriteJSON(w, http.StatusOK, a.Members(r.Context()))
}

func (a *Agent) handleRaftPeers(w http.ResponseWriter, r *http.Request) {
	peers, err := a.RaftPeers()
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, peers)
}
