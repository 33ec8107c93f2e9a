package tables

import (
	"fmt"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// selectorDoc is extensions/v1beta1 DeploymentSpec's description of the
// selector, which Kubernetes' printer gives its SELECTOR column; apps/v1's
// adds a sentence. Copied rather than imported: extensions/v1beta1 would
// add over a megabyte to the binary for one string.
const selectorDoc = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."

// deploymentTable is the Deployments' table: printDeployment of
// kubernetes/pkg/printers/internalversion/printers.go. Its status column
// descriptions are extensions/v1beta1's, the same words as apps/v1's.
var deploymentTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		status := appsv1.DeploymentStatus{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: status["updatedReplicas"]},
			{Name: "Available", Type: "string", Description: status["availableReplicas"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
			{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."},
			{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."},
			{Name: "Selector", Type: "string", Priority: 1, Description: selectorDoc},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow { return p.deployment(o.(*api.Deployment)) },
}

// deployment is Kubernetes' printDeployment: READY is ready/desired,
// UP-TO-DATE and AVAILABLE the status counts (integers), and the wide
// columns the template's containers and images and the selector in
// label-selector syntax. An unset spec.replicas is 1, Kubernetes' default
// (stored Deployments always have it set).
func (p printer) deployment(d *api.Deployment) metav1.TableRow {
	desired := int64(1)
	if d.Spec.Replicas != nil {
		desired = int64(*d.Spec.Replicas)
	}
	selector := "<invalid>"
	if s, err := api.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return metav1.TableRow{Cells: []any{
		d.Name, fmt.Sprintf("%d/%d", int64(d.Status.ReadyReplicas), desired),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), p.since(d.CreationTimestamp),
		names, images, selector,
	}}
}

// containerCells is Kubernetes' layoutContainerCells: the containers'
// names and images, comma-separated.
func containerCells(cs []api.Container) (names, images string) {
	n := make([]string, len(cs))
	im := make([]string, len(cs))
	for i, c := range cs {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// replicaSetTable is the ReplicaSets' table: printReplicaSet of
// kubernetes/pkg/printers/internalversion/printers.go, what `kubectl get
// rs` and `rollout history` users read.
var replicaSetTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		spec := appsv1.ReplicaSetSpec{}.SwaggerDoc()
		status := appsv1.ReplicaSetStatus{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Desired", Type: "integer", Description: spec["replicas"]},
			{Name: "Current", Type: "integer", Description: status["replicas"]},
			{Name: "Ready", Type: "integer", Description: status["readyReplicas"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
			{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."},
			{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."},
			{Name: "Selector", Type: "string", Priority: 1, Description: spec["selector"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow { return p.replicaSet(o.(*api.ReplicaSet)) },
}

// replicaSet is Kubernetes' printReplicaSet: DESIRED is spec.replicas
// (1 when unset, the default), CURRENT and READY the status counts, and
// the wide columns as a Deployment's.
func (p printer) replicaSet(rs *api.ReplicaSet) metav1.TableRow {
	desired := int64(1)
	if rs.Spec.Replicas != nil {
		desired = int64(*rs.Spec.Replicas)
	}
	selector := "<invalid>"
	if s, err := api.LabelSelectorAsSelector(rs.Spec.Selector); err == nil {
		selector = s.String()
	}
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return metav1.TableRow{Cells: []any{
		rs.Name, desired, int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas), p.since(rs.CreationTimestamp),
		names, images, selector,
	}}
}
