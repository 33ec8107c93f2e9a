package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBindingsApplyAndGet: a RoleBinding and a ClusterRoleBinding applied
// from a manifest as kubectl users write them, then listed through the
// server's Tables with kubectl's columns (-o wide adds the subjects).
func TestBindingsApplyAndGet(t *testing.T) {
	f := newTestServer(t)
	file := filepath.Join(t.TempDir(), "rbac.yaml")
	manifest := `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ci-view
  namespace: default
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: ServiceAccount
  name: ci
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ops-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: Group
  name: ops
  apiGroup: rbac.authorization.k8s.io
- kind: User
  name: alice
  apiGroup: rbac.authorization.k8s.io
`
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apply", "-f", file}, "rolebinding.rbac.authorization.k8s.io/ci-view created\nclusterrolebinding.rbac.authorization.k8s.io/ops-admin created\n"},
		{[]string{"get", "rolebindings", "--no-headers"}, "ci-view   ClusterRole/view   0s\n"},
		{[]string{"get", "clusterrolebinding", "-o", "wide"}, "" +
			"NAME        ROLE                        AGE   USERS   GROUPS   SERVICEACCOUNTS\n" +
			"ops-admin   ClusterRole/cluster-admin   0s    alice   ops      \n"},
		{[]string{"get", "rolebinding.rbac.authorization.k8s.io", "-A", "-o", "name"}, "rolebinding.rbac.authorization.k8s.io/ci-view\n"},
		{[]string{"get", "clusterroles", "-o", "name"}, "" +
			"clusterrole.rbac.authorization.k8s.io/admin\nclusterrole.rbac.authorization.k8s.io/cluster-admin\n" +
			"clusterrole.rbac.authorization.k8s.io/edit\nclusterrole.rbac.authorization.k8s.io/view\n"},
		{[]string{"apply", "-f", file}, "rolebinding.rbac.authorization.k8s.io/ci-view unchanged\nclusterrolebinding.rbac.authorization.k8s.io/ops-admin unchanged\n"},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != tt.want {
			t.Errorf("%q:\n%s(stderr %q, err %v)\nwant:\n%s", tt.args, out, errOut, err, tt.want)
		}
	}

	// A changed subject list is configured; a changed roleRef is the
	// server's refusal.
	changed := strings.Replace(manifest, "  name: ci\n", "  name: deployer\n", 1)
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := f.run("", "apply", "-f", file); err != nil ||
		out != "rolebinding.rbac.authorization.k8s.io/ci-view configured\nclusterrolebinding.rbac.authorization.k8s.io/ops-admin unchanged\n" {
		t.Errorf("apply of new subjects: %q %q %v", out, errOut, err)
	}
	if rb, ok := f.store.State().RoleBinding("default", "ci-view"); !ok || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "deployer" {
		t.Errorf("stored %+v", rb)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(changed, "name: view", "name: edit", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := f.run("", "apply", "-f", file); err == nil || !strings.Contains(errOut, "cannot change roleRef") {
		t.Errorf("apply of a new roleRef: %q %v, want cannot change roleRef", errOut, err)
	}
}

// TestCreateBindings: kubectl create rolebinding and clusterrolebinding,
// with kubectl's flags and refusals.
func TestCreateBindings(t *testing.T) {
	f := newTestServer(t)
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"create", "rolebinding", "ci", "--clusterrole=view", "--serviceaccount=default:ci", "--user=alice", "--group=devs"},
			"rolebinding.rbac.authorization.k8s.io/ci created\n", ""},
		{[]string{"create", "clusterrolebinding", "ops", "--clusterrole=cluster-admin", "--group=ops", "-o", "name"},
			"clusterrolebinding.rbac.authorization.k8s.io/ops\n", ""},
		{[]string{"get", "rolebinding", "ci", "-o", "wide", "--no-headers"}, "ci   ClusterRole/view   0s   alice   devs   default/ci\n", ""},
		{[]string{"create", "rolebinding", "x", "--serviceaccount=ci"}, "", "exactly one of clusterrole or role must be specified"},
		{[]string{"create", "rolebinding", "x", "--clusterrole=view", "--serviceaccount=ci"}, "", "serviceaccount must be <namespace>:<name>"},
		{[]string{"create", "rolebinding", "x", "--clusterrole=pod-reader", "--user=u"}, "",
			`roleRef.name: Unsupported value: "pod-reader": supported values: "admin", "cluster-admin", "edit", "view"`},
		{[]string{"create", "rolebinding", "x", "--role=reader", "--user=u"}, "", `roleRef.kind: Invalid value: "Role": gossipod has no Roles`},
		{[]string{"create", "clusterrolebinding", "y", "--user=u"}, "", `"clusterrole"`},
		{[]string{"create", "rolebinding", "dry", "--clusterrole=edit", "--user=a,b", "--dry-run=client", "-o", "name"},
			"rolebinding.rbac.authorization.k8s.io/dry\n", ""},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if tt.wantErr == "" && (err != nil || out != tt.want) {
			t.Errorf("%q:\n%q (stderr %q, err %v)\nwant:\n%q", tt.args, out, errOut, err, tt.want)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(errOut+err.Error(), tt.wantErr)) {
			t.Errorf("%q: stderr %q, err %v; want an error with %q", tt.args, errOut, err, tt.wantErr)
		}
	}
	if rb, ok := f.store.State().RoleBinding("default", "ci"); !ok || len(rb.Subjects) != 3 {
		t.Errorf("stored %+v", rb)
	}
	if _, ok := f.store.State().RoleBinding("default", "dry"); ok {
		t.Error("a client dry run created its RoleBinding")
	}
	// A value is taken whole, commas included, as kubectl's string arrays.
	if out, _, err := f.run("", "create", "rolebinding", "dry", "--clusterrole=edit", "--user=a,b", "--dry-run=client", "-o", "json"); err != nil ||
		!strings.Contains(out, `"name": "a,b"`) {
		t.Errorf("dry run -o json: %v\n%s", err, out)
	}

	// describe, in kubectl's RBAC describers' layout.
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"describe", "rolebinding", "ci"}, []string{"" +
			"Role:\n" +
			"  Kind:  ClusterRole\n" +
			"  Name:  view\n" +
			"Subjects:\n" +
			"  Kind            Name   Namespace\n" +
			"  ----            ----   ---------\n" +
			"  User            alice  \n" +
			"  Group           devs   \n" +
			"  ServiceAccount  ci     default\n"}},
		{[]string{"describe", "clusterrolebinding", "ops"}, []string{"Name:         ops\n", "  Name:  cluster-admin\n", "  Group  ops"}},
		{[]string{"describe", "clusterrole", "edit"}, []string{
			"Labels:       kubernetes.io/bootstrapping=rbac-defaults\n",
			"  Resources                        Non-Resource URLs    Resource Names  Verbs\n",
			"  pods/exec                        []                   []              [*]\n",
			"  deployments.apps/scale           []                   []              [get list watch create update patch delete deletecollection]\n",
			"                                   [/metrics]           []              [get]\n"}},
	} {
		out, errOut, err := f.run("", tt.args...)
		for _, w := range tt.want {
			if err != nil || !strings.Contains(out, w) {
				t.Errorf("%q: err %v %s, output lacks %q:\n%s", tt.args, err, errOut, w, out)
			}
		}
	}
}
