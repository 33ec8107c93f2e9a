package agent

import (
	"net/http"
	"testing"
	"time"

	"github.com/gossipod/gossipod/pki"
)

// TestRoleBindingsThroughTheAgent runs one agent and calls its API as a
// ServiceAccount would (a client certificate naming the same user and
// groups a ServiceAccount token authenticates as): refused before any
// binding, allowed what a RoleBinding of view grants in its namespace and
// nothing more, refused again once the binding is deleted. Admins write
// the bindings; a view certificate may not even read them.
func TestRoleBindingsThroughTheAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	base := "https://" + a.apiListener.Addr().String()
	client := func(cn string, groups ...string) *http.Client {
		c, err := a.tls.ca.Issue(pki.Request{CommonName: cn, Organization: groups, Client: true, TTL: time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tlsClient(t, a, &c.TLS)
	}
	admins := client("admin", pki.AdminGroup)
	viewer := client("viewer", "gossipod:view")
	ci := client("system:serviceaccount:default:ci", "system:serviceaccounts", "system:serviceaccounts:default")
	const rbs = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
	binding := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"ci-view"},` +
		`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},` +
		`"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"default"}]}`
	steps := []struct {
		step         string
		c            *http.Client
		method, path string
		body         string
		want         int
	}{
		{"unbound SA", ci, "GET", "/api/v1/namespaces/default/pods", "", 403},
		{"view may not write a binding", viewer, "POST", rbs, binding, 403},
		{"view may not read bindings", viewer, "GET", rbs, "", 403},
		{"admin binds", admins, "POST", rbs, binding, 201},
		{"bound SA lists pods", ci, "GET", "/api/v1/namespaces/default/pods", "", 200},
		{"bound SA gets its namespace", ci, "GET", "/api/v1/namespaces/default", "", 200},
		{"not another namespace", ci, "GET", "/api/v1/namespaces/kube-system/pods", "", 403},
		{"not the cluster scope", ci, "GET", "/api/v1/nodes", "", 403},
		{"no writes", ci, "POST", "/api/v1/namespaces/default/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, 403},
		{"no escalation", ci, "POST", rbs, binding, 403},
		{"admin unbinds", admins, "DELETE", rbs + "/ci-view", "", 200},
		{"unbound again", ci, "GET", "/api/v1/namespaces/default/pods", "", 403},
	}
	for _, s := range steps {
		var got httpResult
		if s.body != "" {
			got = httpDoBody(t, s.c, s.method, base+s.path, s.body)
		} else {
			got = httpDo(t, s.c, s.method, base+s.path, "")
		}
		if got.code != s.want {
			t.Fatalf("%s: %s %s = %d %s, want %d", s.step, s.method, s.path, got.code, got.body, s.want)
		}
	}
}
