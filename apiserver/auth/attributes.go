package auth

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
)

// The verbs of resource requests, as Kubernetes names them.
const (
	VerbGet              = "get"
	VerbList             = "list"
	VerbWatch            = "watch"
	VerbCreate           = "create"
	VerbUpdate           = "update"
	VerbPatch            = "patch"
	VerbDelete           = "delete"
	VerbDeleteCollection = "deletecollection"
)

// Attributes is what a request does, as kube-apiserver's RequestInfo
// resolver derives it, so that roles read like RBAC rules and refusals
// name the same verb and resource Kubernetes would. A request under /api
// or /apis naming a resource is a resource request; anything else
// (/metrics, /v1/tokens, discovery) is a non-resource request whose verb
// is the lower-case HTTP method.
type Attributes struct {
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection for a resource request; get, post, put, patch,
	// delete, ... for a path.
	Verb              string
	IsResourceRequest bool
	// Path is the request's URL path.
	Path string

	APIGroup    string // "" for the core group, "apps", ...
	APIVersion  string
	Namespace   string // "" for cluster-scoped requests
	Resource    string // "pods", "deployments", "nodes", ...
	Subresource string // "log", "exec", "scale", "eviction", ...
	Name        string
}

// RequestAttributes derives a request's Attributes. It follows
// k8s.io/apiserver's RequestInfoFactory: /api/v1/... is the core group,
// /apis/<group>/<version>/... a named one; /namespaces/<ns>/ scopes a
// request; a GET without a name is a list, or a watch with ?watch; a
// DELETE without a name is a deletecollection; a list that selects
// metadata.name names that object. Path segments are unescaped one by one,
// as the mux matches them, so "a%2Fb" is one name, not a subresource.
func RequestAttributes(r *http.Request) Attributes {
	a := Attributes{Path: cleanPath(r.URL.Path), Verb: strings.ToLower(r.Method)}
	parts := splitPath(r.URL)
	if len(parts) < 3 {
		return a // /, /api, /api/v1, /apis/apps: discovery and other paths
	}
	switch parts[0] {
	case "api":
		a.APIVersion, parts = parts[1], parts[2:]
	case "apis":
		if len(parts) < 4 {
			return a // /apis/apps/v1: discovery
		}
		a.APIGroup, a.APIVersion, parts = parts[1], parts[2], parts[3:]
	default:
		return a
	}
	res := a
	res.IsResourceRequest = true
	if parts[0] == "watch" || parts[0] == "proxy" {
		if len(parts) < 2 {
			return a
		}
		res.Verb, parts = parts[0], parts[1:]
	} else {
		res.Verb = resourceVerb(r.Method)
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		res.Namespace = parts[1]
		if len(parts) > 2 && parts[2] != "status" && parts[2] != "finalize" {
			parts = parts[2:]
		}
	}
	if len(parts) > 0 {
		res.Resource = parts[0]
	}
	if len(parts) > 1 {
		res.Name = parts[1]
	}
	if len(parts) > 2 {
		res.Subresource = parts[2]
	}
	if res.Name == "" && res.Verb == VerbGet {
		q := r.URL.Query()
		res.Verb = VerbList
		if isTrue(q["watch"]) {
			res.Verb = VerbWatch
		}
		if sel, err := fields.ParseSelector(q.Get("fieldSelector")); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok && name != "" && !strings.Contains(name, "/") {
				res.Name = name
			}
		}
	}
	if res.Name == "" && res.Verb == VerbDelete {
		res.Verb = VerbDeleteCollection
	}
	if res.Verb == VerbGet && isConnectSubresource(res) && isUpgrade(r) {
		res.Verb = VerbCreate
	}
	return res
}

// isConnectSubresource is true for the subresources that open a session
// into a pod: exec, attach and portforward.
func isConnectSubresource(a Attributes) bool {
	return a.APIGroup == "" && a.Resource == "pods" &&
		(a.Subresource == "exec" || a.Subresource == "attach" || a.Subresource == "portforward")
}

// isUpgrade is true for a request asking for a connection upgrade
// (Connection: Upgrade), as k8s.io/streaming's IsUpgradeRequest reads it.
//
// kubectl ≥ 1.30 opens exec, attach and port-forward with a WebSocket,
// which must be a GET; what it does is still to create a session, and
// Kubernetes (since the AuthorizePodWebsocketUpgradeCreatePermission
// change) authorizes it as create, as it does the SPDY POST, so that a
// role granting only get on pods/exec cannot run commands.
func isUpgrade(r *http.Request) bool {
	for _, h := range r.Header.Values("Connection") {
		if strings.Contains(strings.ToLower(h), "upgrade") {
			return true
		}
	}
	return false
}

// resourceVerb maps an HTTP method to the verb of a resource request.
func resourceVerb(method string) string {
	switch method {
	case http.MethodPost:
		return VerbCreate
	case http.MethodGet, http.MethodHead:
		return VerbGet
	case http.MethodPut:
		return VerbUpdate
	case http.MethodPatch:
		return VerbPatch
	case http.MethodDelete:
		return VerbDelete
	}
	return ""
}

// isTrue reads a boolean query parameter as Kubernetes does: present and
// not "", "0" or "false".
func isTrue(v []string) bool {
	if len(v) == 0 {
		return false
	}
	return v[0] != "" && v[0] != "0" && !strings.EqualFold(v[0], "false")
}

// cleanPath is the path the mux serves: it redirects a request for
// "/v1/tokens/../internal/apply" to the clean path rather than serving it,
// so paths are classified clean, as the mux will see them.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// splitPath splits the escaped path into unescaped segments, dropping
// empty ones.
func splitPath(u *url.URL) []string {
	var out []string
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "" {
			continue
		}
		if s, err := url.PathUnescape(seg); err == nil {
			seg = s
		}
		out = append(out, seg)
	}
	return out
}
