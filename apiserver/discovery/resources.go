package discovery

import (
	"reflect"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is one resource the API serves, with everything clients learn
// about it from discovery and OpenAPI. Verbs are Kubernetes' verbs (get,
// list, watch, create, update, patch, delete, deletecollection): kubectl
// chooses its requests by them (`get -w` needs watch, `apply` needs patch
// for a second apply, `delete --all` needs deletecollection), so each must
// be served by the resource's handlers exactly.
type Resource struct {
	// Group is the API group, "" for the core group; Version its version.
	Group   string
	Version string
	// Resource is the plural name, the URL segment ("pods"); Singular the
	// singular one ("pod"), which kubectl also accepts.
	Resource string
	Singular string
	// Kind is the kind of the objects ("Pod"); lists are Kind+"List".
	Kind string
	// Namespaced resources live under /namespaces/{namespace}/ and are
	// also listed across namespaces; the others are cluster-scoped.
	Namespaced bool
	Verbs      []string
	// ShortNames are kubectl's abbreviations ("po"); Categories the
	// groups kubectl expands ("all" in `kubectl get all`).
	ShortNames []string
	Categories []string
	// Subresources are served under /{name}/<subresource>.
	Subresources []Subresource
	// Object and List are the k8s.io/api Go types of Kind and its list,
	// whose fields, tags and documentation the OpenAPI schemas are built
	// from.
	Object reflect.Type
	List   reflect.Type
}

// Subresource is a subresource of a Resource ("pods/log", "deployments/scale").
type Subresource struct {
	// Name is the URL segment after the object's name ("scale").
	Name string
	// Group, Version and Kind are what its requests and responses carry;
	// Group and Version are empty when they are the parent's, as in
	// Kubernetes' discovery ("deployments/scale" is autoscaling/v1 Scale,
	// "pods/log" is the parent's Pod).
	Group   string
	Version string
	Kind    string
	Verbs   []string
	// Body is what travels over the subresource: objects of Kind, a text
	// stream, or an upgraded connection.
	Body Body
	// Object is the k8s.io/api Go type of Kind.
	Object reflect.Type
}

// Body is what a subresource's requests and responses carry, which decides
// how OpenAPI describes its operations.
type Body int

const (
	// BodyObject: JSON objects of the subresource's kind (scale, eviction).
	BodyObject Body = iota
	// BodyText: a text stream in the response (log); GET only.
	BodyText
	// BodyStream: an upgraded, bidirectional connection (exec, attach,
	// portforward); OpenAPI calls its operations "connect".
	BodyStream
)

// GroupVersion returns the resource's group and version.
func (r Resource) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}

// GroupVersionKind returns the kind of the resource's objects.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion().WithKind(r.Kind)
}

// Has reports whether the resource serves verb.
func (r Resource) Has(verb string) bool { return slices.Contains(r.Verbs, verb) }

// GroupVersionKind returns the kind of the subresource's objects, with the
// parent's group and version filled in when the subresource has none.
func (s Subresource) GroupVersionKind(parent Resource) schema.GroupVersionKind {
	if s.Group == "" && s.Version == "" {
		return parent.GroupVersion().WithKind(s.Kind)
	}
	return schema.GroupVersionKind{Group: s.Group, Version: s.Version, Kind: s.Kind}
}

// Has reports whether the subresource serves verb.
func (s Subresource) Has(verb string) bool { return slices.Contains(s.Verbs, verb) }

// Resources returns the table of the resources gossipod serves, the one
// source of truth for discovery, OpenAPI and the routes of the generic
// resource handler (package apiserver), which serves exactly the verbs
// listed here. Each call builds a fresh copy, so callers may keep or change
// theirs; nothing is built before the first call.
//
// To add a kind (Services, ConfigMaps, ...): add its entry here and its
// resource, with the strategy of each verb listed, in apiserver/kinds.go;
// routes, discovery and OpenAPI follow. Add its resources to the
// roles in apiserver/auth too, or only admins may use it.
func Resources() []Resource {
	return []Resource{
		{
			Group: "", Version: "v1", Resource: "pods", Singular: "pod", Kind: "Pod", Namespaced: true,
			// patch: strategic merge, JSON merge, JSON patch (apiserver/patch).
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"po"}, Categories: []string{"all"},
			Subresources: []Subresource{
				{Name: "log", Kind: "Pod", Verbs: []string{"get"}, Body: BodyText, Object: reflect.TypeFor[corev1.Pod]()},
				{Name: "exec", Kind: "PodExecOptions", Verbs: []string{"create", "get"}, Body: BodyStream,
					Object: reflect.TypeFor[corev1.PodExecOptions]()},
				{Name: "attach", Kind: "PodAttachOptions", Verbs: []string{"create", "get"}, Body: BodyStream,
					Object: reflect.TypeFor[corev1.PodAttachOptions]()},
				{Name: "portforward", Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}, Body: BodyStream,
					Object: reflect.TypeFor[corev1.PodPortForwardOptions]()},
				// kubectl drain looks for exactly this entry (policy/v1
				// Eviction) in /api/v1 to choose eviction over delete.
				{Name: "eviction", Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"},
					Object: reflect.TypeFor[policyv1.Eviction]()},
				// Status is written by the pods' nodes through the log;
				// the API reads it.
				{Name: "status", Kind: "Pod", Verbs: []string{"get"}, Object: reflect.TypeFor[corev1.Pod]()},
			},
			Object: reflect.TypeFor[corev1.Pod](), List: reflect.TypeFor[corev1.PodList](),
		},
		{
			Group: "", Version: "v1", Resource: "nodes", Singular: "node", Kind: "Node",
			// patch changes spec.unschedulable only (cordon, uncordon): the
			// rest of a Node is its agent's.
			Verbs:      []string{"get", "list", "watch", "patch", "delete"},
			ShortNames: []string{"no"},
			Subresources: []Subresource{
				{Name: "status", Kind: "Node", Verbs: []string{"get"}, Object: reflect.TypeFor[corev1.Node]()},
			},
			Object: reflect.TypeFor[corev1.Node](), List: reflect.TypeFor[corev1.NodeList](),
		},
		{
			Group: "", Version: "v1", Resource: "namespaces", Singular: "namespace", Kind: "Namespace",
			// update and patch change labels and annotations (kubectl
			// apply, label, annotate); finalizers and status stay the
			// cluster's, as kube-apiserver keeps them.
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			ShortNames: []string{"ns"},
			Object:     reflect.TypeFor[corev1.Namespace](), List: reflect.TypeFor[corev1.NamespaceList](),
		},
		{
			Group: "", Version: "v1", Resource: "serviceaccounts", Singular: "serviceaccount", Kind: "ServiceAccount",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"sa"},
			Subresources: []Subresource{
				// kubectl create token SA.
				{Name: "token", Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest", Verbs: []string{"create"},
					Object: reflect.TypeFor[authenticationv1.TokenRequest]()},
			},
			Object: reflect.TypeFor[corev1.ServiceAccount](), List: reflect.TypeFor[corev1.ServiceAccountList](),
		},
		{
			// The cluster IP and node ports are allocated by the state
			// machine; status (load balancers) stays empty.
			Group: "", Version: "v1", Resource: "services", Singular: "service", Kind: "Service", Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"svc"}, Categories: []string{"all"},
			Subresources: []Subresource{
				{Name: "status", Kind: "Service", Verbs: []string{"get"}, Object: reflect.TypeFor[corev1.Service]()},
			},
			Object: reflect.TypeFor[corev1.Service](), List: reflect.TypeFor[corev1.ServiceList](),
		},
		{
			Group: "", Version: "v1", Resource: "configmaps", Singular: "configmap", Kind: "ConfigMap", Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"cm"},
			Object:     reflect.TypeFor[corev1.ConfigMap](), List: reflect.TypeFor[corev1.ConfigMapList](),
		},
		{
			// Sealed in the Raft log and snapshots; stringData is
			// write-only, merged into data.
			Group: "", Version: "v1", Resource: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true,
			Verbs:  []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			Object: reflect.TypeFor[corev1.Secret](), List: reflect.TypeFor[corev1.SecretList](),
		},
		{
			// Events are written by the agents only and listed (`describe`
			// lists them by involvedObject); no get by name, no watch yet.
			Group: "", Version: "v1", Resource: "events", Singular: "event", Kind: "Event", Namespaced: true,
			Verbs:      []string{"list"},
			ShortNames: []string{"ev"},
			Object:     reflect.TypeFor[corev1.Event](), List: reflect.TypeFor[corev1.EventList](),
		},
		{
			Group: "apps", Version: "v1", Resource: "deployments", Singular: "deployment", Kind: "Deployment",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"deploy"}, Categories: []string{"all"},
			Subresources: []Subresource{
				{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "update", "patch"},
					Object: reflect.TypeFor[autoscalingv1.Scale]()},
				{Name: "status", Kind: "Deployment", Verbs: []string{"get"}, Object: reflect.TypeFor[appsv1.Deployment]()},
			},
			Object: reflect.TypeFor[appsv1.Deployment](), List: reflect.TypeFor[appsv1.DeploymentList](),
		},
		{
			Group: "apps", Version: "v1", Resource: "replicasets", Singular: "replicaset", Kind: "ReplicaSet",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			ShortNames: []string{"rs"}, Categories: []string{"all"},
			Subresources: []Subresource{
				{Name: "scale", Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: []string{"get", "update", "patch"},
					Object: reflect.TypeFor[autoscalingv1.Scale]()},
				{Name: "status", Kind: "ReplicaSet", Verbs: []string{"get"}, Object: reflect.TypeFor[appsv1.ReplicaSet]()},
			},
			Object: reflect.TypeFor[appsv1.ReplicaSet](), List: reflect.TypeFor[appsv1.ReplicaSetList](),
		},
		{
			// Mirrored by the state machine from each Service's
			// EndpointSlices, for clients older than them.
			Group: "", Version: "v1", Resource: "endpoints", Singular: "endpoints", Kind: "Endpoints",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch"},
			ShortNames: []string{"ep"},
			Object:     reflect.TypeFor[corev1.Endpoints](), List: reflect.TypeFor[corev1.EndpointsList](),
		},
		{
			// Written by the leader's EndpointSlice controller from the
			// pods each Service selects; read by proxies, DNS and clients.
			Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch"},
			Object:     reflect.TypeFor[discoveryv1.EndpointSlice](), List: reflect.TypeFor[discoveryv1.EndpointSliceList](),
		},
		{
			// Grants a built-in ClusterRole (view, edit, admin,
			// cluster-admin) everywhere. Like Kubernetes', the RBAC
			// resources have no short names.
			Group: rbacv1.GroupName, Version: "v1", Resource: "clusterrolebindings", Singular: "clusterrolebinding", Kind: "ClusterRoleBinding",
			Verbs:  []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			Object: reflect.TypeFor[rbacv1.ClusterRoleBinding](), List: reflect.TypeFor[rbacv1.ClusterRoleBindingList](),
		},
		{
			// gossipod's built-in roles, read-only: the only ones a
			// binding may name.
			Group: rbacv1.GroupName, Version: "v1", Resource: "clusterroles", Singular: "clusterrole", Kind: "ClusterRole",
			Verbs:  []string{"get", "list"},
			Object: reflect.TypeFor[rbacv1.ClusterRole](), List: reflect.TypeFor[rbacv1.ClusterRoleList](),
		},
		{
			// Grants a built-in ClusterRole within its namespace.
			Group: rbacv1.GroupName, Version: "v1", Resource: "rolebindings", Singular: "rolebinding", Kind: "RoleBinding",
			Namespaced: true,
			Verbs:      []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"},
			Object:     reflect.TypeFor[rbacv1.RoleBinding](), List: reflect.TypeFor[rbacv1.RoleBindingList](),
		},
	}
}

// GroupVersions returns the group-versions of resources, in the order they
// first appear, which is the order discovery lists them in.
func GroupVersions(resources []Resource) []schema.GroupVersion {
	var out []schema.GroupVersion
	for _, r := range resources {
		if gv := r.GroupVersion(); !slices.Contains(out, gv) {
			out = append(out, gv)
		}
	}
	return out
}
