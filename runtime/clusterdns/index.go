package clusterdns

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// index is one immutable view of the cluster, built by Update and read by
// every query without a lock: an Update builds a new index and swaps a
// pointer, so a query sees the old state or the new one, never a mix.
type index struct {
	// serial is the SOA serial: the Unix time of the Update that built it,
	// as CoreDNS uses the time of the last change.
	serial uint32
	// services by "name.namespace" (Kubernetes names are lower case).
	services map[string]*service
	// pods holds every pod (namespace and IP) that may be named, for the
	// verified pod mode.
	pods map[podKey]struct{}
	// reverse holds, per IP, the first of the refs a PTR query answers;
	// refs chain the others. Names are made at query time: storing
	// 10,000 of them would cost more to build than all the PTR queries
	// of a change.
	reverse map[netip.Addr]int32
	refs    []ptrRef
}

type podKey struct {
	namespace string
	ip        netip.Addr
}

// ptrRef is a PTR answer: a service's cluster IP (ep < 0) or one of its
// endpoints; next is the next ref of the same address, or -1.
type ptrRef struct {
	svc      *service
	ep, next int32
}

// service is what a query needs of one Service and its endpoints.
type service struct {
	name, namespace string
	// external is the ExternalName target as a FQDN; "" for other types.
	external   string
	headless   bool
	clusterIPs []netip.Addr
	ports      []port
	endpoints  []endpoint
	// publishNotReady is spec.publishNotReadyAddresses: not-ready
	// endpoints are answered too (StatefulSet peers finding each other
	// before they are ready).
	publishNotReady bool
	// byHostname maps an endpoint's DNS label to the first endpoint of
	// that name; endpoint.next chains the others (rare: the same address
	// in two slices, or a hostname used twice).
	byHostname map[string]int32
}

// port is a service or endpoint port. A Service or EndpointSlice without
// ports gets one port -1, CoreDNS' sentinel: its addresses are answered,
// and no SRV record is made for it.
type port struct {
	name     string
	protocol string // lower case: "tcp", "udp", "sctp"
	port     int32
}

// endpoint is one ready address of a Service.
type endpoint struct {
	// hostname is the endpoint's label under the service name: its
	// hostname when set, else the address with dashes (CoreDNS'
	// endpointHostname), so every endpoint has a name for SRV targets.
	hostname string
	addr     netip.Addr
	ports    []port
	next     int32
}

var noPorts = []port{{port: -1}}

// buildIndex makes the index for the given objects, which it only reads.
func buildIndex(serial uint32, services []*corev1.Service, slices []*discoveryv1.EndpointSlice, pods []*corev1.Pod) *index {
	idx := &index{
		serial:   serial,
		services: make(map[string]*service, len(services)),
		pods:     make(map[podKey]struct{}, len(pods)),
	}
	for _, s := range services {
		if s == nil || s.Name == "" || s.Namespace == "" {
			continue
		}
		idx.services[s.Name+"."+s.Namespace] = newService(s)
	}
	for _, sl := range slices {
		if sl == nil || sl.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		svc := idx.services[sl.Labels[discoveryv1.LabelServiceName]+"."+sl.Namespace]
		if svc == nil || svc.external != "" {
			continue
		}
		svc.addSlice(sl)
	}
	for _, p := range pods {
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		// CoreDNS watches pods with these phases excluded: a finished
		// pod's IP may already belong to another pod.
		switch p.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown:
			continue
		}
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			idx.pods[podKey{p.Namespace, a.Unmap()}] = struct{}{}
		}
	}
	idx.buildReverse()
	return idx
}

func newService(s *corev1.Service) *service {
	svc := &service{name: s.Name, namespace: s.Namespace}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		// An ExternalName that is an IP is not a name; CoreDNS makes no
		// CNAME of it, and neither do we.
		if _, err := netip.ParseAddr(s.Spec.ExternalName); err != nil && s.Spec.ExternalName != "" {
			svc.external = strings.ToLower(strings.TrimSuffix(s.Spec.ExternalName, ".")) + "."
		}
		return svc
	}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{s.Spec.ClusterIP}
	}
	if ips[0] == corev1.ClusterIPNone {
		svc.headless = true
	} else {
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				svc.clusterIPs = append(svc.clusterIPs, a.Unmap())
			}
		}
	}
	svc.ports = noPorts
	if len(s.Spec.Ports) > 0 {
		svc.ports = make([]port, len(s.Spec.Ports))
		for i, p := range s.Spec.Ports {
			svc.ports[i] = port{name: strings.ToLower(p.Name), protocol: protocol(p.Protocol), port: p.Port}
		}
	}
	// The annotation is the field's predecessor; the specification still
	// names it.
	svc.publishNotReady = s.Spec.PublishNotReadyAddresses ||
		s.Annotations["service.alpha.kubernetes.io/tolerate-unready-endpoints"] == "true"
	return svc
}

func protocol(p corev1.Protocol) string {
	if p == "" {
		return "tcp" // the API default
	}
	return strings.ToLower(string(p))
}

func (svc *service) addSlice(sl *discoveryv1.EndpointSlice) {
	ports := noPorts
	if len(sl.Ports) > 0 {
		ports = make([]port, len(sl.Ports))
		for i, p := range sl.Ports {
			pt := port{port: -1, protocol: "tcp"}
			if p.Name != nil {
				pt.name = strings.ToLower(*p.Name)
			}
			if p.Protocol != nil {
				pt.protocol = protocol(*p.Protocol)
			}
			if p.Port != nil {
				pt.port = *p.Port
			}
			ports[i] = pt
		}
	}
	if svc.byHostname == nil {
		svc.byHostname = make(map[string]int32, len(sl.Endpoints))
	}
	svc.endpoints = slices.Grow(svc.endpoints, len(sl.Endpoints))
	for _, e := range sl.Endpoints {
		// A nil Ready means unknown, which consumers treat as ready. The
		// EndpointSlice controller already marks every endpoint ready for
		// a service that publishes not-ready addresses; checking the flag
		// here too keeps that promise whoever wrote the slice.
		if e.Conditions.Ready != nil && !*e.Conditions.Ready && !svc.publishNotReady {
			continue
		}
		for _, a := range e.Addresses {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			addr = addr.Unmap()
			ep := endpoint{addr: addr, ports: ports, next: -1}
			if e.Hostname != nil && *e.Hostname != "" {
				ep.hostname = strings.ToLower(*e.Hostname)
			} else {
				ep.hostname = dashed(addr)
			}
			i := int32(len(svc.endpoints))
			svc.endpoints = append(svc.endpoints, ep)
			first, dup := svc.byHostname[ep.hostname]
			if !dup {
				svc.byHostname[ep.hostname] = i
				continue
			}
			for svc.endpoints[first].next >= 0 {
				first = svc.endpoints[first].next
			}
			svc.endpoints[first].next = i
		}
	}
}

// dashed is an address as a DNS label: 10.0.0.1 → 10-0-0-1, and for IPv6
// every ':' a '-', with a trailing '-' completed by '0' (CoreDNS).
func dashed(a netip.Addr) string {
	var buf [64]byte // one allocation: the string
	b := a.AppendTo(buf[:0])
	for i, c := range b {
		if c == '.' || c == ':' {
			b[i] = '-'
		}
	}
	if a.Is6() && b[len(b)-1] == '-' {
		b = append(b, '0')
	}
	return string(b)
}

// buildReverse fills the PTR refs: a cluster IP names its service; an
// address that is no cluster IP names every endpoint that has it
// (CoreDNS' serviceRecordForIP).
func (idx *index) buildReverse() {
	keys := make([]string, 0, len(idx.services))
	n := 0
	for k, svc := range idx.services {
		keys = append(keys, k)
		n += len(svc.clusterIPs) + len(svc.endpoints)
	}
	// Deterministic answers whatever the map order.
	slices.Sort(keys)
	idx.reverse = make(map[netip.Addr]int32, n)
	idx.refs = make([]ptrRef, 0, n)
	for _, k := range keys {
		svc := idx.services[k]
		for _, ip := range svc.clusterIPs {
			if _, taken := idx.reverse[ip]; !taken {
				idx.reverse[ip] = int32(len(idx.refs))
				idx.refs = append(idx.refs, ptrRef{svc: svc, ep: -1, next: -1})
			}
		}
	}
	tails := map[netip.Addr]int32{} // last ref of an address with several
	for _, k := range keys {
		svc := idx.services[k]
		for i, ep := range svc.endpoints {
			first, ok := idx.reverse[ep.addr]
			if ok && idx.refs[first].ep < 0 {
				continue // a cluster IP
			}
			r := int32(len(idx.refs))
			idx.refs = append(idx.refs, ptrRef{svc: svc, ep: int32(i), next: -1})
			if !ok {
				idx.reverse[ep.addr] = r
				continue
			}
			tail, ok := tails[ep.addr]
			if !ok {
				tail = first
			}
			idx.refs[tail].next = r
			tails[ep.addr] = r
		}
	}
}

// ptrNames are the names a PTR query for a answers, without duplicates.
func (idx *index) ptrNames(a netip.Addr, zone string) []string {
	r, ok := idx.reverse[a]
	if !ok {
		return nil
	}
	var names []string
	for ; r >= 0; r = idx.refs[r].next {
		ref := idx.refs[r]
		name := ref.svc.name + "." + ref.svc.namespace + ".svc." + zone
		if ref.ep >= 0 {
			name = ref.svc.endpoints[ref.ep].hostname + "." + name
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}
