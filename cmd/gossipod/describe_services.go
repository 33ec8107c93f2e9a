package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// describeListed fetches the named objects of r, or those the selector (or
// nothing) picks in the namespace, into T. Missing objects come back as
// failures.
func describeListed[T any](c *cli.Context, cl *client.Client, r apiResource, names []string, events bool,
	render func(obj *T, events []api.Event, now time.Time) string, uid func(*T) string, extra func(*T) error) ([]string, []error, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	var objs []T
	var failed []error
	if len(names) == 0 {
		path := r.path(ns, "")
		if sel := c.String("selector"); sel != "" {
			path += "?" + url.Values{"labelSelector": {sel}}.Encode()
		}
		var list struct {
			Items []T `json:"items"`
		}
		if err := cl.Do(ctx, http.MethodGet, path, nil, &list); err != nil {
			return nil, nil, statusError(err)
		}
		if len(list.Items) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
		objs = list.Items
	}
	for _, name := range names {
		var o T
		if err := cl.Do(ctx, http.MethodGet, r.path(ns, name), nil, &o); err != nil {
			if !isNotFound(err) {
				return nil, nil, statusError(err)
			}
			failed = append(failed, statusError(err))
			continue
		}
		objs = append(objs, o)
	}
	var texts []string
	for i := range objs {
		o := &objs[i]
		if extra != nil {
			if err := extra(o); err != nil {
				return nil, nil, err
			}
		}
		// As kubectl, an object whose events cannot be read is described
		// without them.
		var evs []api.Event
		if events {
			el, err := cl.Events(ctx, client.ListOptions{Namespace: ns, FieldSelector: "involvedObject.uid=" + uid(o)})
			if err == nil {
				evs = el.Items
				if evs == nil {
					evs = []api.Event{}
				}
			}
		}
		texts = append(texts, render(o, evs, time.Now()))
	}
	return texts, failed, nil
}

// describeServices renders Services as kubectl describe service does,
// with the endpoints of their EndpointSlices.
func describeServices(c *cli.Context, cl *client.Client, r apiResource, slices apiResource, names []string) ([]string, []error, error) {
	endpoints := map[string][]api.EndpointSlice{}
	return describeListed(c, cl, r, names, true,
		func(s *api.Service, events []api.Event, now time.Time) string {
			return describeService(s, endpoints[s.Namespace+"/"+s.Name], events, now)
		},
		func(s *api.Service) string { return string(s.UID) },
		func(s *api.Service) error {
			ctx, cancel := requestContext(c)
			defer cancel()
			// As kubectl, a Service whose slices cannot be read is
			// described with no endpoints.
			var list struct {
				Items []api.EndpointSlice `json:"items"`
			}
			q := url.Values{"labelSelector": {api.LabelServiceName + "=" + s.Name}}.Encode()
			if err := cl.Do(ctx, http.MethodGet, slices.path(s.Namespace, "")+"?"+q, nil, &list); err == nil {
				endpoints[s.Namespace+"/"+s.Name] = list.Items
			}
			return nil
		})
}

// describeService is kubectl's describeService
// (k8s.io/kubectl/pkg/describe), field for field.
func describeService(s *api.Service, slices []api.EndpointSlice, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", s.Name)
	w.write(0, "Namespace:\t%s\n", s.Namespace)
	writeLabels(w, "Labels", s.Labels)
	writeAnnotations(w, "Annotations", s.Annotations)
	w.write(0, "Selector:\t%s\n", labels.FormatLabels(s.Spec.Selector))
	w.write(0, "Type:\t%s\n", s.Spec.Type)
	if s.Spec.IPFamilyPolicy != nil {
		w.write(0, "IP Family Policy:\t%s\n", *s.Spec.IPFamilyPolicy)
	}
	if len(s.Spec.IPFamilies) > 0 {
		fams := make([]string, len(s.Spec.IPFamilies))
		for i, f := range s.Spec.IPFamilies {
			fams[i] = string(f)
		}
		w.write(0, "IP Families:\t%s\n", strings.Join(fams, ","))
	} else {
		w.write(0, "IP Families:\t<none>\n")
	}
	w.write(0, "IP:\t%s\n", s.Spec.ClusterIP)
	if len(s.Spec.ClusterIPs) > 0 {
		w.write(0, "IPs:\t%s\n", strings.Join(s.Spec.ClusterIPs, ","))
	} else {
		w.write(0, "IPs:\t<none>\n")
	}
	if len(s.Spec.ExternalIPs) > 0 {
		w.write(0, "External IPs:\t%v\n", strings.Join(s.Spec.ExternalIPs, ","))
	}
	if s.Spec.ExternalName != "" {
		w.write(0, "External Name:\t%s\n", s.Spec.ExternalName)
	}
	for i := range s.Spec.Ports {
		sp := &s.Spec.Ports[i]
		name := sp.Name
		if name == "" {
			name = "<unset>"
		}
		w.write(0, "Port:\t%s\t%d/%s\n", name, sp.Port, sp.Protocol)
		if sp.TargetPort.Type == intstr.Int {
			w.write(0, "TargetPort:\t%d/%s\n", sp.TargetPort.IntVal, sp.Protocol)
		} else {
			w.write(0, "TargetPort:\t%s/%s\n", sp.TargetPort.StrVal, sp.Protocol)
		}
		if sp.AppProtocol != nil {
			w.write(0, "AppProtocol:\t%s\n", *sp.AppProtocol)
		}
		if sp.NodePort != 0 {
			w.write(0, "NodePort:\t%s\t%d/%s\n", name, sp.NodePort, sp.Protocol)
		}
		w.write(0, "Endpoints:\t%s\n", formatEndpointSlices(slices, sp.Name))
	}
	w.write(0, "Session Affinity:\t%s\n", s.Spec.SessionAffinity)
	if s.Spec.ExternalTrafficPolicy != "" {
		w.write(0, "External Traffic Policy:\t%s\n", s.Spec.ExternalTrafficPolicy)
	}
	if s.Spec.InternalTrafficPolicy != nil {
		w.write(0, "Internal Traffic Policy:\t%s\n", *s.Spec.InternalTrafficPolicy)
	}
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// formatEndpointSlices is kubectl's list of a port's ready endpoints
// (address:port), three at most and "+ N more...".
func formatEndpointSlices(slices []api.EndpointSlice, portName string) string {
	if len(slices) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < max {
			list = append(list, s)
		}
		count++
	}
	for _, es := range slices {
		if len(es.Ports) == 0 {
			// A headless Service may have no ports.
			for _, e := range es.Endpoints {
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					add(e.Addresses[0])
				}
			}
			continue
		}
		for _, p := range es.Ports {
			if p.Name == nil || *p.Name != portName || p.Port == nil {
				continue
			}
			for _, e := range es.Endpoints {
				if e.Conditions.Ready == nil || *e.Conditions.Ready {
					add(net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*p.Port))))
				}
			}
		}
	}
	ret := strings.Join(list, ",")
	if count > max {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return ret
}

// describeEndpointSlice is kubectl's describeEndpointSliceV1.
func describeEndpointSlice(es *api.EndpointSlice, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", es.Name)
	w.write(0, "Namespace:\t%s\n", es.Namespace)
	writeLabels(w, "Labels", es.Labels)
	writeAnnotations(w, "Annotations", es.Annotations)
	w.write(0, "AddressType:\t%s\n", es.AddressType)
	if len(es.Ports) == 0 {
		w.write(0, "Ports: <unset>\n")
	} else {
		w.write(0, "Ports:\n")
		w.write(1, "Name\tPort\tProtocol\n")
		w.write(1, "----\t----\t--------\n")
		for _, p := range es.Ports {
			name, num, proto := "<unset>", "<unset>", "<unset>"
			if p.Name != nil && *p.Name != "" {
				name = *p.Name
			}
			if p.Port != nil {
				num = strconv.Itoa(int(*p.Port))
			}
			if p.Protocol != nil {
				proto = string(*p.Protocol)
			}
			w.write(1, "%s\t%s\t%s\n", name, num, proto)
		}
	}
	if len(es.Endpoints) == 0 {
		w.write(0, "Endpoints: <none>\n")
	} else {
		w.write(0, "Endpoints:\n")
		for _, e := range es.Endpoints {
			addrs := strings.Join(e.Addresses, ", ")
			if addrs == "" {
				addrs = "<none>"
			}
			w.write(1, "- Addresses:\t%s\n", addrs)
			w.write(2, "Conditions:\n")
			ready := "<unset>"
			if e.Conditions.Ready != nil {
				ready = strconv.FormatBool(*e.Conditions.Ready)
			}
			w.write(3, "Ready:\t%s\n", ready)
			hostname := "<unset>"
			if e.Hostname != nil {
				hostname = *e.Hostname
			}
			w.write(2, "Hostname:\t%s\n", hostname)
			if e.TargetRef != nil {
				w.write(2, "TargetRef:\t%s/%s\n", e.TargetRef.Kind, e.TargetRef.Name)
			}
			node := "<unset>"
			if e.NodeName != nil {
				node = *e.NodeName
			}
			w.write(2, "NodeName:\t%s\n", node)
			zone := "<unset>"
			if e.Zone != nil {
				zone = *e.Zone
			}
			w.write(2, "Zone:\t%s\n", zone)
		}
	}
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}
