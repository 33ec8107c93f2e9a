// Package apiserver serves gossipod's Kubernetes API: the resources
// (pods, deployments, replicasets, namespaces, serviceaccounts, nodes,
// events) and their subresources, over the committed state of one agent,
// as kube-apiserver's generic registry serves them over etcd.
//
// Every resource is one Resource value: how to read it from the committed
// state and which command creates, updates or deletes it (its strategy).
// One generic handler serves list, get, create, update, patch, delete,
// deletecollection and watch for all of them, so a kind added later
// (Services, ConfigMaps, Secrets) is a Resource and a strategy, not a set
// of handlers. The server needs of the cluster only a Backend: the
// committed state, a read index, and a commit. The agent supplies one that
// forwards writes to the Raft leader; tests supply consensus.MemStore.
package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/consensus"
)

// Backend is what the API server needs of the cluster: this replica's
// committed state, the leader's read index for consistent reads, and a way
// to commit a command through the leader.
type Backend interface {
	// State is this replica's committed state machine.
	State() *consensus.State
	// ReadIndex returns the leader's commit index, confirmed by a quorum
	// (Raft's read-index); consensus.ErrNoLeader or ErrNotLeader while
	// there is no leader to ask.
	ReadIndex(ctx context.Context) (uint64, error)
	// WaitApplied blocks until this replica's State reflects every log
	// entry up to index (consensus.Store.WaitApplied: raft's applied index
	// alone runs ahead of the State), or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
	// Commit commits cmd through the leader. Errors are *api.Status
	// values a handler can return as they are.
	Commit(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

// Committer commits a command through the leader: the part of a Backend
// that a writer outside the API server (the agent's token endpoints) needs.
type Committer interface {
	Commit(ctx context.Context, cmd consensus.Command) (consensus.Result, error)
}

// Config is what the server takes from the agent's flags.
type Config struct {
	// Logger receives the server's few log lines (a watch cut off).
	Logger *slog.Logger
	// WatchWriteTimeout cuts off a watch whose client takes no events
	// for this long (--watch-write-timeout).
	WatchWriteTimeout time.Duration
	// WatchBookmarkInterval is how often a watch that allows bookmarks
	// gets one.
	WatchBookmarkInterval time.Duration
	// MaxDeploymentReplicas bounds spec.replicas of Deployments and
	// ReplicaSets (--max-deployment-replicas).
	MaxDeploymentReplicas int32
	// AllowedHostPaths are the host directories under which this agent
	// accepts hostPath volumes (--allowed-host-paths); the FSM cannot
	// check it, as agents' lists may differ.
	AllowedHostPaths []string
	// ServiceAccountTokens issues the tokens of the serviceaccounts/token
	// subresource (TokenRequest); nil serves it as not found.
	ServiceAccountTokens *auth.ServiceAccountTokens
}

// Server serves the API resources over a Backend.
type Server struct {
	b   Backend
	cfg Config
	log *slog.Logger
	// stopping is closed by StopWatches.
	stopping     chan struct{}
	stoppingOnce sync.Once
}

// New returns a Server over b.
func New(b Backend, cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{b: b, cfg: cfg, log: log, stopping: make(chan struct{})}
}

// StopWatches ends every watch being served, and any started later, as
// kube-apiserver closes its watches when it shuts down: http.Server's
// Shutdown waits for handlers to return and does not cancel them, and a
// watch would otherwise run until its timeout. Clients watch again, from
// their last resourceVersion, through another agent.
func (s *Server) StopWatches() {
	s.stoppingOnce.Do(func() { close(s.stopping) })
}

// Route is one path the server serves, with a handler per method.
type Route struct {
	Path    string
	Methods map[string]http.HandlerFunc
}

// Routes lists what the server serves, for the agent to mount beside its
// own endpoints (discovery, health, members, logs and exec).
func (s *Server) Routes() []Route {
	var out []Route
	for _, r := range s.resources() {
		out = append(out, r.routes()...)
	}
	return append(out, s.subresourceRoutes()...)
}

// Mount serves routes on mux, each method by its handler and any other
// with a 405 Status, so clients decode one error shape. Handlers may add
// API warnings to their response (AddWarning).
func Mount(mux *http.ServeMux, routes ...Route) {
	for _, rt := range routes {
		methods := rt.Methods
		mux.HandleFunc(rt.Path, func(w http.ResponseWriter, r *http.Request) {
			h, ok := methods[r.Method]
			if !ok {
				WriteError(w, api.NewStatus(http.StatusMethodNotAllowed, api.StatusReasonMethodNotAllowed,
					fmt.Sprintf("the server does not allow the %s method on %s", r.Method, r.URL.Path)))
				return
			}
			h(w, withWarnings(w, r))
		})
	}
}

// MaxBodyBytes bounds a request body; Kubernetes' limit is 3 MiB.
const MaxBodyBytes = 3 << 20

// WriteJSON writes v as indented JSON with code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes err as a Status; an error that is not already a
// Status becomes a 500 InternalError.
func WriteError(w http.ResponseWriter, err error) {
	var status *api.Status
	if !errors.As(err, &status) {
		status = api.NewInternalError(err)
	}
	WriteJSON(w, status.Code, status)
}

// BodyError is the Status for a body that could not be read: 413 when it
// was over its bound, 400 otherwise.
func BodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return api.NewRequestEntityTooLarge(fmt.Sprintf("the request body is larger than %d bytes, the most this endpoint accepts", tooLarge.Limit))
	}
	return api.NewBadRequest(fmt.Sprintf("read request body: %v", err))
}

// IsWatch reports whether a list request asks for a watch (?watch=1).
func IsWatch(r *http.Request) bool {
	v := r.URL.Query().Get("watch")
	return v == "1" || v == "true"
}

// WatchClient is whom a watch counts against: the authenticated user (so
// that users behind one NAT do not share slots), else the client's address
// without its port.
func WatchClient(r *http.Request) string {
	if u, ok := auth.UserFrom(r.Context()); ok && !u.IsAnonymous() {
		return fmt.Sprintf("user %q", u.Name)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// NewUID returns a random RFC 4122 version 4 UUID, the form Kubernetes
// uids take.
func NewUID() types.UID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// CommitFor commits cmd and decodes the object the FSM returns.
func CommitFor[T any](ctx context.Context, b Committer, cmd consensus.Command) (*T, error) {
	res, err := b.Commit(ctx, cmd)
	if err != nil {
		return nil, err
	}
	var out T
	if len(res.Response) == 0 {
		return nil, fmt.Errorf("%s: empty response from the leader", cmd.Type)
	}
	if err := json.Unmarshal(res.Response, &out); err != nil {
		return nil, fmt.Errorf("decode %s response: %w", cmd.Type, err)
	}
	return &out, nil
}

// readObject decodes a request body holding exactly one object, strictly.
func readObject(r *http.Request) (api.Object, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, BodyError(err)
	}
	return decodeObject(body)
}

// decodeObject decodes a body holding exactly one object, strictly.
func decodeObject(body []byte) (api.Object, error) {
	objs, err := api.DecodeManifests(body)
	if err != nil {
		var de *api.DecodeError
		if errors.As(err, &de) {
			return nil, de.Status()
		}
		return nil, api.NewBadRequest(err.Error())
	}
	if len(objs) != 1 {
		return nil, api.NewBadRequest(fmt.Sprintf("expected one object in the request body, got %d", len(objs)))
	}
	return objs[0], nil
}

// decodePatched decodes a patched object as a request body is decoded
// (DecodeManifests, strictly), leaving a *api.DecodeError as it is for
// patch.Do to answer with the 422 of a patch whose result is invalid.
func decodePatched(b []byte) (api.Object, error) {
	objs, err := api.DecodeManifests(b)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, api.NewBadRequest(fmt.Sprintf("the patched object is %d objects, not one", len(objs)))
	}
	return objs[0], nil
}

// asKind checks that obj is a T (what names it for the error) and, for a
// namespaced kind, puts it in the URL's namespace ns when it names none;
// one that names another is refused, in kube-apiserver's words.
func asKind[T api.Object](obj api.Object, namespaced bool, ns, what string) (T, error) {
	var zero T
	typed, ok := obj.(T)
	if !ok {
		apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		return zero, api.NewBadRequest(fmt.Sprintf("expected %s in the request body, got %s %s", what, apiVersion, kind))
	}
	if !namespaced {
		return typed, nil
	}
	switch typed.GetNamespace() {
	case "":
		typed.SetNamespace(ns)
	case ns:
	default:
		return zero, api.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return typed, nil
}

// nameMismatch is kube-apiserver's error for a body whose name is not the
// URL's.
func nameMismatch(body, url string) error {
	return api.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", body, url))
}
