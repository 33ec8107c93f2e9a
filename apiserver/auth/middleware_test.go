package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// The least a route needs.
const (
	open          = iota // anyone, no credentials needed
	authenticated        // any valid credentials, whatever the role
	view                 // gossipod:view
	edit                 // gossipod:edit
	admin                // gossipod:admin
	agentOnly            // system:nodes only, not even admin
)

// routes are the agent's routes (agent/http.go and apiserver.Server.Routes), one request per route and
// method, with what they need and whether an agent's identity may call
// them.
var routes = []struct {
	method, target string
	need           int
	agent          bool
}{
	{"GET", "/healthz", open, true},
	{"GET", "/readyz", open, true},
	{"GET", "/version", open, true},
	{"GET", "/version/", open, true},
	{"GET", "/api", authenticated, true},
	{"GET", "/api/v1", authenticated, true},
	{"GET", "/apis", authenticated, true},
	{"GET", "/apis/apps", authenticated, true},
	{"GET", "/apis/apps/v1", authenticated, true},
	{"GET", "/apis/policy/v1", authenticated, true},
	{"GET", "/openapi/v3", authenticated, true},
	{"GET", "/openapi/v3/api/v1?hash=ABC", authenticated, true},
	{"GET", "/openapi/v3/apis/apps/v1", authenticated, true},
	{"GET", "/openapi/v2", authenticated, true},
	{"POST", "/api", admin, false},
	{"PUT", "/openapi/v3", admin, false},
	{"GET", "/metrics", view, true},
	{"GET", "/v1/agent/members", view, true},
	{"GET", "/v1/raft/peers", view, true},
	{"GET", "/api/v1/nodes", view, true},
	{"GET", "/api/v1/nodes?watch=1", view, true},
	{"GET", "/api/v1/nodes/n1", view, true},
	{"PATCH", "/api/v1/nodes/n1", admin, false},
	{"DELETE", "/api/v1/nodes/n1", admin, false},
	{"GET", "/apis/apps/v1/deployments", view, true},
	{"GET", "/apis/apps/v1/namespaces/default/deployments", view, true},
	{"GET", "/apis/apps/v1/namespaces/default/deployments?watch=true", view, true},
	{"POST", "/apis/apps/v1/namespaces/default/deployments", edit, false},
	{"GET", "/apis/apps/v1/namespaces/default/deployments/web", view, true},
	{"PUT", "/apis/apps/v1/namespaces/default/deployments/web", edit, false},
	{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web", edit, false},
	{"DELETE", "/apis/apps/v1/namespaces/default/deployments/web", edit, false},
	{"GET", "/apis/apps/v1/namespaces/default/deployments/web/scale", view, true},
	{"PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", edit, false},
	{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", edit, false},
	{"POST", "/api/v1/namespaces/default/pods/web/eviction", edit, false},
	{"POST", "/api/v1/namespaces/default/serviceaccounts/ci/token", edit, false}, // kubectl create token
	{"GET", "/api/v1/pods", view, true},
	{"GET", "/api/v1/namespaces/default/pods", view, true},
	{"GET", "/api/v1/namespaces/default/pods?watch=1", view, true},
	{"POST", "/api/v1/namespaces/default/pods", edit, false},
	{"GET", "/api/v1/namespaces/default/pods/web", view, true},
	{"PUT", "/api/v1/namespaces/default/pods/web", edit, false},
	{"PATCH", "/api/v1/namespaces/default/pods/web", edit, false},
	{"DELETE", "/api/v1/namespaces/default/pods/web", edit, false},
	{"DELETE", "/api/v1/namespaces/default/pods", edit, false},
	{"GET", "/api/v1/namespaces/default/pods/web/log", view, true},
	{"POST", "/api/v1/namespaces/default/pods/web/exec", edit, true},
	{"GET", "/api/v1/namespaces/default/pods/web/exec", edit, true},
	{"POST", "/api/v1/namespaces/default/pods/web/attach", edit, true},
	{"GET", "/api/v1/namespaces/default/pods/web/attach", edit, true},
	{"POST", "/api/v1/namespaces/default/pods/web/portforward", edit, true},
	{"GET", "/api/v1/namespaces/default/pods/web/portforward", edit, true},
	{"PUT", "/api/v1/namespaces/default/pods/web/status", admin, false},
	{"GET", "/v1/images", view, true},
	{"POST", "/v1/images/load", admin, false},
	{"GET", "/api/v1/events", view, true},
	{"GET", "/api/v1/namespaces/default/events", view, true},
	{"POST", "/v1/tokens", admin, false},
	{"GET", "/v1/tokens", admin, false},
	{"DELETE", "/v1/tokens/abc123", admin, false},
	// Bindings grant privileges: admin's only, as Kubernetes' view and
	// edit do not read them either.
	{"GET", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", admin, true},
	{"GET", "/apis/rbac.authorization.k8s.io/v1/rolebindings", admin, true},
	{"POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", admin, false},
	{"PATCH", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/ci", admin, false},
	{"DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/ci", admin, false},
	{"GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ops", admin, true},
	{"POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", admin, false},
	{"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", admin, true},
	{"GET", "/v1/internal/read-index", agentOnly, true},
	{"POST", "/v1/internal/apply", agentOnly, true},
	{"GET", "/no/such/path", admin, false},
	{"DELETE", "/healthz", admin, false},
}

// TestMiddlewareEveryRoleOnEveryRoute calls every route as every kind of
// caller and checks the answer: the handler (200), 401 or 403.
func TestMiddlewareEveryRoleOnEveryRoute(t *testing.T) {
	const (
		nobody = -1            // no credentials
		none   = authenticated // authenticated, but no role
	)
	callers := []struct {
		identity
		level int
		agent bool
	}{
		{anonymous, nobody, false},
		{tokenIdentity("view01"), view, false},
		{tokenIdentity("edit01"), edit, false},
		{tokenIdentity("admin1"), admin, false},
		{certIdentity("ann", GroupView), view, false},
		{certIdentity("eve", GroupEdit), edit, false},
		{certIdentity("admin", GroupAdmin), admin, false},
		{certIdentity("system:node:n1", GroupNodes), none, true},
		{certIdentity("bob", "acme"), none, false},
		// Impostors: an agent's name without the group, the group without
		// an agent's name.
		{certIdentity("system:node:n1"), none, false},
		{certIdentity("bob", GroupNodes), none, false},
		{certIdentity("system:node:", GroupNodes), none, false},
	}
	tokens := tokenFixtures()
	mw := Middleware(NewAuthenticator(tokens, func() time.Time { return now }), RoleAuthorizer{}, nil)
	for _, c := range callers {
		for _, rt := range routes {
			var seen *User
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, ok := UserFrom(r.Context())
				if !ok {
					t.Errorf("%s %s as %s: no user in the handler's context", rt.method, rt.target, c.name)
				}
				seen = &u
				w.WriteHeader(http.StatusOK)
			}))
			r := request(rt.method, rt.target)
			c.set(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			allowed := rt.need == open ||
				(rt.need != agentOnly && c.level >= rt.need) ||
				(c.agent && rt.agent)
			want := http.StatusOK
			switch {
			case !allowed && c.identity.name == "anonymous":
				want = http.StatusUnauthorized
			case !allowed:
				want = http.StatusForbidden
			}
			if w.Code != want {
				t.Errorf("%s %s as %s: %d %s, want %d", rt.method, rt.target, c.name, w.Code, w.Body, want)
			}
			if want == http.StatusOK && seen == nil {
				t.Errorf("%s %s as %s: handler not called", rt.method, rt.target, c.name)
			}
			if want != http.StatusOK && seen != nil {
				t.Errorf("%s %s as %s: handler called on a refusal", rt.method, rt.target, c.name)
			}
		}
	}
}

// TestMiddlewareRefusalsInKubernetesWords checks whole response bodies
// against what kube-apiserver sends.
func TestMiddlewareRefusalsInKubernetesWords(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string
		who    identity
		code   int
		body   string
	}{
		{"no credentials", "GET", "/api/v1/pods", anonymous, 401,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`},
		{"wrong secret, even on /healthz", "GET", "/healthz",
			identity{"bad", func(r *http.Request) { r.Header.Set("Authorization", "Bearer admin1."+secret("zzz")) }}, 401,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`},
		{"expired token", "GET", "/api/v1/pods", tokenIdentity("expir1"), 401,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`},
		{"view creates a pod", "POST", "/api/v1/namespaces/default/pods", tokenIdentity("abc123"), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"pods is forbidden: User \"gossipod:token:abc123\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\"",` +
				`"reason":"Forbidden","details":{"kind":"pods"},"code":403}`},
		{"edit cordons a node", "PATCH", "/api/v1/nodes/n1", tokenIdentity("edit01"), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"nodes \"n1\" is forbidden: User \"gossipod:token:edit01\" cannot patch resource \"nodes\" in API group \"\" at the cluster scope",` +
				`"reason":"Forbidden","details":{"name":"n1","kind":"nodes"},"code":403}`},
		{"view scales a deployment", "PUT", "/apis/apps/v1/namespaces/prod/deployments/web/scale", certIdentity("ann", GroupView), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"deployments.apps \"web\" is forbidden: User \"ann\" cannot update resource \"deployments/scale\" in API group \"apps\" in the namespace \"prod\"",` +
				`"reason":"Forbidden","details":{"name":"web","group":"apps","kind":"deployments"},"code":403}`},
		{"view execs", "GET", "/api/v1/namespaces/default/pods/web/exec?command=sh", tokenIdentity("view01"), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"pods \"web\" is forbidden: User \"gossipod:token:view01\" cannot get resource \"pods/exec\" in API group \"\" in the namespace \"default\"",` +
				`"reason":"Forbidden","details":{"name":"web","kind":"pods"},"code":403}`},
		{"no role reads /metrics", "GET", "/metrics", certIdentity("bob", "acme"), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"forbidden: User \"bob\" cannot get path \"/metrics\"","reason":"Forbidden","details":{},"code":403}`},
		{"admin posts to the internal write path", "POST", "/v1/internal/apply", certIdentity("admin", GroupAdmin), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"forbidden: User \"admin\" cannot post path \"/v1/internal/apply\"","reason":"Forbidden","details":{},"code":403}`},
		{"edit lists tokens", "GET", "/v1/tokens", tokenIdentity("edit01"), 403,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
				`"message":"forbidden: User \"gossipod:token:edit01\" cannot get path \"/v1/tokens\"","reason":"Forbidden","details":{},"code":403}`},
	}
	mw := Middleware(NewAuthenticator(tokenFixtures(), func() time.Time { return now }), RoleAuthorizer{}, nil)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s %s reached the handler", r.Method, r.URL)
	}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.method, tt.target)
			tt.who.set(r)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.code || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("code %d, content type %q; want %d, application/json", w.Code, w.Header().Get("Content-Type"), tt.code)
			}
			var got, want any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("body\n%s\nwant\n%s", w.Body, tt.body)
			}
		})
	}
}

func TestMiddlewarePassesTheUserToTheHandler(t *testing.T) {
	mw := Middleware(NewAuthenticator(tokenFixtures(), func() time.Time { return now }), RoleAuthorizer{}, nil)
	var got User
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = UserFrom(r.Context()) }))
	r := request("GET", "/api/v1/pods")
	r.Header.Set("Authorization", bearer("edit01"))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got.Name != "gossipod:token:edit01" || !got.InGroup(GroupEdit) {
		t.Errorf("handler saw %+v", got)
	}
	r = request("GET", "/healthz")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !got.IsAnonymous() {
		t.Errorf("handler of an open path saw %+v, want anonymous", got)
	}
	if _, ok := UserFrom(r.Context()); ok {
		t.Error("UserFrom found a user outside the middleware")
	}
}

// TestWebSocketExecNeedsCreate: kubectl's WebSocket exec and
// port-forward are GETs with an upgrade; view is refused them in
// Kubernetes' words for create, and edit may.
func TestWebSocketExecNeedsCreate(t *testing.T) {
	mw := Middleware(NewAuthenticator(tokenFixtures(), func() time.Time { return now }), RoleAuthorizer{}, nil)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSwitchingProtocols) }))
	for _, tt := range []struct {
		who      identity
		sub      string
		wantCode int
		wantMsg  string
	}{
		{tokenIdentity("view01"), "exec?command=sh", http.StatusForbidden,
			`pods "web" is forbidden: User "gossipod:token:view01" cannot create resource "pods/exec" in API group "" in the namespace "default"`},
		{tokenIdentity("view01"), "portforward?ports=80", http.StatusForbidden,
			`pods "web" is forbidden: User "gossipod:token:view01" cannot create resource "pods/portforward" in API group "" in the namespace "default"`},
		{tokenIdentity("edit01"), "exec?command=sh", http.StatusSwitchingProtocols, ""},
		{tokenIdentity("edit01"), "attach?stdout=true", http.StatusSwitchingProtocols, ""},
		{certIdentity("system:node:n1", GroupNodes), "exec?command=sh", http.StatusSwitchingProtocols, ""},
	} {
		r := request(http.MethodGet, "/api/v1/namespaces/default/pods/web/"+tt.sub)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
		tt.who.set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.wantCode {
			t.Errorf("%s as %s: %d %s, want %d", tt.sub, tt.who.name, w.Code, w.Body, tt.wantCode)
			continue
		}
		if tt.wantMsg != "" {
			var st struct{ Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Message != tt.wantMsg {
				t.Errorf("%s as %s: message %q (%v), want %q", tt.sub, tt.who.name, st.Message, err, tt.wantMsg)
			}
		}
	}
}
