package auth

import (
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/gossipod/gossipod/api"
)

// Authorizer decides whether a user may do what a request does. It must
// be safe for concurrent use and must not block: it runs on every request.
type Authorizer interface {
	Authorize(u User, a Attributes) bool
}

// RoleAuthorizer is gossipod's fixed set of roles, written as RBAC rules
// so they compare line by line with Kubernetes' view, edit and admin
// ClusterRoles:
//
//   - the open paths (/healthz, /readyz, /livez, /version) to anyone,
//     credentials or not, so load balancers and probes need none
//     (Kubernetes' system:public-info-viewer);
//   - discovery and OpenAPI (/api, /apis, /openapi and what is under
//     them) to every authenticated identity, whatever its role, as
//     Kubernetes' system:discovery grants them to system:authenticated:
//     a client cannot even tell a refusal of its role from a missing
//     resource without them;
//   - the internal agent-to-agent endpoints (/v1/internal/...) to agents
//     only, not even to admins: they commit raw FSM commands;
//   - view (gossipod:view): get, list and watch the objects, pod logs,
//     discovery, /metrics, members, raft peers and images;
//   - edit (gossipod:edit): view, and writing workloads, exec, attach and
//     port-forward, the scale subresources, evictions;
//   - admin (gossipod:admin): everything else too: node writes (cordon,
//     drain, delete), image loads, tokens;
//   - agents (system:nodes, named system:node:<name>): the internal
//     endpoints, reads, and pods' log and exec, which an agent proxies
//     for a user already authorized by the agent that took the request.
//
// The same rule sets are the built-in ClusterRoles view, edit and admin
// (and cluster-admin, which is admin) that RoleBindings and
// ClusterRoleBindings grant, as Kubernetes' RBAC authorizer reads them: a
// binding whose subject is the user (by name; a ServiceAccount as
// system:serviceaccount:<ns>:<name>) or one of its groups grants its
// role's rules; a ClusterRoleBinding's everywhere, a RoleBinding's only to
// resource requests in its namespace (never cluster-scoped resources or
// paths). Bindings are read through Grants; anonymous requests get none.
//
// Resources are listed, not matched by wildcard, below admin: a kind added
// later is refused to view and edit until it is added here, as in RBAC.
// The rbac.authorization.k8s.io resources are admin's only: writing a
// binding grants privileges, and Kubernetes' view and edit do not read
// bindings either.
type RoleAuthorizer struct {
	// Grants finds the bindings' grants to a subject; nil means no
	// bindings (the role groups alone decide).
	Grants GrantGetter
}

// GrantGetter finds what the RoleBindings and ClusterRoleBindings grant a
// subject: a User (a ServiceAccount is its user,
// system:serviceaccount:<ns>:<name>) or a Group. The agent passes its
// replicated state, so a binding takes effect on each agent when that
// agent applies it. It runs for the user and each of its groups on every
// request: it must be safe for concurrent use, must not block, and should
// not allocate (consensus.State reads an index it publishes atomically).
type GrantGetter interface {
	RoleGrants(subject api.SubjectKey) []api.RoleGrant
}

// Authorize implements Authorizer.
func (r RoleAuthorizer) Authorize(u User, a Attributes) bool {
	if !a.IsResourceRequest && isInternalPath(a.Path) {
		return u.IsNode() && anyRuleAllows(nodeRules, a)
	}
	if !a.IsResourceRequest && matchPath(openPaths, a.Path) && slices.Contains(openVerbs, a.Verb) {
		return true
	}
	if u.IsAnonymous() {
		return false
	}
	if u.IsNode() && anyRuleAllows(nodeRules, a) {
		return true
	}
	for _, g := range u.Groups {
		if rules, ok := roleRules[g]; ok && anyRuleAllows(rules, a) {
			return true
		}
	}
	return r.Grants != nil && r.bindingsAllow(u, a)
}

// bindingsAllow reports whether a binding to u, or to one of its groups,
// grants what a does.
func (r RoleAuthorizer) bindingsAllow(u User, a Attributes) bool {
	if grantsAllow(r.Grants.RoleGrants(api.SubjectKey{Kind: rbacv1.UserKind, Name: u.Name}), a) {
		return true
	}
	for _, g := range u.Groups {
		if grantsAllow(r.Grants.RoleGrants(api.SubjectKey{Kind: rbacv1.GroupKind, Name: g}), a) {
			return true
		}
	}
	return false
}

// grantsAllow reports whether one of grants allows a: a RoleBinding's
// grant only for a resource request in its namespace, as RBAC visits
// RoleBindings only for namespaced requests.
func grantsAllow(grants []api.RoleGrant, a Attributes) bool {
	for _, g := range grants {
		if g.Namespace != "" && (!a.IsResourceRequest || a.Namespace != g.Namespace) {
			continue
		}
		if rules, ok := clusterRoleRules[g.Role]; ok && anyRuleAllows(rules, a) {
			return true
		}
	}
	return false
}

// rule is one RBAC PolicyRule: a resource rule (groups, resources, verbs)
// or a non-resource rule (paths, verbs). "*" matches anything; a path
// ending in "/*" matches what is under it.
type rule struct {
	groups    []string
	resources []string // "pods", "pods/log", ...
	paths     []string
	verbs     []string
}

func (r rule) allows(a Attributes) bool {
	if !matches(r.verbs, a.Verb) {
		return false
	}
	if !a.IsResourceRequest {
		return matchPath(r.paths, a.Path)
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	return len(r.paths) == 0 && matches(r.groups, a.APIGroup) && matches(r.resources, resource)
}

func anyRuleAllows(rules []rule, a Attributes) bool {
	for _, r := range rules {
		if r.allows(a) {
			return true
		}
	}
	return false
}

func matches(set []string, v string) bool {
	return slices.Contains(set, "*") || slices.Contains(set, v)
}

// matchPath matches a path against RBAC nonResourceURLs: exact, or a
// prefix given as "/prefix/*" ("*" alone matches every path).
func matchPath(patterns []string, p string) bool {
	for _, pat := range patterns {
		if pat == "*" || pat == p {
			return true
		}
		if prefix, ok := strings.CutSuffix(pat, "*"); ok && strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// internalPrefix is where the agent-to-agent endpoints live.
const internalPrefix = "/v1/internal"

func isInternalPath(p string) bool {
	return p == internalPrefix || strings.HasPrefix(p, internalPrefix+"/")
}

var (
	readVerbs  = []string{VerbGet, VerbList, VerbWatch}
	writeVerbs = []string{VerbCreate, VerbUpdate, VerbPatch, VerbDelete, VerbDeleteCollection}
	anyVerb    = []string{"*"}
	// openVerbs and openPaths are what anyone may ask without credentials.
	openVerbs = []string{"get", "head"}
	openPaths = []string{"/healthz", "/healthz/*", "/readyz", "/readyz/*", "/livez", "/livez/*", "/version", "/version/"}
)

// discoveryRules: what every authenticated identity may read, Kubernetes'
// system:discovery ClusterRole.
var discoveryRules = []rule{
	{verbs: []string{"get"}, paths: []string{"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"}},
}

// viewRules: reads of every kind gossipod serves or plans to, with their
// status, scale and log subresources, never exec, attach, port-forward or
// proxy; and the read-only paths.
var viewRules = []rule{
	{groups: []string{""}, verbs: readVerbs, resources: []string{
		"pods", "pods/log", "pods/status", "nodes", "nodes/status", "events", "namespaces", "namespaces/status",
		"services", "services/status", "endpoints", "configmaps", "replicationcontrollers", "replicationcontrollers/scale",
		"serviceaccounts"}},
	{groups: []string{"apps"}, verbs: readVerbs, resources: []string{
		"deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
		"daemonsets", "daemonsets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"}},
	{groups: []string{"batch"}, verbs: readVerbs, resources: []string{"jobs", "jobs/status", "cronjobs", "cronjobs/status"}},
	{groups: []string{"discovery.k8s.io"}, verbs: readVerbs, resources: []string{"endpointslices"}},
	{groups: []string{"events.k8s.io"}, verbs: readVerbs, resources: []string{"events"}},
	{verbs: []string{"get"}, paths: []string{
		"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*",
		"/metrics", "/v1/agent/members", "/v1/raft/peers", "/v1/images"}},
}

// editRules: writes of workloads and the interactive subresources, on top
// of view. Status subresources stay with the agents and admin.
var editRules = append(slices.Clone(viewRules),
	rule{groups: []string{""}, verbs: anyVerb, resources: []string{"pods/exec", "pods/attach", "pods/portforward", "pods/proxy"}},
	rule{groups: []string{""}, verbs: []string{VerbCreate}, resources: []string{"pods/eviction", "serviceaccounts/token"}},
	rule{groups: []string{""}, verbs: writeVerbs, resources: []string{
		"pods", "services", "endpoints", "configmaps", "replicationcontrollers", "replicationcontrollers/scale",
		"serviceaccounts"}},
	rule{groups: []string{"apps"}, verbs: writeVerbs, resources: []string{
		"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale",
		"daemonsets", "statefulsets", "statefulsets/scale"}},
	rule{groups: []string{"batch"}, verbs: writeVerbs, resources: []string{"jobs", "cronjobs"}},
	rule{groups: []string{"discovery.k8s.io"}, verbs: writeVerbs, resources: []string{"endpointslices"}},
)

// adminRules: everything, resources and paths; the internal paths are
// refused before the rules are read.
var adminRules = []rule{
	{groups: []string{"*"}, resources: []string{"*"}, verbs: anyVerb},
	{paths: []string{"*"}, verbs: anyVerb},
}

// nodeRules: what an agent's own identity may do.
var nodeRules = []rule{
	{paths: []string{internalPrefix, internalPrefix + "/*"}, verbs: anyVerb},
	{groups: []string{"*"}, resources: []string{"*"}, verbs: readVerbs},
	{groups: []string{""}, resources: []string{"pods/log", "pods/exec", "pods/attach", "pods/portforward"}, verbs: anyVerb},
	{verbs: []string{"get"}, paths: []string{
		"/api", "/api/*", "/apis", "/apis/*", "/metrics", "/v1/agent/members", "/v1/raft/peers", "/v1/images"}},
}

// clusterRoleRules are the built-in ClusterRoles a binding may name
// (api.ClusterRoleNames), by name.
var clusterRoleRules = map[string][]rule{
	api.ClusterRoleView:         viewRules,
	api.ClusterRoleEdit:         editRules,
	api.ClusterRoleAdmin:        adminRules,
	api.ClusterRoleClusterAdmin: adminRules,
}

// roleRules maps a group to its rules: the role groups, and
// system:authenticated, which every authenticated user is in.
var roleRules = map[string][]rule{
	GroupView:          viewRules,
	GroupEdit:          editRules,
	GroupAdmin:         adminRules,
	GroupAuthenticated: discoveryRules,
}
