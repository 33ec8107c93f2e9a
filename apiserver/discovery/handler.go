package discovery

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gossipod/gossipod/api"
)

// Handler serves the discovery documents of a table of resources:
//
//	GET /api                      APIVersions, or aggregated discovery of the core group
//	GET /apis                     APIGroupList, or aggregated discovery of the named groups
//	GET /apis/<group>             APIGroup
//	GET /api/<version>            APIResourceList
//	GET /apis/<group>/<version>   APIResourceList
//
// and a 404 Status for a group or version it does not serve, which client-go
// reads as "this group-version is not there". Register it for each of these
// paths; it routes on the request's path itself. The documents are built
// once, on the first request, and served with an ETag so that clients
// that cache discovery (kubectl does, on disk) revalidate cheaply. It is
// safe for concurrent use.
type Handler struct {
	resources     []Resource
	serverAddress string

	once sync.Once
	docs map[docKey]rendered
	err  error
}

// docKey names one rendered document: its path (without the leading
// slash) and whether it is the aggregated form.
type docKey struct {
	path       string
	aggregated bool
}

// rendered is a document ready to send.
type rendered struct {
	body []byte
	etag string // quoted, as the header carries it
}

// NewHandler returns a Handler for resources (normally Resources()).
// serverAddress is the host:port clients reach this agent at, reported in
// /api and /apis as Kubernetes reports its advertised address; "" leaves
// it out.
func NewHandler(resources []Resource, serverAddress string) *Handler {
	return &Handler{resources: resources, serverAddress: serverAddress}
}

// ServeHTTP serves the document of r's path, in the form r's Accept header
// asks for.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.once.Do(h.build)
	if h.err != nil {
		writeStatus(w, api.NewInternalError(h.err))
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	if _, ok := h.docs[docKey{path: path}]; !ok {
		writeStatus(w, api.NewStatus(http.StatusNotFound, api.StatusReasonNotFound, "the server could not find the requested resource"))
		return
	}
	hasAggregated := path == "api" || path == "apis"
	form := negotiate(r.Header.Get("Accept"), hasAggregated)
	if form == mediaNone {
		accepted := "application/json"
		if hasAggregated {
			accepted += ", " + contentTypeAggregated
		}
		writeStatus(w, api.NewStatus(http.StatusNotAcceptable, reasonNotAcceptable,
			"only the following media types are accepted: "+accepted))
		return
	}
	doc := h.docs[docKey{path: path, aggregated: form == mediaAggregated}]
	if form == mediaAggregated {
		w.Header().Set("Content-Type", contentTypeAggregated)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	// The body depends on Accept: caches must key on it.
	w.Header().Set("Vary", "Accept")
	w.Header().Set("ETag", doc.etag)
	if r.Header.Get("If-None-Match") == doc.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(doc.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// reasonNotAcceptable is kube-apiserver's reason for a 406.
const reasonNotAcceptable api.StatusReason = "NotAcceptable"

// build renders every document of the table.
func (h *Handler) build() {
	docs := map[docKey]any{
		{path: "api"}:                    apiVersions(h.resources, h.serverAddress),
		{path: "apis"}:                   apiGroupList(h.resources),
		{path: "api", aggregated: true}:  aggregated(h.resources, true),
		{path: "apis", aggregated: true}: aggregated(h.resources, false),
	}
	for _, g := range apiGroups(h.resources) {
		docs[docKey{path: "apis/" + g.Name}] = g
	}
	for _, gv := range GroupVersions(h.resources) {
		docs[docKey{path: gvPath(gv)}] = apiResourceList(h.resources, gv)
	}
	h.docs = make(map[docKey]rendered, len(docs))
	for k, doc := range docs {
		body, err := json.Marshal(doc)
		if err != nil {
			h.err = fmt.Errorf("render discovery document /%s: %w", k.path, err)
			return
		}
		h.docs[k] = rendered{body: body, etag: strconv.Quote(fmt.Sprintf("%X", sha512.Sum512(body)))}
	}
}

// gvPath is where a group-version's resources are listed, without the
// leading slash: api/v1 for the core group, apis/<group>/<version> else.
func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// writeStatus writes a Status as the agent writes every error.
func writeStatus(w http.ResponseWriter, s *api.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(s.Code)
	_ = json.NewEncoder(w).Encode(s)
}
