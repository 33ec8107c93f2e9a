package tables

import (
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// bindingColumns are kubectl's roleBindingsColumnDefinitions, which its
// printRoleBinding and printClusterRoleBinding share: NAME, ROLE (as
// Kind/name), AGE, and with -o wide USERS, GROUPS and SERVICEACCOUNTS.
func bindingColumns(roleRefDoc string) []metav1.TableColumnDefinition {
	meta := objectMetaDoc()
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
		{Name: "Role", Type: "string", Description: roleRefDoc},
		{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		{Name: "Users", Type: "string", Priority: 1, Description: "Users in the roleBinding"},
		{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the roleBinding"},
		{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the roleBinding"},
	}
}

// bindingCells are a binding's row, as kubectl's printers fill it: the
// subjects split by kind as rbac.SubjectsStrings lists them (a
// ServiceAccount as namespace/name), each list joined by ", ".
func bindingCells(p printer, m *api.ObjectMeta, ref api.RoleRef, subjects []api.Subject) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			if s.Namespace != "" {
				sas = append(sas, s.Namespace+"/"+s.Name)
			} else {
				sas = append(sas, s.Name)
			}
		}
	}
	return []any{m.Name, ref.Kind + "/" + ref.Name, p.since(m.CreationTimestamp),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// roleBindingTable is kubectl's printRoleBinding.
var roleBindingTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		return bindingColumns(rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"])
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		rb := o.(*api.RoleBinding)
		return metav1.TableRow{Cells: bindingCells(p, &rb.ObjectMeta, rb.RoleRef, rb.Subjects)}
	},
}

// clusterRoleBindingTable is kubectl's printClusterRoleBinding.
var clusterRoleBindingTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		return bindingColumns(rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"])
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		crb := o.(*api.ClusterRoleBinding)
		return metav1.TableRow{Cells: bindingCells(p, &crb.ObjectMeta, crb.RoleRef, crb.Subjects)}
	},
}

// clusterRoleTable is kubectl's printClusterRole: NAME, CREATED AT.
var clusterRoleTable = kindTable{
	columns: defaultTable.columns,
	print:   func(p printer, o api.Object) metav1.TableRow { return defaultTable.print(p, o) },
}
