package auth

import (
	"maps"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// memGrants is a GrantGetter over bindings, indexed as the state machine
// indexes them (api.SubjectKeyOf).
type memGrants map[api.SubjectKey][]api.RoleGrant

func (m memGrants) RoleGrants(s api.SubjectKey) []api.RoleGrant { return m[s] }

func (m memGrants) bind(ns, role string, subjects ...api.Subject) memGrants {
	for _, s := range subjects {
		if key, ok := api.SubjectKeyOf(s, ns); ok {
			m[key] = append(m[key], api.RoleGrant{Namespace: ns, Role: role})
		}
	}
	return m
}

// saUser is the identity a ServiceAccount's token authenticates as, as
// Kubernetes (and the lead's authenticator) make it.
func saUser(ns, name string) User {
	return User{Name: api.ServiceAccountUsername(ns, name), Groups: []string{
		"system:serviceaccounts", "system:serviceaccounts:" + ns, GroupAuthenticated}}
}

func attrs(method, target string) Attributes {
	return RequestAttributes(httptest.NewRequest(method, target, nil))
}

// TestBindingsGrantRoles: what RoleBindings and ClusterRoleBindings grant,
// as Kubernetes' RBAC authorizer grants it.
func TestBindingsGrantRoles(t *testing.T) {
	sa := func(name string) api.Subject { return api.Subject{Kind: "ServiceAccount", Name: name} }
	grants := memGrants{}.
		// ci in team-a may view team-a.
		bind("team-a", "view", sa("ci")).
		// deployer in team-a may edit team-a, and team-b through a
		// ServiceAccount subject that names its namespace.
		bind("team-a", "edit", sa("deployer")).
		bind("team-b", "edit", api.Subject{Kind: "ServiceAccount", Name: "deployer", Namespace: "team-a"}).
		// every ServiceAccount of team-c may view team-c (a group).
		bind("team-c", "view", api.Subject{Kind: "Group", Name: "system:serviceaccounts:team-c"}).
		// the user alice views everything; the ops group is admin.
		bind("", "view", api.Subject{Kind: "User", Name: "alice"}).
		bind("", "cluster-admin", api.Subject{Kind: "Group", Name: "ops"}).
		// a namespace admin.
		bind("team-d", "admin", sa("owner"))
	z := RoleAuthorizer{Grants: grants}
	alice := User{Name: "alice", Groups: []string{GroupAuthenticated}}
	opsUser := User{Name: "bob", Groups: []string{"ops", GroupAuthenticated}}
	tests := []struct {
		name           string
		u              User
		method, target string
		want           bool
	}{
		{"view binding: list pods in its namespace", saUser("team-a", "ci"), "GET", "/api/v1/namespaces/team-a/pods", true},
		{"view binding: get a pod's log", saUser("team-a", "ci"), "GET", "/api/v1/namespaces/team-a/pods/web/log", true},
		{"view binding: watch deployments", saUser("team-a", "ci"), "GET", "/apis/apps/v1/namespaces/team-a/deployments?watch=1", true},
		{"view binding: get its own namespace", saUser("team-a", "ci"), "GET", "/api/v1/namespaces/team-a", true},
		{"view binding: not in another namespace", saUser("team-a", "ci"), "GET", "/api/v1/namespaces/team-b/pods", false},
		{"view binding: not across namespaces", saUser("team-a", "ci"), "GET", "/api/v1/pods", false},
		{"view binding: no create", saUser("team-a", "ci"), "POST", "/api/v1/namespaces/team-a/pods", false},
		{"view binding: no exec", saUser("team-a", "ci"), "POST", "/api/v1/namespaces/team-a/pods/web/exec", false},
		{"view binding: no secrets (not in view)", saUser("team-a", "ci"), "GET", "/api/v1/namespaces/team-a/secrets", false},
		{"view binding: no nodes (cluster-scoped)", saUser("team-a", "ci"), "GET", "/api/v1/nodes", false},
		{"view binding: no namespace list", saUser("team-a", "ci"), "GET", "/api/v1/namespaces", false},
		{"view binding: no paths", saUser("team-a", "ci"), "GET", "/metrics", false},
		{"view binding: discovery as any authenticated user", saUser("team-a", "ci"), "GET", "/apis/apps/v1", true},
		{"same SA name, other namespace", saUser("team-b", "ci"), "GET", "/api/v1/namespaces/team-a/pods", false},
		{"edit binding: create pods", saUser("team-a", "deployer"), "POST", "/api/v1/namespaces/team-a/pods", true},
		{"edit binding: scale a deployment", saUser("team-a", "deployer"), "PATCH", "/apis/apps/v1/namespaces/team-a/deployments/web/scale", true},
		{"edit binding: SA named with its namespace", saUser("team-a", "deployer"), "DELETE", "/api/v1/namespaces/team-b/pods/web", true},
		{"edit binding: not a third namespace", saUser("team-a", "deployer"), "POST", "/api/v1/namespaces/team-c/pods", false},
		{"edit binding: no bindings", saUser("team-a", "deployer"), "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", false},
		{"edit binding: no node writes", saUser("team-a", "deployer"), "PATCH", "/api/v1/nodes/n1", false},
		{"group subject: any SA of the namespace", saUser("team-c", "anything"), "GET", "/api/v1/namespaces/team-c/services", true},
		{"group subject: not another namespace's SA", saUser("team-a", "anything"), "GET", "/api/v1/namespaces/team-c/services", false},
		{"cluster binding: view everywhere", alice, "GET", "/api/v1/pods", true},
		{"cluster binding: view nodes", alice, "GET", "/api/v1/nodes/n1", true},
		{"cluster binding: view's paths", alice, "GET", "/metrics", true},
		{"cluster binding: view writes nothing", alice, "POST", "/api/v1/namespaces/default/pods", false},
		{"cluster-admin: nodes", opsUser, "DELETE", "/api/v1/nodes/n1", true},
		{"cluster-admin: bindings", opsUser, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", true},
		{"cluster-admin: tokens", opsUser, "POST", "/v1/tokens", true},
		{"cluster-admin: never the internal paths", opsUser, "POST", "/v1/internal/apply", false},
		{"namespace admin: bindings in its namespace", saUser("team-d", "owner"), "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-d/rolebindings", true},
		{"namespace admin: no cluster bindings", saUser("team-d", "owner"), "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", false},
		{"namespace admin: no tokens", saUser("team-d", "owner"), "POST", "/v1/tokens", false},
		{"no binding", saUser("team-z", "x"), "GET", "/api/v1/namespaces/team-z/pods", false},
		{"role groups still work", User{Name: "t", Groups: []string{GroupEdit, GroupAuthenticated}}, "POST", "/api/v1/namespaces/x/pods", true},
		{"anonymous gets no binding", User{Name: Anonymous, Groups: []string{GroupUnauthenticated, "ops"}}, "GET", "/api/v1/pods", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := attrs(tt.method, tt.target)
			if got := z.Authorize(tt.u, a); got != tt.want {
				t.Errorf("Authorize(%s, %s %s) = %v, want %v (attributes %+v)", tt.u.Name, tt.method, tt.target, got, tt.want, a)
			}
		})
	}
	// Without a GrantGetter, bindings grant nothing.
	if (RoleAuthorizer{}).Authorize(alice, attrs("GET", "/api/v1/pods")) {
		t.Error("RoleAuthorizer{} granted a binding's role")
	}
}

// TestEveryClusterRoleHasRules: every role a binding may name (the api
// package's list, which validation enforces) has its rules here.
func TestEveryClusterRoleHasRules(t *testing.T) {
	names := slices.Sorted(maps.Keys(clusterRoleRules))
	if !slices.Equal(names, api.ClusterRoleNames) {
		t.Errorf("roles %q, api lists %q", names, api.ClusterRoleNames)
	}
}

// TestServiceAccountUsersAgree: the user a ServiceAccount token
// authenticates as is the one the state machine indexes a ServiceAccount
// subject under (api.SubjectKeyOf), so bindings to it match.
func TestServiceAccountUsersAgree(t *testing.T) {
	key, ok := api.SubjectKeyOf(api.Subject{Kind: "ServiceAccount", Name: "ci", Namespace: "team-a"}, "")
	if !ok || key.Kind != "User" || key.Name != ServiceAccountUser("team-a", "ci") || api.ServiceAccountUsername("team-a", "ci") != ServiceAccountUser("team-a", "ci") {
		t.Errorf("subject key %v, token user %q", key, ServiceAccountUser("team-a", "ci"))
	}
	if saUser("team-a", "ci").Groups[1] != GroupServiceAccountsPrefix+"team-a" || saUser("team-a", "ci").Groups[0] != GroupServiceAccounts {
		t.Errorf("test identity %v is not what tokens carry", saUser("team-a", "ci"))
	}
}
