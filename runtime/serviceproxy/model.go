package serviceproxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Protocol is an IP protocol number as nftables matches it (meta l4proto).
type Protocol uint8

// The protocols a Service port can use.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	}
	return fmt.Sprintf("%d", uint8(p))
}

func protocolOf(p corev1.Protocol) (Protocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return TCP, true
	case corev1.ProtocolUDP:
		return UDP, true
	case corev1.ProtocolSCTP:
		return SCTP, true
	}
	return 0, false
}

// defaultAffinityTimeout is Kubernetes' default for
// sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
const defaultAffinityTimeout = 10800 * time.Second

// svcPort is everything the rules of one service port depend on. Two equal
// svcPorts give the same fragment, which is how Sync skips the rest.
type svcPort struct {
	// name is kube-proxy's "ns/name/proto/portname"; chain names derive from it.
	name          string
	service       string // ns/name, for logs
	clusterIP     netip.Addr
	proto         Protocol
	port          uint16
	nodePort      uint16
	affinity      time.Duration // 0: no session affinity
	externalLocal bool          // externalTrafficPolicy: Local
	internalLocal bool          // internalTrafficPolicy: Local
	endpoints     []endpoint    // sorted by address and port, no duplicates
}

// endpoint is one backend of a service port, with its conditions.
type endpoint struct {
	addr                        netip.Addr
	port                        uint16
	local                       bool
	ready, serving, terminating bool
}

func (e endpoint) String() string { return netip.AddrPortFrom(e.addr, e.port).String() }

func (a *svcPort) equal(b *svcPort) bool {
	return a.name == b.name && a.service == b.service && a.clusterIP == b.clusterIP &&
		a.proto == b.proto && a.port == b.port && a.nodePort == b.nodePort &&
		a.affinity == b.affinity && a.externalLocal == b.externalLocal &&
		a.internalLocal == b.internalLocal && slices.Equal(a.endpoints, b.endpoints)
}

// sliceKey groups EndpointSlices by the Service they belong to.
type sliceKey struct{ namespace, service string }

// servicePorts turns Services and EndpointSlices into the service ports the
// proxy programs, keyed by name. Services it cannot program (headless,
// ExternalName, not IPv4) are left out; skipped says why, per service.
func servicePorts(nodeName string, services []*corev1.Service, eps []*discoveryv1.EndpointSlice) (ports map[string]*svcPort, skipped map[string]string) {
	bySvc := make(map[sliceKey][]*discoveryv1.EndpointSlice)
	for _, s := range eps {
		if s == nil || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := sliceKey{s.Namespace, name}
		bySvc[k] = append(bySvc[k], s)
	}
	ports = make(map[string]*svcPort)
	skipped = make(map[string]string)
	for _, svc := range services {
		if svc == nil {
			continue
		}
		id := svc.Namespace + "/" + svc.Name
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			skipped[id] = "ExternalName"
			continue
		}
		if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
			skipped[id] = "headless"
			continue
		}
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil || !ip.Is4() {
			skipped[id] = fmt.Sprintf("cluster IP %q is not IPv4", svc.Spec.ClusterIP)
			continue
		}
		affinity := time.Duration(0)
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
			affinity = defaultAffinityTimeout
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil && *c.ClientIP.TimeoutSeconds > 0 {
				affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
		for _, sp := range svc.Spec.Ports {
			proto, ok := protocolOf(sp.Protocol)
			if !ok || sp.Port <= 0 || sp.Port > 65535 {
				skipped[id] = fmt.Sprintf("port %q: protocol %q or port %d not supported", sp.Name, sp.Protocol, sp.Port)
				continue
			}
			p := &svcPort{
				name:      fmt.Sprintf("%s/%s/%s/%s", svc.Namespace, svc.Name, proto, sp.Name),
				service:   id,
				clusterIP: ip,
				proto:     proto,
				port:      uint16(sp.Port),
				affinity:  affinity,
				// A nil policy is Cluster, Kubernetes' default.
				externalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
				internalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
			}
			if nodePorts && sp.NodePort > 0 && sp.NodePort <= 65535 {
				p.nodePort = uint16(sp.NodePort)
			}
			p.endpoints = endpointsFor(nodeName, sp.Name, sp.Protocol, bySvc[sliceKey{svc.Namespace, svc.Name}])
			ports[p.name] = p
		}
	}
	return ports, skipped
}

// endpointsFor collects the endpoints of the slice port named portName with
// the service port's protocol. The slice port carries the resolved number,
// so a named targetPort is resolved here, as kube-proxy does it. An
// endpoint listed twice (slices being replaced) keeps its readiest copy.
func endpointsFor(nodeName, portName string, proto corev1.Protocol, slices_ []*discoveryv1.EndpointSlice) []endpoint {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	var out []endpoint
	for _, s := range slices_ {
		var port int32 = -1
		for _, p := range s.Ports {
			pname := ""
			if p.Name != nil {
				pname = *p.Name
			}
			pproto := corev1.ProtocolTCP
			if p.Protocol != nil {
				pproto = *p.Protocol
			}
			if pname == portName && pproto == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port <= 0 || port > 65535 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			addr, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !addr.Is4() {
				continue
			}
			// Kubernetes: nil ready means ready, nil serving means "as
			// ready", nil terminating means not terminating.
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			out = append(out, endpoint{
				addr: addr, port: uint16(port),
				local: e.NodeName != nil && *e.NodeName == nodeName,
				ready: ready, serving: serving, terminating: terminating,
			})
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(a.port, b.port); c != 0 {
			return c
		}
		// Readiest first, so Compact below keeps it.
		return cmp.Compare(rank(b), rank(a))
	})
	return slices.CompactFunc(out, func(a, b endpoint) bool { return a.addr == b.addr && a.port == b.port })
}

func rank(e endpoint) int {
	switch {
	case e.ready:
		return 2
	case e.serving:
		return 1
	}
	return 0
}

// usable picks the endpoints traffic may go to, as kube-proxy does: the
// ready ones; if there are none, the ones that still serve while
// terminating, so that a rolling update or a scale-down does not drop
// connections while the old pods can still answer. localOnly keeps this
// node's endpoints only (the Local traffic policies).
func usable(eps []endpoint, localOnly bool) []endpoint {
	var ready, fallback []endpoint
	for _, e := range eps {
		if localOnly && !e.local {
			continue
		}
		if e.ready {
			ready = append(ready, e)
		} else if e.serving && e.terminating {
			fallback = append(fallback, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return fallback
}

// names of the service port's objects, as kube-proxy forms them: a hash
// keeps names unique, the readable part says what they are for.
func chainName(prefix string, p *svcPort) string {
	return prefix + "-" + hashName(p.name) + "-" + p.name
}

func endpointChainName(p *svcPort, e endpoint) string {
	suffix := p.name + "__" + e.addr.String() + "/" + fmt.Sprint(e.port)
	return "endpoint-" + hashName(suffix) + "-" + suffix
}

func affinitySetName(p *svcPort, e endpoint) string {
	return "affinity-" + strings.TrimPrefix(endpointChainName(p, e), "endpoint-")
}
