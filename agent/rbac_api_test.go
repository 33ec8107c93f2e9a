package agent

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
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
	// The leader makes the default namespace and its ServiceAccount
	// after its election.
	var sa *api.ServiceAccount
	eventually(t, 30*time.Second, func() error {
		var ok bool
		if sa, ok = a.store.State().ServiceAccount("default", "default"); !ok {
			return errors.New("no default ServiceAccount yet")
		}
		return nil
	})
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

	// A real ServiceAccount token (a JWT the agent issues, as for a pod's
	// projected token) authenticates as the ServiceAccount's user and
	// groups; a RoleBinding to the group of its namespace's
	// ServiceAccounts grants it view there.
	token, _, err := a.saTokens.Issue(auth.TokenRequest{ServiceAccount: sa, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	anyone := tlsClient(t, a, nil)
	groupBinding := `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"sas-view"},` +
		`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},` +
		`"subjects":[{"kind":"Group","name":"system:serviceaccounts:default","apiGroup":"rbac.authorization.k8s.io"}]}`
	if got := httpDo(t, anyone, "GET", base+"/api/v1/namespaces/default/pods", token); got.code != 403 ||
		!strings.Contains(got.body, `User \"system:serviceaccount:default:default\" cannot list resource \"pods\"`) {
		t.Fatalf("unbound token: %d %s", got.code, got.body)
	}
	if got := httpDoBody(t, admins, "POST", base+rbs, groupBinding); got.code != 201 {
		t.Fatalf("group binding: %d %s", got.code, got.body)
	}
	if got := httpDo(t, anyone, "GET", base+"/api/v1/namespaces/default/pods", token); got.code != 200 {
		t.Errorf("token bound through its group: %d %s", got.code, got.body)
	}
	if got := httpDo(t, anyone, "DELETE", base+"/api/v1/namespaces/default/pods/x", token); got.code != 403 {
		t.Errorf("token bound view deletes: %d %s", got.code, got.body)
	}
}

// TestKubectlRBAC runs real kubectl's commands (built in) against one
// agent: create rolebinding and clusterrolebinding, apply of a binding
// manifest, get with kubectl's columns, describe of a binding and of a
// built-in ClusterRole; then kubectl as the bound ServiceAccount lists
// pods in its namespace and is refused elsewhere, in Kubernetes' words.
func TestKubectlRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	admin := writeKubeconfig(t, restConfig(t, agents[0], "admin", pki.AdminGroup))
	sa := writeKubeconfig(t, restConfig(t, agents[0], "system:serviceaccount:default:ci", "system:serviceaccounts", "system:serviceaccounts:default"))
	cacheDir := t.TempDir()
	kubectl := func(kubeconfig string, args ...string) (string, error) {
		t.Helper()
		return runKubectl(kubeconfig, cacheDir, args...)
	}
	// The Group subject says its apiGroup: without it the server
	// defaults it and kubectl apply says "configured" every time, as
	// against kube-apiserver.
	manifest := filepath.Join(t.TempDir(), "rb.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployers
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: edit
subjects:
- kind: Group
  name: deployers
  apiGroup: rbac.authorization.k8s.io
`), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		kubeconfig string
		args       []string
		want       []string // substrings of the output; an error is a failure unless wantErr
		wantErr    bool
	}{
		{sa, []string{"get", "pods"}, []string{`pods is forbidden: User "system:serviceaccount:default:ci" cannot list resource "pods" in API group "" in the namespace "default"`}, true},
		{admin, []string{"create", "rolebinding", "ci-view", "--clusterrole=view", "--serviceaccount=default:ci"}, []string{"rolebinding.rbac.authorization.k8s.io/ci-view created"}, false},
		{admin, []string{"create", "clusterrolebinding", "ops", "--clusterrole=cluster-admin", "--group=ops", "--user=alice"}, []string{"clusterrolebinding.rbac.authorization.k8s.io/ops created"}, false},
		{admin, []string{"create", "rolebinding", "bad", "--clusterrole=pod-reader", "--user=u"}, []string{`roleRef.name: Unsupported value: "pod-reader"`}, true},
		{admin, []string{"apply", "-f", manifest}, []string{"rolebinding.rbac.authorization.k8s.io/deployers created"}, false},
		{admin, []string{"apply", "-f", manifest}, []string{"rolebinding.rbac.authorization.k8s.io/deployers unchanged"}, false},
		{admin, []string{"get", "rolebindings", "-o", "wide"}, []string{"NAME", "ROLE", "SERVICEACCOUNTS", "ClusterRole/view", "default/ci", "ClusterRole/edit"}, false},
		{admin, []string{"get", "clusterrolebindings"}, []string{"ops", "ClusterRole/cluster-admin"}, false},
		{admin, []string{"describe", "rolebinding", "ci-view"}, []string{"Role:", "Kind:  ClusterRole", "Name:  view", "ServiceAccount  ci"}, false},
		{admin, []string{"get", "clusterroles"}, []string{"cluster-admin", "view"}, false},
		{admin, []string{"describe", "clusterrole", "view"}, []string{"pods/log", "[get list watch]"}, false},
		{sa, []string{"get", "pods"}, []string{"No resources found in default namespace."}, false},
		{sa, []string{"get", "pods", "-n", "kube-system"}, []string{`cannot list resource "pods" in API group "" in the namespace "kube-system"`}, true},
		{sa, []string{"get", "nodes"}, []string{`cannot list resource "nodes" in API group "" at the cluster scope`}, true},
		{sa, []string{"get", "rolebindings"}, []string{`cannot list resource "rolebindings" in API group "rbac.authorization.k8s.io"`}, true},
		{admin, []string{"delete", "rolebinding", "ci-view"}, []string{`rolebinding.rbac.authorization.k8s.io "ci-view" deleted`}, false},
		{sa, []string{"get", "pods"}, []string{"pods is forbidden"}, true},
	}
	for _, s := range steps {
		out, err := kubectl(s.kubeconfig, s.args...)
		if err != nil {
			out += err.Error()
		}
		if (err != nil) != s.wantErr {
			t.Errorf("kubectl %q: err %v, want error %v\n%s", s.args, err, s.wantErr, out)
			continue
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("kubectl %q: output lacks %q:\n%s", s.args, w, out)
			}
		}
	}
}
