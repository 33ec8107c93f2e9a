package tables

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/gossipod/gossipod/api"
)

// Convert returns obj as a Table: one row per object for a list (api.PodList
// or *api.PodList, and the same for nodes, deployments, events, namespaces
// and service accounts), one row for a single object (*api.Pod...). Any
// other api.Object gets kube-apiserver's default table (NAME, CREATED AT),
// so a kind added later answers kubectl before it has columns of its own.
// The AGE cells are computed from the current time, as kube-apiserver does
// when it serves the request.
func Convert(obj any, opts Options) (*metav1.Table, error) {
	return convert(obj, opts, time.Now())
}

// kindTable is one kind's column definitions and printer.
type kindTable struct {
	columns func() []metav1.TableColumnDefinition
	// print returns a row's cells and conditions, without its object.
	print func(p printer, obj api.Object) metav1.TableRow
}

// item is one object to print and its kind's table.
type item struct {
	obj  api.Object
	kind *kindTable
}

// convert is Convert with the clock given, so tests print stable ages.
func convert(obj any, opts Options, now time.Time) (*metav1.Table, error) {
	items, rv, err := itemsOf(obj)
	if err != nil {
		return nil, err
	}
	kind := &defaultTable
	if len(items) > 0 {
		kind = items[0].kind
	} else if k := emptyListKind(obj); k != nil {
		kind = k
	}
	table := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: tableKind, APIVersion: metaGroup + "/" + opts.Version},
		ListMeta: metav1.ListMeta{ResourceVersion: rv},
		Rows:     make([]metav1.TableRow, 0, len(items)),
	}
	if !opts.NoHeaders {
		table.ColumnDefinitions = kind.columns()
	}
	p := printer{now: now}
	for _, it := range items {
		row := it.kind.print(p, it.obj)
		raw, err := rowObject(it.obj, opts)
		if err != nil {
			return nil, api.NewInternalError(fmt.Errorf("encode the object of a table row: %w", err))
		}
		row.Object = runtime.RawExtension{Raw: raw}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// itemsOf flattens obj into the objects to print and the resourceVersion
// the Table reports: the list's, or the single object's, as Kubernetes'
// table generator takes it.
func itemsOf(obj any) ([]item, string, error) {
	switch o := obj.(type) {
	case api.PodList:
		return listItems(o.Items, &podTable), o.ResourceVersion, nil
	case *api.PodList:
		return listItems(o.Items, &podTable), o.ResourceVersion, nil
	case api.NodeList:
		return listItems(o.Items, &nodeTable), o.ResourceVersion, nil
	case *api.NodeList:
		return listItems(o.Items, &nodeTable), o.ResourceVersion, nil
	case api.DeploymentList:
		return listItems(o.Items, &deploymentTable), o.ResourceVersion, nil
	case *api.DeploymentList:
		return listItems(o.Items, &deploymentTable), o.ResourceVersion, nil
	case api.ReplicaSetList:
		return listItems(o.Items, &replicaSetTable), o.ResourceVersion, nil
	case *api.ReplicaSetList:
		return listItems(o.Items, &replicaSetTable), o.ResourceVersion, nil
	case api.EventList:
		return listItems(o.Items, &eventTable), o.ResourceVersion, nil
	case *api.EventList:
		return listItems(o.Items, &eventTable), o.ResourceVersion, nil
	case api.NamespaceList:
		return listItems(o.Items, &namespaceTable), o.ResourceVersion, nil
	case *api.NamespaceList:
		return listItems(o.Items, &namespaceTable), o.ResourceVersion, nil
	case api.ServiceAccountList:
		return listItems(o.Items, &serviceAccountTable), o.ResourceVersion, nil
	case *api.ServiceAccountList:
		return listItems(o.Items, &serviceAccountTable), o.ResourceVersion, nil
	case api.ServiceList:
		return listItems(o.Items, &serviceTable), o.ResourceVersion, nil
	case *api.ServiceList:
		return listItems(o.Items, &serviceTable), o.ResourceVersion, nil
	case api.ConfigMapList:
		return listItems(o.Items, &configMapTable), o.ResourceVersion, nil
	case *api.ConfigMapList:
		return listItems(o.Items, &configMapTable), o.ResourceVersion, nil
	case api.SecretList:
		return listItems(o.Items, &secretTable), o.ResourceVersion, nil
	case api.ClusterRoleList:
		return listItems(o.Items, &clusterRoleTable), o.ResourceVersion, nil
	case *api.ClusterRoleList:
		return listItems(o.Items, &clusterRoleTable), o.ResourceVersion, nil
	case api.RoleBindingList:
		return listItems(o.Items, &roleBindingTable), o.ResourceVersion, nil
	case *api.RoleBindingList:
		return listItems(o.Items, &roleBindingTable), o.ResourceVersion, nil
	case api.ClusterRoleBindingList:
		return listItems(o.Items, &clusterRoleBindingTable), o.ResourceVersion, nil
	case *api.ClusterRoleBindingList:
		return listItems(o.Items, &clusterRoleBindingTable), o.ResourceVersion, nil
	case *api.SecretList:
		return listItems(o.Items, &secretTable), o.ResourceVersion, nil
	case api.EndpointSliceList:
		return listItems(o.Items, &endpointSliceTable), o.ResourceVersion, nil
	case *api.EndpointSliceList:
		return listItems(o.Items, &endpointSliceTable), o.ResourceVersion, nil
	case api.EndpointsList:
		return listItems(o.Items, &endpointsTable), o.ResourceVersion, nil
	case *api.EndpointsList:
		return listItems(o.Items, &endpointsTable), o.ResourceVersion, nil
	case api.Object:
		return []item{{obj: o, kind: tableFor(o)}}, o.GetResourceVersion(), nil
	}
	return nil, "", api.NewStatus(http.StatusNotAcceptable, reasonNotAcceptable,
		fmt.Sprintf("a %T does not support being converted to a Table", obj))
}

// listItems makes the items of a typed list, all of one kind.
func listItems[T any, PT interface {
	*T
	api.Object
}](items []T, kind *kindTable) []item {
	out := make([]item, len(items))
	for i := range items {
		out[i] = item{obj: PT(&items[i]), kind: kind}
	}
	return out
}

// emptyListKind is the table of an empty list's kind, so that `kubectl get
// pods` in an empty namespace still gets the pod columns (it prints "No
// resources found" either way, but -w prints later rows under them).
func emptyListKind(obj any) *kindTable {
	switch obj.(type) {
	case api.PodList, *api.PodList:
		return &podTable
	case api.NodeList, *api.NodeList:
		return &nodeTable
	case api.DeploymentList, *api.DeploymentList:
		return &deploymentTable
	case api.ReplicaSetList, *api.ReplicaSetList:
		return &replicaSetTable
	case api.EventList, *api.EventList:
		return &eventTable
	case api.NamespaceList, *api.NamespaceList:
		return &namespaceTable
	case api.ServiceAccountList, *api.ServiceAccountList:
		return &serviceAccountTable
	case api.ServiceList, *api.ServiceList:
		return &serviceTable
	case api.ConfigMapList, *api.ConfigMapList:
		return &configMapTable
	case api.ClusterRoleList, *api.ClusterRoleList:
		return &clusterRoleTable
	case api.RoleBindingList, *api.RoleBindingList:
		return &roleBindingTable
	case api.ClusterRoleBindingList, *api.ClusterRoleBindingList:
		return &clusterRoleBindingTable
	case api.SecretList, *api.SecretList:
		return &secretTable
	case api.EndpointSliceList, *api.EndpointSliceList:
		return &endpointSliceTable
	case api.EndpointsList, *api.EndpointsList:
		return &endpointsTable
	}
	return nil
}

// tableFor returns the table of one object's kind.
func tableFor(o api.Object) *kindTable {
	switch o.(type) {
	case *api.Pod:
		return &podTable
	case *api.Node:
		return &nodeTable
	case *api.Deployment:
		return &deploymentTable
	case *api.ReplicaSet:
		return &replicaSetTable
	case *api.Event:
		return &eventTable
	case *api.Namespace:
		return &namespaceTable
	case *api.ServiceAccount:
		return &serviceAccountTable
	case *api.Service:
		return &serviceTable
	case *api.ConfigMap:
		return &configMapTable
	case *api.RoleBinding:
		return &roleBindingTable
	case *api.ClusterRole:
		return &clusterRoleTable
	case *api.ClusterRoleBinding:
		return &clusterRoleBindingTable
	case *api.Secret:
		return &secretTable
	case *api.EndpointSlice:
		return &endpointSliceTable
	case *api.Endpoints:
		return &endpointsTable
	}
	return &defaultTable
}

// partialObjectMetadata is meta.k8s.io PartialObjectMetadata: an object's
// kind and metadata, what a row carries with includeObject=Metadata.
type partialObjectMetadata struct {
	api.TypeMeta `json:",inline"`
	Metadata     *api.ObjectMeta `json:"metadata"`
}

// rowObject encodes what a row carries of its object: nothing, its
// metadata as a PartialObjectMetadata of the Table's version, or all of it
// with its kind and apiVersion.
func rowObject(o api.Object, opts Options) ([]byte, error) {
	switch opts.IncludeObject {
	case metav1.IncludeNone:
		return nil, nil
	case metav1.IncludeObject:
		return json.Marshal(withTypeMeta(o))
	default:
		return json.Marshal(partialObjectMetadata{
			TypeMeta: api.TypeMeta{Kind: partialObjectKind, APIVersion: metaGroup + "/" + opts.Version},
			Metadata: api.ObjectMetaOf(o),
		})
	}
}

// withTypeMeta returns o with its kind and apiVersion set, copying it
// rather than writing to an object the caller may share (the state's).
// Objects read from the state normally have them already.
func withTypeMeta(o api.Object) any {
	if apiVersion, kind := o.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind(); kind != "" && apiVersion != "" {
		return o
	}
	switch v := o.(type) {
	case *api.Pod:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		return &c
	case *api.Node:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Node", APIVersion: "v1"}
		return &c
	case *api.Deployment:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"}
		return &c
	case *api.Event:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Event", APIVersion: "v1"}
		return &c
	case *api.Namespace:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Namespace", APIVersion: "v1"}
		return &c
	case *api.ServiceAccount:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"}
		return &c
	case *api.Service:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Service", APIVersion: "v1"}
		return &c
	case *api.ConfigMap:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"}
		return &c
	case *api.RoleBinding:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "RoleBinding", APIVersion: api.RBACAPIVersion}
		return &c
	case *api.ClusterRoleBinding:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "ClusterRoleBinding", APIVersion: api.RBACAPIVersion}
		return &c
	case *api.Secret:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Secret", APIVersion: "v1"}
		return &c
	case *api.EndpointSlice:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"}
		return &c
	case *api.Endpoints:
		c := *v
		c.TypeMeta = api.TypeMeta{Kind: "Endpoints", APIVersion: "v1"}
		return &c
	}
	return o
}

// printer holds what the printers share: the time ages are measured to.
type printer struct {
	now time.Time
}

// since is Kubernetes' translateTimestampSince: a human approximation of
// the time since t ("5m", "3d4h"), or "<unknown>" for an unset time.
func (p printer) since(t api.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(p.now.Sub(t.Time))
}

// defaultTable is kube-apiserver's table for a kind without printers
// (rest.NewDefaultTableConvertor): the name and the creation time.
var defaultTable = kindTable{
	columns: func() []metav1.TableColumnDefinition {
		doc := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: doc["name"]},
			{Name: "Created At", Type: "date", Description: doc["creationTimestamp"]},
		}
	},
	print: func(p printer, o api.Object) metav1.TableRow {
		return metav1.TableRow{Cells: []any{o.GetName(), o.GetCreationTimestamp().UTC().Format(time.RFC3339)}}
	},
}
