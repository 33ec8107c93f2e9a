package tables

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// configMapTable is kubectl's printConfigMap: NAME, DATA (the number of
// keys in data and binaryData), AGE.
var configMapTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Data", Type: "string", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		cm := o.(*api.ConfigMap)
		return metav1.TableRow{Cells: []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), p.since(cm.CreationTimestamp)}}
	},
}

// secretTable is kubectl's printSecret: NAME, TYPE, DATA (the number of
// keys), AGE. No value is printed.
var secretTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		doc := corev1.Secret{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Type", Type: "string", Description: doc["type"]},
			{Name: "Data", Type: "string", Description: doc["data"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		sec := o.(*api.Secret)
		return metav1.TableRow{Cells: []any{sec.Name, string(sec.Type), int64(len(sec.Data)), p.since(sec.CreationTimestamp)}}
	},
}
