package api

import (
	"strings"
	"testing"
)

// roleBinding is a valid RoleBinding of view in ns "team-a" to one
// ServiceAccount, changed by mod.
func roleBinding(mod func(*RoleBinding)) *RoleBinding {
	rb := &RoleBinding{
		ObjectMeta: ObjectMeta{Name: "ci:view", Namespace: "team-a"},
		RoleRef:    RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects:   []Subject{{Kind: "ServiceAccount", Name: "ci"}},
	}
	if mod != nil {
		mod(rb)
	}
	SetRoleBindingDefaults(rb)
	return rb
}

// TestValidateRoleBinding: kube-apiserver's refusals of a RoleBinding, in
// its words, and gossipod's own (no Roles, only the built-in ClusterRoles).
func TestValidateRoleBinding(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*RoleBinding)
		want []string // "" = valid
	}{
		{"valid, defaults filled", nil, nil},
		{"user and group subjects", func(rb *RoleBinding) {
			rb.Subjects = append(rb.Subjects, Subject{Kind: "User", Name: "alice@example.com"}, Subject{Kind: "Group", Name: "devs"})
		}, nil},
		{"cluster-admin is admin", func(rb *RoleBinding) { rb.RoleRef.Name = "cluster-admin" }, nil},
		{"no name", func(rb *RoleBinding) { rb.Name = "" }, []string{"metadata.name: Required value"}},
		{"name with a slash", func(rb *RoleBinding) { rb.Name = "a/b" }, []string{`metadata.name: Invalid value: "a/b": may not contain '/'`}},
		{"unknown ClusterRole", func(rb *RoleBinding) { rb.RoleRef.Name = "pod-reader" },
			[]string{`RoleBinding.rbac.authorization.k8s.io "ci:view" is invalid: roleRef.name: Unsupported value: "pod-reader": supported values: "admin", "cluster-admin", "edit", "view"`}},
		{"a Role", func(rb *RoleBinding) { rb.RoleRef.Kind = "Role" },
			[]string{`roleRef.kind: Invalid value: "Role": gossipod has no Roles: bind one of the built-in ClusterRoles`}},
		{"unknown roleRef kind", func(rb *RoleBinding) { rb.RoleRef.Kind = "Thing" },
			[]string{`roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"`}},
		{"roleRef in another group", func(rb *RoleBinding) { rb.RoleRef.APIGroup = "example.com" },
			[]string{`roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"`}},
		{"no roleRef name", func(rb *RoleBinding) { rb.RoleRef.Name = "" }, []string{"roleRef.name: Required value"}},
		{"subject without a name", func(rb *RoleBinding) { rb.Subjects[0].Name = "" }, []string{"subjects[0].name: Required value"}},
		{"ServiceAccount with an apiGroup", func(rb *RoleBinding) { rb.Subjects[0].APIGroup = RBACGroup },
			[]string{`subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""`}},
		{"ServiceAccount with a bad name", func(rb *RoleBinding) { rb.Subjects[0].Name = "CI" },
			[]string{`subjects[0].name: Invalid value: "CI": a lowercase RFC 1123 subdomain`}},
		{"User in the core group", func(rb *RoleBinding) { rb.Subjects = []Subject{{Kind: "User", Name: "u", APIGroup: "v1"}} },
			[]string{`subjects[0].apiGroup: Unsupported value: "v1": supported values: "rbac.authorization.k8s.io"`}},
		{"unknown subject kind", func(rb *RoleBinding) { rb.Subjects = []Subject{{Kind: "Robot", Name: "r"}} },
			[]string{`subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRoleBinding(roleBinding(tt.mod))
			checkErr(t, err, tt.want)
		})
	}
}

// TestValidateClusterRoleBinding: cluster-scoped, a ClusterRole only, and
// a ServiceAccount subject must say its namespace.
func TestValidateClusterRoleBinding(t *testing.T) {
	base := func(mod func(*ClusterRoleBinding)) *ClusterRoleBinding {
		crb := &ClusterRoleBinding{
			ObjectMeta: ObjectMeta{Name: "ops"},
			RoleRef:    RoleRef{Kind: "ClusterRole", Name: "edit"},
			Subjects:   []Subject{{Kind: "ServiceAccount", Name: "deployer", Namespace: "ci"}, {Kind: "Group", Name: "ops"}},
		}
		if mod != nil {
			mod(crb)
		}
		SetClusterRoleBindingDefaults(crb)
		return crb
	}
	tests := []struct {
		name string
		mod  func(*ClusterRoleBinding)
		want []string
	}{
		{"valid", nil, nil},
		{"a namespace", func(c *ClusterRoleBinding) { c.Namespace = "default" }, []string{"metadata.namespace: Forbidden: not allowed on this type"}},
		{"a Role", func(c *ClusterRoleBinding) { c.RoleRef.Kind = "Role" },
			[]string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`}},
		{"ServiceAccount without a namespace", func(c *ClusterRoleBinding) { c.Subjects[0].Namespace = "" },
			[]string{"subjects[0].namespace: Required value"}},
		{"unknown ClusterRole", func(c *ClusterRoleBinding) { c.RoleRef.Name = "system:auth-delegator" },
			[]string{`roleRef.name: Unsupported value: "system:auth-delegator"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateClusterRoleBinding(base(tt.mod)), tt.want)
		})
	}
}

// TestValidateBindingUpdate: roleRef is immutable; subjects and labels
// may change.
func TestValidateBindingUpdate(t *testing.T) {
	old := roleBinding(nil)
	subjects := roleBinding(func(rb *RoleBinding) { rb.Subjects = append(rb.Subjects, Subject{Kind: "User", Name: "bob"}) })
	checkErr(t, ValidateRoleBindingUpdate(old, subjects), nil)
	role := roleBinding(func(rb *RoleBinding) { rb.RoleRef.Name = "edit" })
	checkErr(t, ValidateRoleBindingUpdate(old, role), []string{"roleRef: Invalid value: ", "cannot change roleRef"})
	moved := roleBinding(func(rb *RoleBinding) { rb.Namespace = "team-b" })
	checkErr(t, ValidateRoleBindingUpdate(old, moved), []string{"metadata.namespace: Invalid value: \"team-b\": field is immutable"})

	oldC := &ClusterRoleBinding{ObjectMeta: ObjectMeta{Name: "x"}, RoleRef: RoleRef{Kind: "ClusterRole", Name: "view"}}
	SetClusterRoleBindingDefaults(oldC)
	newC := oldC.DeepCopy()
	newC.RoleRef.Name = "admin"
	checkErr(t, ValidateClusterRoleBindingUpdate(oldC, newC), []string{`ClusterRoleBinding.rbac.authorization.k8s.io "x" is invalid: roleRef: Invalid value:`, "cannot change roleRef"})
}

// TestSubjectKeyOf: a ServiceAccount is matched as its user, in the
// binding's namespace when it names none.
func TestSubjectKeyOf(t *testing.T) {
	tests := []struct {
		s      Subject
		ns     string
		want   SubjectKey
		wantOK bool
	}{
		{Subject{Kind: "ServiceAccount", Name: "ci"}, "team-a", SubjectKey{"User", "system:serviceaccount:team-a:ci"}, true},
		{Subject{Kind: "ServiceAccount", Name: "ci", Namespace: "b"}, "team-a", SubjectKey{"User", "system:serviceaccount:b:ci"}, true},
		{Subject{Kind: "ServiceAccount", Name: "ci"}, "", SubjectKey{}, false},
		{Subject{Kind: "User", Name: "alice"}, "", SubjectKey{"User", "alice"}, true},
		{Subject{Kind: "Group", Name: "system:serviceaccounts"}, "x", SubjectKey{"Group", "system:serviceaccounts"}, true},
		{Subject{Kind: "Robot", Name: "r"}, "x", SubjectKey{}, false},
	}
	for _, tt := range tests {
		got, ok := SubjectKeyOf(tt.s, tt.ns)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("SubjectKeyOf(%+v, %q) = %v, %v; want %v, %v", tt.s, tt.ns, got, ok, tt.want, tt.wantOK)
		}
	}
}

// checkErr fails unless err is nil for no want, or a message containing
// every want.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}
