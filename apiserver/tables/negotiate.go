package tables

import (
	"fmt"
	"net/http"

	"github.com/munnerz/goautoneg"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gossipod/gossipod/api"
)

// The media types of the responses this package chooses between. Table's
// is what kube-apiserver answers to kubectl's
// `application/json;as=Table;v=v1;g=meta.k8s.io,...` Accept header.
const (
	ContentTypeJSON     = "application/json"
	metaGroup           = "meta.k8s.io"
	tableKind           = "Table"
	partialObjectKind   = "PartialObjectMetadata"
	reasonNotAcceptable = api.StatusReason("NotAcceptable")
)

// ContentTypeTable returns the Content-Type of a Table response of the
// given meta.k8s.io version ("v1" or "v1beta1").
func ContentTypeTable(version string) string {
	return "application/json;as=Table;v=" + version + ";g=" + metaGroup
}

// Options is what a request asks of its Table: the version of meta.k8s.io
// the Table is in, how much of each object its rows carry, and whether the
// column definitions are left out (watch events after the first).
type Options struct {
	// Version is "v1" or "v1beta1"; both Table versions have the same
	// shape, so only the apiVersion differs.
	Version string
	// IncludeObject is None, Metadata (the default, what `kubectl get`
	// gets: a PartialObjectMetadata per row, for its NAMESPACE and label
	// columns) or Object (the whole object, for --sort-by).
	IncludeObject metav1.IncludeObjectPolicy
	// NoHeaders leaves ColumnDefinitions out, as kube-apiserver does for
	// every watch event after the first: kubectl keeps the last columns.
	NoHeaders bool
}

// Negotiate reads a request's Accept header as kube-apiserver's content
// negotiation does (clauses in the order of their q-values, the first one
// the server can produce wins) and returns the Table options when that is
// a Table of meta.k8s.io/v1 or v1beta1, or nil for the plain JSON object.
//
// gossipod produces only JSON. A header none of whose clauses it can serve
// still gets JSON, as every gossipod response did before Tables, unless a
// clause asked for a conversion (as=...) that gossipod does not make, such
// as client-go's metadata client's PartialObjectMetadata: returning the
// full object there would hand the client a kind it did not ask for, so
// that is a 406 Not Acceptable Status, as Kubernetes answers.
//
// ?includeObject is read for Tables only, and must be None, Metadata,
// Object or empty (a 400 otherwise, in kube-apiserver's words).
func Negotiate(r *http.Request) (*Options, error) {
	header := r.Header.Get("Accept")
	if header == "" {
		return nil, nil
	}
	conversionAsked := false
	for _, clause := range goautoneg.ParseAccept(header) {
		if !servesJSON(clause) {
			continue
		}
		as, ok := clause.Params["as"]
		if !ok || as == "" {
			return nil, nil
		}
		conversionAsked = true
		version := clause.Params["v"]
		if as != tableKind || clause.Params["g"] != metaGroup || (version != "v1" && version != "v1beta1") {
			continue
		}
		opts := &Options{Version: version, IncludeObject: metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject"))}
		switch opts.IncludeObject {
		case "":
			opts.IncludeObject = metav1.IncludeMetadata
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
		default:
			err := field.Invalid(field.NewPath("includeObject"), string(opts.IncludeObject), "must be 'Metadata', 'Object', 'None', or empty")
			return nil, api.NewBadRequest(fmt.Sprintf("Unable to convert to Table as requested: %v", err))
		}
		return opts, nil
	}
	if conversionAsked {
		return nil, api.NewStatus(http.StatusNotAcceptable, reasonNotAcceptable,
			"only the following media types are accepted: "+ContentTypeJSON+", "+ContentTypeTable("v1")+", "+ContentTypeTable("v1beta1"))
	}
	return nil, nil
}

// servesJSON reports whether an Accept clause names application/json or a
// wildcard that covers it.
func servesJSON(c goautoneg.Accept) bool {
	switch {
	case c.Type == "application" && c.SubType == "json",
		c.Type == "application" && c.SubType == "*",
		c.Type == "*" && c.SubType == "*":
		return true
	}
	return false
}

// Transform returns what a handler writes for obj in answer to r, and its
// Content-Type: a Table of obj when r asks for one (see Negotiate), obj
// itself as application/json otherwise. obj is what the handler would
// write without Tables: one object (*api.Pod) or a list (api.PodList).
// An error is a *api.Status: 406 for a conversion gossipod does not make
// or a value that is not an object, 400 for a bad includeObject.
func Transform(r *http.Request, obj any) (out any, contentType string, err error) {
	opts, err := Negotiate(r)
	if err != nil || opts == nil {
		return obj, ContentTypeJSON, err
	}
	table, err := Convert(obj, *opts)
	if err != nil {
		return nil, "", err
	}
	return table, ContentTypeTable(opts.Version), nil
}

// WatchTransformer turns the objects of a watch stream's events into what
// the stream carries: for a Table watch, each object becomes a Table of
// one row, the first with the column definitions and the others without,
// as kube-apiserver streams them to `kubectl get -w`. It is not safe for
// concurrent use; a watch has one. The stream itself stays
// application/json, as kube-apiserver's does: only its objects change.
type WatchTransformer struct {
	opts *Options
}

// NewWatchTransformer negotiates r's Accept header (see Negotiate) for a
// watch. The transformer passes objects through unchanged when r does not
// ask for a Table.
func NewWatchTransformer(r *http.Request) (*WatchTransformer, error) {
	opts, err := Negotiate(r)
	if err != nil {
		return nil, err
	}
	return &WatchTransformer{opts: opts}, nil
}

// Tables reports whether the watch's objects become Tables; when not,
// Transform returns every object as it is, and a caller may send an
// encoding of it shared with other watches.
func (t *WatchTransformer) Tables() bool { return t.opts != nil }

// Format names what Transform makes of an object now, for an encoding
// shared by watches (consensus.WatchEvent's Encoding): transformers with
// the same Format make the same Table of the same object, up to the clock
// of the age columns, which kube-apiserver's shared encodings also read
// once. ok is false for a transformer that makes no Tables and while the
// column definitions are still to be sent: a watch's first Table is its
// own.
func (t *WatchTransformer) Format() (format string, ok bool) {
	if t.opts == nil || !t.opts.NoHeaders {
		return "", false
	}
	return "Table;v=" + t.opts.Version + ";includeObject=" + string(t.opts.IncludeObject), true
}

// Transform returns what an event carries for obj.
func (t *WatchTransformer) Transform(obj any) (any, error) {
	if t.opts == nil {
		return obj, nil
	}
	table, err := Convert(obj, *t.opts)
	if err != nil {
		return nil, err
	}
	t.opts.NoHeaders = true
	return table, nil
}
