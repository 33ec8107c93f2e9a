package auth

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/gossipod/gossipod/api"
)

// ClusterRoles returns gossipod's built-in roles, the ones a binding may
// name (view, edit, admin, cluster-admin), as rbac.authorization.k8s.io/v1
// ClusterRoles whose rules are exactly those the authorizer applies, so
// that `kubectl get clusterroles` and `kubectl describe clusterrole view`
// show what a binding grants. They carry Kubernetes' label of its
// bootstrap roles (kubernetes.io/bootstrapping: rbac-defaults); the caller
// sets their creation time. The result is fresh on each call.
func ClusterRoles() []api.ClusterRole {
	out := make([]api.ClusterRole, 0, len(clusterRoleRules))
	for _, name := range api.ClusterRoleNames {
		cr := api.ClusterRole{
			TypeMeta:   api.TypeMeta{Kind: "ClusterRole", APIVersion: api.RBACAPIVersion},
			ObjectMeta: api.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}},
		}
		for _, r := range clusterRoleRules[name] {
			cr.Rules = append(cr.Rules, r.policyRule())
		}
		out = append(out, cr)
	}
	return out
}

// policyRule is r as an RBAC PolicyRule.
func (r rule) policyRule() rbacv1.PolicyRule {
	if len(r.paths) > 0 {
		return rbacv1.PolicyRule{Verbs: slices.Clone(r.verbs), NonResourceURLs: slices.Clone(r.paths)}
	}
	return rbacv1.PolicyRule{Verbs: slices.Clone(r.verbs), APIGroups: slices.Clone(r.groups), Resources: slices.Clone(r.resources)}
}
