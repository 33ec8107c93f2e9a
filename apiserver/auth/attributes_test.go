package auth

import (
	"net/http"
	"testing"
)

func TestRequestAttributes(t *testing.T) {
	res := func(verb, group, ns, resource, sub, name string) Attributes {
		return Attributes{Verb: verb, IsResourceRequest: true, APIGroup: group, Namespace: ns, Resource: resource, Subresource: sub, Name: name}
	}
	path := func(verb string) Attributes { return Attributes{Verb: verb} }
	tests := []struct {
		method, target string
		want           Attributes
	}{
		{"GET", "/api/v1/pods", res("list", "", "", "pods", "", "")},
		{"GET", "/api/v1/pods?watch=1", res("watch", "", "", "pods", "", "")},
		{"GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=5", res("watch", "", "default", "pods", "", "")},
		{"GET", "/api/v1/namespaces/default/pods?watch=false", res("list", "", "default", "pods", "", "")},
		{"GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb", res("list", "", "default", "pods", "", "web")},
		{"POST", "/api/v1/namespaces/default/pods", res("create", "", "default", "pods", "", "")},
		{"GET", "/api/v1/namespaces/default/pods/web", res("get", "", "default", "pods", "", "web")},
		{"HEAD", "/api/v1/namespaces/default/pods/web", res("get", "", "default", "pods", "", "web")},
		{"PUT", "/api/v1/namespaces/default/pods/web", res("update", "", "default", "pods", "", "web")},
		{"PATCH", "/api/v1/namespaces/default/pods/web", res("patch", "", "default", "pods", "", "web")},
		{"DELETE", "/api/v1/namespaces/default/pods/web", res("delete", "", "default", "pods", "", "web")},
		{"DELETE", "/api/v1/namespaces/default/pods", res("deletecollection", "", "default", "pods", "", "")},
		{"GET", "/api/v1/namespaces/default/pods/web/log?follow=true", res("get", "", "default", "pods", "log", "web")},
		{"POST", "/api/v1/namespaces/default/pods/web/exec?command=sh", res("create", "", "default", "pods", "exec", "web")},
		{"GET", "/api/v1/namespaces/default/pods/web/exec?command=sh", res("get", "", "default", "pods", "exec", "web")},
		{"POST", "/api/v1/namespaces/default/pods/web/eviction", res("create", "", "default", "pods", "eviction", "web")},
		// One escaped segment is one name, as the mux reads it.
		{"GET", "/api/v1/namespaces/default/pods/a%2Fexec", res("get", "", "default", "pods", "", "a/exec")},
		{"GET", "/apis/apps/v1/deployments", res("list", "apps", "", "deployments", "", "")},
		{"PUT", "/apis/apps/v1/namespaces/prod/deployments/web/scale", res("update", "apps", "prod", "deployments", "scale", "web")},
		{"PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale", res("patch", "apps", "prod", "deployments", "scale", "web")},
		{"GET", "/api/v1/nodes", res("list", "", "", "nodes", "", "")},
		{"PATCH", "/api/v1/nodes/n1", res("patch", "", "", "nodes", "", "n1")},
		{"DELETE", "/api/v1/nodes/n1", res("delete", "", "", "nodes", "", "n1")},
		{"GET", "/api/v1/events", res("list", "", "", "events", "", "")},
		{"GET", "/api/v1/namespaces/default", res("get", "", "default", "namespaces", "", "default")},
		{"PUT", "/api/v1/namespaces/default/status", res("update", "", "default", "namespaces", "status", "default")},
		{"GET", "/api/v1/watch/namespaces/default/pods", res("watch", "", "default", "pods", "", "")},
		// Discovery and gossipod's own paths are not resource requests.
		{"GET", "/api", path("get")},
		{"GET", "/api/v1", path("get")},
		{"GET", "/apis/apps/v1", path("get")},
		{"GET", "/apis", path("get")},
		{"GET", "/apis/apps", path("get")},
		{"GET", "/apis/policy/v1/", path("get")},
		{"GET", "/openapi/v3", path("get")},
		{"GET", "/openapi/v3/api/v1?hash=ABC", path("get")},
		{"GET", "/openapi/v3/apis/apps/v1", path("get")},
		{"GET", "/version", path("get")},
		{"GET", "/metrics", path("get")},
		{"GET", "/healthz", path("get")},
		{"GET", "/v1/agent/members", path("get")},
		{"GET", "/v1/raft/peers", path("get")},
		{"GET", "/v1/images", path("get")},
		{"POST", "/v1/images/load", path("post")},
		{"POST", "/v1/tokens", path("post")},
		{"DELETE", "/v1/tokens/abc123", path("delete")},
		{"POST", "/v1/internal/apply", path("post")},
		{"GET", "/v1/internal/read-index", path("get")},
	}
	for _, tt := range tests {
		r := request(tt.method, tt.target)
		got := RequestAttributes(r)
		want := tt.want
		want.Path = r.URL.Path
		want.APIVersion = got.APIVersion
		if want.IsResourceRequest && got.APIVersion != "v1" {
			t.Errorf("%s %s: apiVersion %q, want v1", tt.method, tt.target, got.APIVersion)
		}
		if got != want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", tt.method, tt.target, got, want)
		}
	}
}

// TestUpgradeGetOnConnectSubresourcesIsCreate: a WebSocket exec, attach
// or port-forward is a GET with Connection: Upgrade, and creates a session
// as the SPDY POST does; Kubernetes authorizes both as create. A GET
// without an upgrade, or on another subresource, stays a get.
func TestUpgradeGetOnConnectSubresourcesIsCreate(t *testing.T) {
	for _, tt := range []struct {
		target, connection, wantVerb string
	}{
		{"/api/v1/namespaces/default/pods/web/exec?command=sh", "Upgrade", "create"},
		{"/api/v1/namespaces/default/pods/web/exec?command=sh", "keep-alive, upgrade", "create"},
		{"/api/v1/namespaces/default/pods/web/attach?stdout=true", "Upgrade", "create"},
		{"/api/v1/namespaces/default/pods/web/portforward?ports=80", "Upgrade", "create"},
		{"/api/v1/namespaces/default/pods/web/exec?command=sh", "", "get"},
		{"/api/v1/namespaces/default/pods/web/log?follow=true", "Upgrade", "get"},
		{"/api/v1/namespaces/default/pods/web", "Upgrade", "get"},
		{"/apis/apps/v1/namespaces/default/deployments/exec", "Upgrade", "get"},
	} {
		r := request(http.MethodGet, tt.target)
		if tt.connection != "" {
			r.Header.Set("Connection", tt.connection)
			r.Header.Set("Upgrade", "websocket")
		}
		if got := RequestAttributes(r).Verb; got != tt.wantVerb {
			t.Errorf("GET %s with Connection %q: verb %q, want %q", tt.target, tt.connection, got, tt.wantVerb)
		}
	}
}

func TestRequestAttributesCleansPaths(t *testing.T) {
	for target, want := range map[string]string{
		"/v1/tokens/../internal/apply": "/v1/internal/apply",
		"/v1//internal/apply":          "/v1/internal/apply",
		"/v1/internal/./apply":         "/v1/internal/apply",
		"/healthz/":                    "/healthz/",
	} {
		r := request(http.MethodPost, "/")
		r.URL.Path = target
		if got := RequestAttributes(r).Path; got != want {
			t.Errorf("%s: path %q, want %q", target, got, want)
		}
	}
}
