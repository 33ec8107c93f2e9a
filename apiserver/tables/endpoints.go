package tables

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// endpointsTable is kubectl's printEndpoints: NAME, ENDPOINTS (the first
// three ip:port and "+ N more..."), AGE.
var endpointsTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		ep := o.(*api.Endpoints)
		return metav1.TableRow{Cells: []any{ep.Name, formatEndpoints(ep), p.since(ep.CreationTimestamp)}}
	},
}

// formatEndpoints is kubectl's formatEndpoints: the ready addresses, with
// each port of their subset as ip:port (the bare IP for a subset without
// ports), at most three, then "+ N more..."; "<none>" without subsets.
func formatEndpoints(ep *api.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more := false
	count := 0
	add := func(s string) {
		if len(list) == max {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	out := strings.Join(list, ",")
	if more {
		out += fmt.Sprintf(" + %d more...", count-max)
	}
	return out
}
