package clusterdns

import (
	"net/netip"
	"strings"
)

// The second-level labels of the cluster domain (Kubernetes DNS spec).
const (
	labelSvc = "svc"
	labelPod = "pod"
)

// rec is one thing a name stands for: an address (with the port and the
// name of its owner, for SRV) or an ExternalName target.
type rec struct {
	addr netip.Addr
	// cname is an ExternalName target (FQDN); addr is then invalid.
	cname string
	// port is -1 when the service or slice has no ports.
	port int32
	// target is the name an SRV record points to: <svc>.<ns>.svc.<zone>
	// for a cluster IP, <hostname>.<svc>.<ns>.svc.<zone> for an endpoint.
	target string
}

// request is a query name under the cluster domain, split as CoreDNS'
// parseRequest does: [_port._protocol. | endpoint.] service.namespace.(svc|pod).
type request struct {
	port, protocol, endpoint string
	service, namespace       string
	podOrSvc                 string
}

// parse splits base (the query name without the zone, lower case, no
// trailing dot). ok is false for a name that cannot exist (NXDOMAIN).
func parse(base string) (r request, ok bool) {
	if base == "" || base == labelSvc || base == labelPod {
		return r, true
	}
	segs := strings.Split(base, ".")
	last := len(segs) - 1
	r.podOrSvc = segs[last]
	if r.podOrSvc != labelPod && r.podOrSvc != labelSvc {
		return r, false
	}
	last--
	r.namespace = segs[last]
	last--
	if last < 0 {
		return r, true
	}
	r.service = segs[last]
	last--
	switch last {
	case -1:
	case 0:
		r.endpoint = segs[0]
	case 1:
		r.port = strings.TrimPrefix(segs[0], "_")
		r.protocol = strings.TrimPrefix(segs[1], "_")
	default:
		return r, false // too long to be anything
	}
	return r, true
}

// records resolves a parsed name: exists is false where CoreDNS answers
// NXDOMAIN (errNoItems), and true with no records where it answers NODATA.
func (s *Server) records(idx *index, r request) (recs []rec, exists bool) {
	if r.podOrSvc == "" || r.namespace == "" || r.service == "" {
		// The zone, svc.<zone>, pod.<zone> and <ns>.svc|pod.<zone> exist:
		// a search path walks through them.
		return nil, true
	}
	if r.podOrSvc == labelPod {
		return s.podRecords(idx, r)
	}
	svc := idx.services[r.service+"."+r.namespace]
	if svc == nil {
		return nil, false
	}
	zone := s.cfg.ClusterDomain
	if svc.external != "" {
		// No endpoints, ports or protocols below an ExternalName.
		if r.endpoint != "" || r.port != "" || r.protocol != "" {
			return nil, false
		}
		return []rec{{cname: svc.external, port: -1}}, true
	}
	if svc.headless || r.endpoint != "" {
		return svc.endpointRecords(r, zone)
	}
	for _, p := range svc.ports {
		if !matchPort(r, p) {
			continue
		}
		exists = true
		for _, ip := range svc.clusterIPs {
			recs = append(recs, rec{addr: ip, port: p.port, target: svc.name + "." + svc.namespace + ".svc." + zone})
		}
	}
	return recs, exists
}

// endpointRecords answers a headless service, or an endpoint name of any
// service. A name with no ready endpoint does not exist, as in CoreDNS.
func (svc *service) endpointRecords(r request, zone string) (recs []rec, exists bool) {
	owner := "." + svc.name + "." + svc.namespace + ".svc." + zone
	add := func(ep *endpoint) {
		for _, p := range ep.ports {
			if !matchPort(r, p) {
				continue
			}
			exists = true
			recs = append(recs, rec{addr: ep.addr, port: p.port, target: ep.hostname + owner})
		}
	}
	if r.endpoint != "" {
		i, ok := svc.byHostname[r.endpoint]
		for ; ok && i >= 0; i = svc.endpoints[i].next {
			add(&svc.endpoints[i])
		}
		return recs, exists
	}
	for i := range svc.endpoints {
		add(&svc.endpoints[i])
	}
	return recs, exists
}

// matchPort is CoreDNS' matchPortAndProtocol: an absent port or protocol
// in the query matches any.
func matchPort(r request, p port) bool {
	return (r.port == "" || r.port == p.name) && (r.protocol == "" || r.protocol == p.protocol)
}

// podRecords answers <dashed-ip>.<ns>.pod.<zone>.
func (s *Server) podRecords(idx *index, r request) ([]rec, bool) {
	if s.cfg.Pods == PodsDisabled || r.endpoint != "" || r.port != "" {
		return nil, false
	}
	name := r.service
	var ip string
	if strings.Count(name, "-") == 3 && !strings.Contains(name, "--") {
		ip = strings.ReplaceAll(name, "-", ".")
	} else {
		ip = strings.ReplaceAll(name, "-", ":")
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, false
	}
	a = a.Unmap()
	if s.cfg.Pods == PodsVerified {
		if _, ok := idx.pods[podKey{r.namespace, a}]; !ok {
			return nil, false
		}
	}
	return []rec{{addr: a, port: -1}}, true
}

// reverseAddr is the address a reverse-zone name stands for, as
// 4.3.2.1.in-addr.arpa. or the 32 nibbles of ip6.arpa.
func reverseAddr(name string) (netip.Addr, bool) {
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		labels := strings.Split(strings.TrimSuffix(name, ".in-addr.arpa."), ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			n, ok := decimalOctet(l)
			if !ok {
				return netip.Addr{}, false
			}
			b[3-i] = n
		}
		return netip.AddrFrom4(b), true
	case strings.HasSuffix(name, ".ip6.arpa."):
		labels := strings.Split(strings.TrimSuffix(name, ".ip6.arpa."), ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			n := strings.IndexByte("0123456789abcdef", l[0])
			if n < 0 {
				return netip.Addr{}, false
			}
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(n) << 4
			} else {
				b[pos/2] |= byte(n)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func decimalOctet(s string) (byte, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 255 {
		return 0, false
	}
	return byte(n), true
}
