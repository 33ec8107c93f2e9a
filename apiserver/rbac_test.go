package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/consensus"
)

const rbacPrefix = "/apis/rbac.authorization.k8s.io/v1"

// TestRoleBindingVerbs drives every verb of rolebindings and
// clusterrolebindings through the API over the real state machine: the
// refusals are 422s naming the field, and kubectl get's Table is NAME
// ROLE AGE, with USERS GROUPS SERVICEACCOUNTS for -o wide.
func TestRoleBindingVerbs(t *testing.T) {
	_, srv := newTestServer(t)
	rbs := rbacPrefix + "/namespaces/default/rolebindings"
	crbs := rbacPrefix + "/clusterrolebindings"
	rbJSON := func(kind, name, role, subjects string) string {
		return `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"` + kind + `","metadata":{"name":"` + name + `","labels":{"app":"ci"}},` +
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"` + role + `"},"subjects":[` + subjects + `]}`
	}
	sa := `{"kind":"ServiceAccount","name":"ci","namespace":"default"}`
	steps := []struct {
		method, path, contentType, body string
		wantCode                        int
		wantBody                        []string
	}{
		{"POST", rbs, jsonType, rbJSON("RoleBinding", "ci-view", "view", sa), http.StatusCreated,
			[]string{`"kind": "RoleBinding"`, `"namespace": "default"`, `"uid"`}},
		{"GET", rbs + "/ci-view", "", "", http.StatusOK, []string{`"apiVersion": "rbac.authorization.k8s.io/v1"`, `"name": "view"`}},
		{"GET", rbacPrefix + "/rolebindings?labelSelector=app%3Dci", "", "", http.StatusOK, []string{`"kind": "RoleBindingList"`, `"name": "ci-view"`}},
		{"PATCH", rbs + "/ci-view", mergeType, `{"subjects":[{"kind":"User","name":"alice"}]}`, http.StatusOK,
			[]string{`"name": "alice"`, `"apiGroup": "rbac.authorization.k8s.io"`}},
		{"PATCH", rbs + "/ci-view", "application/strategic-merge-patch+json", `{"metadata":{"labels":{"tier":"ci"}},"subjects":[{"kind":"User","name":"alice"},{"kind":"Group","name":"devs"}]}`,
			http.StatusOK, []string{`"tier": "ci"`, `"name": "devs"`}},
		{"PATCH", rbs + "/ci-view", mergeType, `{"roleRef":{"name":"edit"}}`, http.StatusUnprocessableEntity,
			[]string{`RoleBinding.rbac.authorization.k8s.io \"ci-view\" is invalid: roleRef: Invalid value:`, `cannot change roleRef`}},
		{"POST", rbs, jsonType, rbJSON("RoleBinding", "ci-view", "view", sa), http.StatusConflict,
			[]string{`rolebindings.rbac.authorization.k8s.io \"ci-view\" already exists`}},
		{"POST", rbs, jsonType, rbJSON("RoleBinding", "reader", "pod-reader", sa), http.StatusUnprocessableEntity,
			[]string{`roleRef.name: Unsupported value: \"pod-reader\": supported values: \"admin\", \"cluster-admin\", \"edit\", \"view\"`, `"field": "roleRef.name"`}},
		{"POST", rbs, jsonType, strings.Replace(rbJSON("RoleBinding", "role", "x", sa), `"ClusterRole"`, `"Role"`, 1), http.StatusUnprocessableEntity,
			[]string{`roleRef.kind: Invalid value: \"Role\": gossipod has no Roles`}},
		{"POST", rbs, jsonType, rbJSON("RoleBinding", "robot", "view", `{"kind":"Robot","name":"r"}`), http.StatusUnprocessableEntity,
			[]string{`subjects[0].kind: Unsupported value: \"Robot\"`}},
		{"POST", rbs, jsonType, rbJSON("RoleBinding", "typo", "view", `{"kind":"User","name":"u","nmae":"x"}`), http.StatusBadRequest,
			[]string{`subjects[0].nmae: unknown field`}},
		{"POST", crbs, jsonType, rbJSON("ClusterRoleBinding", "ops", "cluster-admin", `{"kind":"Group","name":"ops"},`+sa), http.StatusCreated,
			[]string{`"kind": "ClusterRoleBinding"`}},
		{"POST", crbs, jsonType, rbJSON("ClusterRoleBinding", "bad", "view", `{"kind":"ServiceAccount","name":"ci"}`), http.StatusUnprocessableEntity,
			[]string{`subjects[0].namespace: Required value`}},
		{"GET", crbs + "/ops", "", "", http.StatusOK, []string{`"name": "cluster-admin"`}},
		{"DELETE", crbs + "/ops", "", "", http.StatusOK, []string{`"name": "ops"`}},
		{"GET", crbs + "/ops", "", "", http.StatusNotFound, []string{`clusterrolebindings.rbac.authorization.k8s.io \"ops\" not found`}},
		{"DELETE", rbs + "?labelSelector=app%3Dci", "", "", http.StatusOK, []string{`"name": "ci-view"`}},
		{"GET", rbs + "/ci-view", "", "", http.StatusNotFound, nil},
	}
	for i, s := range steps {
		code, body := do(t, srv, s.method, s.path, s.contentType, s.body)
		if code != s.wantCode {
			t.Fatalf("step %d: %s %s = %d, want %d: %.2000s", i, s.method, s.path, code, s.wantCode, body)
		}
		for _, want := range s.wantBody {
			if !strings.Contains(body, want) {
				t.Fatalf("step %d: %s %s: body lacks %q:\n%.2000s", i, s.method, s.path, want, body)
			}
		}
	}

	// kubectl get's Table, with the -o wide columns.
	subjects := `{"kind":"User","name":"alice"},{"kind":"User","name":"bob"},{"kind":"Group","name":"devs"},` + sa
	for _, c := range []struct{ path, body string }{
		{rbs, rbJSON("RoleBinding", "team", "edit", subjects)},
		{crbs, rbJSON("ClusterRoleBinding", "team", "view", subjects)},
	} {
		if code, body := do(t, srv, "POST", c.path, jsonType, c.body); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		cols, rows := getTable(t, srv, c.path)
		if strings.Join(cols, " ") != "Name Role Age Users Groups ServiceAccounts" {
			t.Errorf("%s: columns %q", c.path, cols)
		}
		role := "ClusterRole/edit"
		if c.path == crbs {
			role = "ClusterRole/view"
		}
		if len(rows) != 1 || rows[0][0] != "team" || rows[0][1] != role || rows[0][3] != "alice, bob" || rows[0][4] != "devs" || rows[0][5] != "default/ci" {
			t.Errorf("%s: rows %v", c.path, rows)
		}
	}
}

// testIdentity is a test's stand-in for the authenticator: the request's
// user is the X-Test-User header, its groups X-Test-Group; the rest is
// auth.Middleware's order (attributes, authorize, 403 in Kubernetes'
// words).
func testIdentity(authz auth.Authorizer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := auth.User{Name: r.Header.Get("X-Test-User"), Groups: append(r.Header.Values("X-Test-Group"), auth.GroupAuthenticated)}
		attrs := auth.RequestAttributes(r)
		if !authz.Authorize(u, attrs) {
			WriteError(w, auth.Forbidden(u, attrs))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestBindingAuthorizesItsSubject: a RoleBinding created through the API
// lets its ServiceAccount read its namespace at once, no more; deleted,
// it lets it do nothing; a ClusterRoleBinding to a group grants everywhere.
func TestBindingAuthorizesItsSubject(t *testing.T) {
	store, admin := newTestServer(t)
	s := New(store, Config{MaxDeploymentReplicas: 100})
	mux := http.NewServeMux()
	Mount(mux, s.Routes()...)
	srv := httptest.NewServer(testIdentity(auth.RoleAuthorizer{Grants: store.State()}, mux))
	t.Cleanup(srv.Close)
	if code, body := do(t, admin, "POST", "/api/v1/namespaces", jsonType, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-b"}}`); code != http.StatusCreated {
		t.Fatalf("namespace: %d %s", code, body)
	}
	as := func(user, method, path string, groups ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("X-Test-User", user)
		for _, g := range groups {
			req.Header.Add("X-Test-Group", g)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Status)
		return resp.StatusCode, b.String()
	}
	ci := "system:serviceaccount:default:ci"
	check := func(step string, user, method, path string, want int, groups ...string) {
		t.Helper()
		if code, status := as(user, method, path, groups...); code != want {
			t.Errorf("%s: %s %s %s = %s, want %d", step, user, method, path, status, want)
		}
	}
	check("before", ci, "GET", "/api/v1/namespaces/default/configmaps", http.StatusForbidden)

	if code, body := do(t, admin, "POST", rbacPrefix+"/namespaces/default/rolebindings", jsonType,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"ci"},`+
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"ServiceAccount","name":"ci"}]}`); code != http.StatusCreated {
		t.Fatalf("rolebinding: %d %s", code, body)
	}
	check("bound", ci, "GET", "/api/v1/namespaces/default/configmaps", http.StatusOK)
	check("bound", ci, "GET", "/api/v1/namespaces/default/pods", http.StatusOK)
	check("bound, other namespace", ci, "GET", "/api/v1/namespaces/team-b/configmaps", http.StatusForbidden)
	check("bound, cluster scope", ci, "GET", "/api/v1/nodes", http.StatusForbidden)
	check("bound, a write", ci, "POST", "/api/v1/namespaces/default/configmaps", http.StatusForbidden)
	check("bound, the bindings", ci, "GET", rbacPrefix+"/namespaces/default/rolebindings", http.StatusForbidden)
	check("other SA", "system:serviceaccount:team-b:ci", "GET", "/api/v1/namespaces/default/configmaps", http.StatusForbidden)

	if code, body := do(t, admin, "DELETE", rbacPrefix+"/namespaces/default/rolebindings/ci", "", ""); code != http.StatusOK {
		t.Fatalf("delete: %d %s", code, body)
	}
	check("after delete", ci, "GET", "/api/v1/namespaces/default/configmaps", http.StatusForbidden)

	if code, body := do(t, admin, "POST", rbacPrefix+"/clusterrolebindings", jsonType,
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"sa-edit"},`+
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},"subjects":[{"kind":"Group","name":"system:serviceaccounts"}]}`); code != http.StatusCreated {
		t.Fatalf("clusterrolebinding: %d %s", code, body)
	}
	check("group bound", ci, "POST", "/api/v1/namespaces/team-b/configmaps", http.StatusCreated, "system:serviceaccounts", "system:serviceaccounts:default")
	check("group bound, not in the group", "alice", "GET", "/api/v1/namespaces/team-b/configmaps", http.StatusForbidden)
}

// BenchmarkAuthorizeWithBindings: the authorizer's cost per request with
// 1,000 RoleBindings and 1,000 ClusterRoleBindings in the real state: a
// ServiceAccount granted view by one RoleBinding among them lists pods
// (allowed), and a user in ten groups none of which is bound is refused
// (the worst case: every lookup misses).
func BenchmarkAuthorizeWithBindings(b *testing.B) {
	store := consensus.NewMemStore()
	ctx := context.Background()
	commit := func(t consensus.CommandType, p any) {
		if _, err := store.CommitPayload(ctx, t, p); err != nil {
			b.Fatal(err)
		}
	}
	commit(consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns"}}})
	for i := range 1000 {
		commit(consensus.CmdCreateRoleBinding, consensus.CreateRoleBinding{RoleBinding: api.RoleBinding{
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("rb-%d", i), Namespace: "default", UID: NewUID()},
			RoleRef:    api.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects:   []api.Subject{{Kind: "ServiceAccount", Name: fmt.Sprintf("sa-%d", i)}, {Kind: "Group", Name: fmt.Sprintf("g-%d", i)}},
		}})
		commit(consensus.CmdCreateClusterRoleBinding, consensus.CreateClusterRoleBinding{ClusterRoleBinding: api.ClusterRoleBinding{
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("crb-%d", i), UID: NewUID()},
			RoleRef:    api.RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subjects:   []api.Subject{{Kind: "User", Name: fmt.Sprintf("user-%d", i)}},
		}})
	}
	z := auth.RoleAuthorizer{Grants: store.State()}
	list := auth.RequestAttributes(httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil))
	sa := auth.User{Name: "system:serviceaccount:default:sa-500", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default", auth.GroupAuthenticated}}
	stranger := auth.User{Name: "stranger", Groups: []string{auth.GroupAuthenticated}}
	for i := range 9 {
		stranger.Groups = append(stranger.Groups, fmt.Sprintf("team-%d", i))
	}
	b.Run("bound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !z.Authorize(sa, list) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if z.Authorize(stranger, list) {
				b.Fatal("allowed")
			}
		}
	})
}

// TestClusterRolesReadOnly: the built-in roles are listed and read as
// ClusterRoles with their rules, with the cluster's age; nothing writes
// them.
func TestClusterRolesReadOnly(t *testing.T) {
	_, srv := newTestServer(t)
	crs := rbacPrefix + "/clusterroles"
	steps := []struct {
		method, path string
		wantCode     int
		wantBody     []string
	}{
		{"GET", crs, http.StatusOK, []string{`"kind": "ClusterRoleList"`, `"name": "admin"`, `"name": "cluster-admin"`, `"name": "edit"`, `"name": "view"`}},
		{"GET", crs + "/view", http.StatusOK, []string{`"kind": "ClusterRole"`, `"pods/log"`, `"nonResourceURLs"`, `"creationTimestamp": "20`}},
		{"GET", crs + "/pod-reader", http.StatusNotFound, []string{`clusterroles.rbac.authorization.k8s.io \"pod-reader\" not found`}},
		{"POST", crs, http.StatusMethodNotAllowed, nil},
		{"DELETE", crs + "/view", http.StatusMethodNotAllowed, nil},
	}
	for i, s := range steps {
		code, body := do(t, srv, s.method, s.path, jsonType, `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"x"}}`)
		if code != s.wantCode {
			t.Fatalf("step %d: %s %s = %d, want %d: %.2000s", i, s.method, s.path, code, s.wantCode, body)
		}
		for _, want := range s.wantBody {
			if !strings.Contains(body, want) {
				t.Fatalf("step %d: %s %s: body lacks %q:\n%.3000s", i, s.method, s.path, want, body)
			}
		}
	}
	cols, rows := getTable(t, srv, crs)
	if strings.Join(cols, " ") != "Name Created At" || len(rows) != 4 || rows[3][0] != "view" {
		t.Errorf("table %q %v, want kubectl's NAME CREATED AT and four roles", cols, rows)
	}
}
