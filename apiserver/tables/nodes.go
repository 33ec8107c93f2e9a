package tables

import (
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// The node labels Kubernetes reads a node's roles from.
const (
	labelNodeRolePrefix = "node-role.kubernetes.io/"
	labelNodeRole       = "kubernetes.io/role"
)

// nodeTable is the nodes' table: printNode of kubernetes/pkg/printers/
// internalversion/printers.go.
var nodeTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		info := corev1.NodeSystemInfo{}.SwaggerDoc()
		status := corev1.NodeStatus{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Status", Type: "string", Description: "The status of the node"},
			{Name: "Roles", Type: "string", Description: "The roles of the node"},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
			{Name: "Version", Type: "string", Description: info["kubeletVersion"]},
			{Name: "Internal-IP", Type: "string", Priority: 1, Description: status["addresses"]},
			{Name: "External-IP", Type: "string", Priority: 1, Description: status["addresses"]},
			{Name: "OS-Image", Type: "string", Priority: 1, Description: info["osImage"]},
			{Name: "Kernel-Version", Type: "string", Priority: 1, Description: info["kernelVersion"]},
			{Name: "Container-Runtime", Type: "string", Priority: 1, Description: info["containerRuntimeVersion"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow { return p.node(o.(*api.Node)) },
}

// node is Kubernetes' printNode: STATUS is Ready, NotReady or Unknown
// from the Ready condition, with ",SchedulingDisabled" for a cordoned
// node; ROLES come from the node-role.kubernetes.io/<role> and
// kubernetes.io/role labels. gossipod reports no container runtime
// version (its runtime is built in), so CONTAINER-RUNTIME is "<unknown>",
// as kubectl shows a node without one.
func (p printer) node(n *api.Node) metav1.TableRow {
	var status []string
	if c := api.GetNodeCondition(n, api.NodeReady); c != nil {
		if c.Status == api.ConditionTrue {
			status = append(status, string(c.Type))
		} else {
			status = append(status, "Not"+string(c.Type))
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	roles := strings.Join(nodeRoles(n), ",")
	if roles == "" {
		roles = "<none>"
	}
	info := n.Status.NodeInfo
	return metav1.TableRow{Cells: []any{
		n.Name, strings.Join(status, ","), roles, p.since(n.CreationTimestamp), info.KubeletVersion,
		nodeAddress(n, api.NodeInternalIP), nodeAddress(n, "ExternalIP"),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), "<unknown>",
	}}
}

// nodeRoles is Kubernetes' findNodeRoles: the sorted, distinct roles of
// the role labels.
func nodeRoles(n *api.Node) []string {
	set := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, labelNodeRolePrefix):
			if role := strings.TrimPrefix(k, labelNodeRolePrefix); role != "" {
				set[role] = true
			}
		case k == labelNodeRole && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress is the node's first address of type t, or "<none>".
func nodeAddress(n *api.Node, t api.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// orUnknown is s, or "<unknown>" when it is empty.
func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}
