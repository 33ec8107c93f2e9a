package tables

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// endpointSliceTable is kubectl's printEndpointSlice: NAME, ADDRESSTYPE,
// PORTS, ENDPOINTS (the first three addresses and "+ N more..."), AGE.
var endpointSliceTable = kindTable{
	columns: sync.OnceValue(func() []metav1.TableColumnDefinition {
		meta := objectMetaDoc()
		doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
		return []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: meta["name"]},
			{Name: "AddressType", Type: "string", Description: doc["addressType"]},
			{Name: "Ports", Type: "string", Description: doc["ports"]},
			{Name: "Endpoints", Type: "string", Description: doc["endpoints"]},
			{Name: "Age", Type: "string", Description: meta["creationTimestamp"]},
		}
	}),
	print: func(p printer, o api.Object) metav1.TableRow {
		es := o.(*api.EndpointSlice)
		return metav1.TableRow{Cells: []any{es.Name, string(es.AddressType), endpointSlicePorts(es.Ports),
			endpointSliceAddresses(es.Endpoints), p.since(es.CreationTimestamp)}}
	},
}

// endpointSlicePorts is kubectl's formatDiscoveryPorts: the port numbers
// joined by commas, "<unset>" for a port without one, "<unset>" for none.
func endpointSlicePorts(ports []api.EndpointPort) string {
	if len(ports) == 0 {
		return "<unset>"
	}
	out := make([]string, len(ports))
	for i, port := range ports {
		out[i] = "<unset>"
		if port.Port != nil {
			out[i] = strconv.Itoa(int(*port.Port))
		}
	}
	return strings.Join(out, ",")
}

// endpointSliceAddresses is kubectl's formatDiscoveryEndpoints: at most
// three addresses, then "+ N more...", "<unset>" for none.
func endpointSliceAddresses(endpoints []api.Endpoint) string {
	if len(endpoints) == 0 {
		return "<unset>"
	}
	var addrs []string
	count := 0
	for _, ep := range endpoints {
		for _, a := range ep.Addresses {
			if len(addrs) < 3 {
				addrs = append(addrs, a)
			}
			count++
		}
	}
	out := strings.Join(addrs, ",")
	if count > len(addrs) {
		out += fmt.Sprintf(" + %d more...", count-len(addrs))
	}
	return out
}
