package tables

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// eventTable is the events' table: printEvent of kubernetes/pkg/printers/
// internalversion/printers.go. Its wide columns are not all at the end:
// SUBOBJECT and SOURCE sit between OBJECT and MESSAGE.
var eventTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		event := corev1.Event{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Last Seen", Type: "string", Description: event["lastTimestamp"]},
			{Name: "Type", Type: "string", Description: event["type"]},
			{Name: "Reason", Type: "string", Description: event["reason"]},
			{Name: "Object", Type: "string", Description: event["involvedObject"]},
			{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
			{Name: "Source", Type: "string", Priority: 1, Description: event["source"]},
			{Name: "Message", Type: "string", Description: event["message"]},
			{Name: "First Seen", Type: "string", Priority: 1, Description: event["firstTimestamp"]},
			{Name: "Count", Type: "string", Priority: 1, Description: event["count"]},
			{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: meta["name"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow { return p.event(o.(*api.Event)) },
}

// event is Kubernetes' printEvent: LAST SEEN falls back to the first
// timestamp, a count of 0 is 1 (a singleton event), OBJECT is
// kind/name with the kind in lower case, SOURCE is "component, host".
// gossipod's events have neither eventTime, series, field paths nor
// reporting controller, so those branches of printEvent print their
// empty forms.
func (p printer) event(e *api.Event) metav1.TableRow {
	first := p.since(e.FirstTimestamp)
	last := p.since(e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, e.InvolvedObject.Name)
	}
	source := e.Source.Component
	if e.Source.Host != "" {
		source += ", " + e.Source.Host
	}
	return metav1.TableRow{Cells: []any{
		last, e.Type, e.Reason, target,
		"", // SUBOBJECT: involvedObject.fieldPath, which gossipod does not set
		source, strings.TrimSpace(e.Message), first, int64(count), e.Name,
	}}
}
