package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/discovery"
)

// Root is where the documents are served from.
const Root = "/openapi/v3"

// Service serves the OpenAPI v3 documents of a table of resources, as
// kube-apiserver serves them:
//
//	GET /openapi/v3                 {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."},...}}
//	GET /openapi/v3/api/v1          the document of the core group's v1
//	GET /openapi/v3/apis/apps/v1    the document of apps/v1
//
// The hash in each serverRelativeURL is that of the document's bytes: a
// request with the current hash may be cached for good (clients cache
// them, kubectl on disk), one with a stale hash is redirected to the
// current URL. The documents are built on the first request and kept,
// gzipped (about 110 KiB instead of 520 KiB for the two of today): a fixed
// set, as many as the table has group-versions. Clients that accept gzip
// (client-go, kubectl) get them as kept; others get them inflated on the
// way out. The v2 document (ServeV2) is kept the same way, in both of its
// forms: 335 KiB of JSON and 300 KiB of protobuf today, 64 and 74 KiB
// gzipped, built in about a tenth of a second (BenchmarkBuildV2). It is
// safe for concurrent use.
type Service struct {
	resources []discovery.Resource

	once sync.Once
	docs map[string]built // "api/v1", "apis/apps/v1"
	root built
	err  error

	// The v2 document (see v2.go), built on its own first request:
	// today's kubectl never asks for it.
	v2once sync.Once
	v2JSON built
	v2Pb   built // gnostic's protobuf of v2JSON
	v2err  error
}

// built is one rendered document, kept gzipped.
type built struct {
	gz   []byte
	size int    // of the JSON, inflated
	hash string // of the JSON
}

// newBuilt keeps body gzipped, with its hash.
func newBuilt(body []byte) (built, error) {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write(body); err != nil {
		return built{}, err
	}
	if err := z.Close(); err != nil {
		return built{}, err
	}
	return built{gz: bytes.Clone(buf.Bytes()), size: len(body), hash: hashOf(body)}, nil
}

// New returns a Service for resources (normally discovery.Resources()).
func New(resources []discovery.Resource) *Service {
	return &Service{resources: resources}
}

// ServeHTTP serves the root or a group-version's document, by r's path.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.build)
	if s.err != nil {
		writeStatus(w, api.NewInternalError(s.err))
		return
	}
	if !acceptsJSON(r.Header.Get("Accept")) {
		// The protobuf form is not served; client-go asks for JSON.
		writeStatus(w, api.NewStatus(http.StatusNotAcceptable, "NotAcceptable",
			"only the following media types are accepted: application/json"))
		return
	}
	rel := strings.Trim(strings.TrimPrefix(r.URL.Path, Root), "/")
	if rel == "" {
		serve(w, r, s.root, contentTypeJSON)
		return
	}
	doc, ok := s.docs[rel]
	if !ok {
		writeStatus(w, api.NewStatus(http.StatusNotFound, api.StatusReasonNotFound, "the server could not find the requested resource"))
		return
	}
	if h := r.URL.Query().Get("hash"); h != "" {
		if h != doc.hash {
			http.Redirect(w, r, serverRelativeURL(rel, doc.hash), http.StatusMovedPermanently)
			return
		}
		// This URL names these bytes for good.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	serve(w, r, doc, contentTypeJSON)
}

// contentTypeJSON is the media type of the documents in JSON.
const contentTypeJSON = "application/json"

// serve writes a document of contentType with its ETag, gzipped when the
// client accepts gzip, and answers a matching If-None-Match with 304.
func serve(w http.ResponseWriter, r *http.Request, doc built, contentType string) {
	etag := strconv.Quote(doc.hash)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Vary", "Accept, Accept-Encoding")
	w.Header().Set("ETag", etag)
	if noneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(doc.gz)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(doc.gz)
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(doc.size))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	// Our own gzip stream: it inflates; a failed write is a client gone.
	if z, err := gzip.NewReader(bytes.NewReader(doc.gz)); err == nil {
		_, _ = io.Copy(w, z)
	}
}

// noneMatch reports whether If-None-Match headers name etag (or "*").
func noneMatch(headers []string, etag string) bool {
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ",") {
			if p := strings.TrimSpace(part); p == etag || p == "*" {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if coding = strings.TrimSpace(coding); coding != "gzip" && coding != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// build renders the document of every group-version, then the root that
// lists them with their hashes.
func (s *Service) build() {
	s.docs = map[string]built{}
	type entry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	root := struct {
		Paths map[string]entry `json:"paths"`
	}{Paths: map[string]entry{}}
	for _, gv := range discovery.GroupVersions(s.resources) {
		rel := "apis/" + gv.Group + "/" + gv.Version
		if gv.Group == "" {
			rel = "api/" + gv.Version
		}
		doc, _, err := buildDocument(s.resources, gv)
		if err != nil {
			s.err = fmt.Errorf("build the OpenAPI document of %s: %w", gv, err)
			return
		}
		body, err := json.Marshal(doc)
		if err != nil {
			s.err = fmt.Errorf("render the OpenAPI document of %s: %w", gv, err)
			return
		}
		b, err := newBuilt(body)
		if err != nil {
			s.err = fmt.Errorf("compress the OpenAPI document of %s: %w", gv, err)
			return
		}
		s.docs[rel] = b
		root.Paths[rel] = entry{ServerRelativeURL: serverRelativeURL(rel, b.hash)}
	}
	body, err := json.Marshal(root)
	if err == nil {
		s.root, err = newBuilt(body)
	}
	if err != nil {
		s.err = fmt.Errorf("render the OpenAPI root: %w", err)
	}
}

// hashOf is kube-openapi's hash of a document: SHA-512, upper-case hex.
func hashOf(body []byte) string {
	return fmt.Sprintf("%X", sha512.Sum512(body))
}

func serverRelativeURL(rel, hash string) string {
	return Root + "/" + rel + "?" + url.Values{"hash": {hash}}.Encode()
}

// acceptsJSON reports whether an Accept header admits application/json
// (an empty header admits anything).
func acceptsJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		if mt == "application/json" || mt == "application/*" || mt == "*/*" {
			return true
		}
	}
	return false
}

// writeStatus writes a Status as the agent writes every error.
func writeStatus(w http.ResponseWriter, st *api.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(st.Code)
	_ = json.NewEncoder(w).Encode(st)
}
