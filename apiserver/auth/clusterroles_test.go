package auth

import (
	"slices"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// TestClusterRolesAreTheRules: the ClusterRoles served are the roles a
// binding may name, and each one's PolicyRules allow exactly what its
// rules allow, read back the way the authorizer reads rules.
func TestClusterRolesAreTheRules(t *testing.T) {
	roles := ClusterRoles()
	var names []string
	for _, cr := range roles {
		names = append(names, cr.Name)
		var back []rule
		for _, pr := range cr.Rules {
			back = append(back, rule{groups: pr.APIGroups, resources: pr.Resources, paths: pr.NonResourceURLs, verbs: pr.Verbs})
		}
		for _, probe := range []Attributes{
			attrs("GET", "/api/v1/namespaces/a/pods"),
			attrs("POST", "/api/v1/namespaces/a/pods"),
			attrs("GET", "/api/v1/namespaces/a/secrets"),
			attrs("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings"),
			attrs("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
			attrs("PATCH", "/api/v1/nodes/n1"),
			attrs("GET", "/metrics"),
			attrs("POST", "/v1/tokens"),
		} {
			if got, want := anyRuleAllows(back, probe), anyRuleAllows(clusterRoleRules[cr.Name], probe); got != want {
				t.Errorf("ClusterRole %s: %s %s allowed %v by its PolicyRules, %v by the authorizer", cr.Name, probe.Verb, probe.Path, got, want)
			}
		}
	}
	if !slices.Equal(names, api.ClusterRoleNames) {
		t.Errorf("ClusterRoles %q, want %q", names, api.ClusterRoleNames)
	}
	// Fresh on each call: a caller may change its copy.
	roles[0].Rules[0].Verbs[0] = "changed"
	if ClusterRoles()[0].Rules[0].Verbs[0] == "changed" {
		t.Error("ClusterRoles shares its rules")
	}
}
