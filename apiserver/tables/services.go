package tables

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gossipod/gossipod/api"
)

// serviceTable is kubectl's printService: NAME, TYPE, CLUSTER-IP,
// EXTERNAL-IP, PORT(S), AGE, and SELECTOR with -o wide.
var serviceTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		spec := corev1.ServiceSpec{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Type", Type: "string", Description: spec["type"]},
			{Name: "Cluster-IP", Type: "string", Description: spec["clusterIP"]},
			{Name: "External-IP", Type: "string", Description: spec["externalIPs"]},
			{Name: "Port(s)", Type: "string", Description: spec["ports"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
			{Name: "Selector", Type: "string", Priority: 1, Description: spec["selector"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		svc := o.(*api.Service)
		internalIP := "<none>"
		if len(svc.Spec.ClusterIPs) > 0 {
			internalIP = svc.Spec.ClusterIPs[0]
		}
		externalIP := "<none>"
		if svc.Spec.Type == api.ServiceTypeExternalName {
			externalIP = svc.Spec.ExternalName
		}
		ports := servicePorts(svc.Spec.Ports)
		if ports == "" {
			ports = "<none>"
		}
		return metav1.TableRow{Cells: []any{svc.Name, string(svc.Spec.Type), internalIP, externalIP, ports,
			p.since(svc.CreationTimestamp), labels.FormatLabels(svc.Spec.Selector)}}
	},
}

// servicePorts is kubectl's makePortString: "80/TCP", or "80:30080/TCP"
// with a node port, joined by commas.
func servicePorts(ports []api.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, port := range ports {
		pieces[i] = fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if port.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", port.Port, port.NodePort, port.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}
