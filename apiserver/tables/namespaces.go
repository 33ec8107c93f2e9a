package tables

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// namespaceTable is printNamespace of kubernetes/pkg/printers/
// internalversion/printers.go: NAME, STATUS (the phase), AGE.
var namespaceTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Status", Type: "string", Description: "The status of the namespace"},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		ns := o.(*api.Namespace)
		return metav1.TableRow{Cells: []any{ns.Name, string(ns.Status.Phase), p.since(ns.CreationTimestamp)}}
	},
}

// serviceAccountTable is printServiceAccount: NAME, SECRETS (the number of
// secrets listed in the account, always 0 in gossipod, which has no
// Secrets yet), AGE.
var serviceAccountTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		sa := o.(*api.ServiceAccount)
		return metav1.TableRow{Cells: []any{sa.Name, int64(0), p.since(sa.CreationTimestamp)}}
	},
}
