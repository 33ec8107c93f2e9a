package api

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is anything DecodeManifests can return: a Kubernetes-shaped object
// with its kind and its metadata, through the accessors Kubernetes' own
// objects have (GetObjectKind().GroupVersionKind(), GetName(),
// GetNamespace(), GetUID()...). Callers that need the concrete type switch
// on it (*Pod, *Deployment); callers that only route or name the object
// (apply, delete -f, error messages) use the accessors, so a new kind needs
// no change to them.
//
// Every type that embeds TypeMeta and ObjectMeta satisfies Object through
// their pointer methods.
type Object interface {
	GetObjectKind() schema.ObjectKind
	metav1.Object
}

// ObjectMetaOf returns the ObjectMeta that o embeds, to marshal or copy as
// a whole (a Table row's PartialObjectMetadata), or nil for an Object
// that does not embed one.
func ObjectMetaOf(o Object) *ObjectMeta {
	if a, ok := o.(metav1.ObjectMetaAccessor); ok {
		if m, ok := a.GetObjectMeta().(*ObjectMeta); ok {
			return m
		}
	}
	return nil
}

// kindKey is an (apiVersion, kind) pair, the key manifests are dispatched on.
type kindKey struct {
	apiVersion string
	kind       string
}

// kinds lists what DecodeManifests accepts and how to make an empty one to
// decode into. Adding a kind (apps/v1 Deployment) is one line here; strict
// decoding follows the new type's json tags without further code.
var kinds = map[kindKey]func() Object{
	{"v1", "Pod"}:                          func() Object { return new(Pod) },
	{"apps/v1", "Deployment"}:              func() Object { return new(Deployment) },
	{"apps/v1", "ReplicaSet"}:              func() Object { return new(ReplicaSet) },
	{"v1", "Namespace"}:                    func() Object { return new(Namespace) },
	{"v1", "ServiceAccount"}:               func() Object { return new(ServiceAccount) },
	{"v1", "Service"}:                      func() Object { return new(Service) },
	{"v1", "ConfigMap"}:                    func() Object { return new(ConfigMap) },
	{"v1", "Secret"}:                       func() Object { return new(Secret) },
	{RBACAPIVersion, "RoleBinding"}:        func() Object { return new(RoleBinding) },
	{RBACAPIVersion, "ClusterRoleBinding"}: func() Object { return new(ClusterRoleBinding) },
}

// listKinds are the list kinds whose items are decoded one by one:
// kubectl's generic List, and the typed lists `get -o yaml` prints.
var listKinds = map[kindKey]bool{
	{"v1", "List"}:                             true,
	{"v1", "PodList"}:                          true,
	{"apps/v1", "DeploymentList"}:              true,
	{"apps/v1", "ReplicaSetList"}:              true,
	{"v1", "NamespaceList"}:                    true,
	{"v1", "ServiceAccountList"}:               true,
	{"v1", "ServiceList"}:                      true,
	{"v1", "ConfigMapList"}:                    true,
	{"v1", "SecretList"}:                       true,
	{RBACAPIVersion, "RoleBindingList"}:        true,
	{RBACAPIVersion, "ClusterRoleBindingList"}: true,
}
