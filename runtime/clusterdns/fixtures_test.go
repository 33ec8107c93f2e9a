package clusterdns

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func svc(ns, name string, mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Type = corev1.ServiceTypeClusterIP
	if mut != nil {
		mut(s)
	}
	return s
}

func clusterIP(ips ...string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.ClusterIP = ips[0]
		s.Spec.ClusterIPs = ips
	}
}

func withPorts(ps ...corev1.ServicePort) func(*corev1.Service) {
	return func(s *corev1.Service) { s.Spec.Ports = ps }
}

func all(fs ...func(*corev1.Service)) func(*corev1.Service) {
	return func(s *corev1.Service) {
		for _, f := range fs {
			f(s)
		}
	}
}

type ep struct {
	addr     string
	hostname string
	ready    *bool
}

func slice(ns, service, name string, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, e := range eps {
		x := discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if strings.Contains(e.addr, ":") {
			sl.AddressType = discoveryv1.AddressTypeIPv6
		}
		if e.hostname != "" {
			x.Hostname = ptr(e.hostname)
		}
		sl.Endpoints = append(sl.Endpoints, x)
	}
	return sl
}

func slicePort(name string, p int32, proto corev1.Protocol) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Port: ptr(p), Protocol: ptr(proto)}
}

func pod(ns, name, ip string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Status.Phase = phase
	p.Status.PodIP = ip
	return p
}

// fixture is a small cluster covering each kind of name.
func fixture() ([]*corev1.Service, []*discoveryv1.EndpointSlice, []*corev1.Pod) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	services := []*corev1.Service{
		svc("default", "kubernetes", all(clusterIP("10.96.0.1"),
			withPorts(corev1.ServicePort{Name: "https", Port: 443, Protocol: tcp}))),
		svc("ns1", "web", all(clusterIP("10.96.0.10", "fd00::10"), withPorts(
			corev1.ServicePort{Name: "http", Port: 80, Protocol: tcp},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: udp}))),
		svc("ns1", "noports", clusterIP("10.96.0.11")),
		svc("ns1", "db", all(clusterIP("None"),
			withPorts(corev1.ServicePort{Name: "mysql", Port: 3306, Protocol: tcp}))),
		svc("ns1", "peers", all(clusterIP("None"), func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true },
			withPorts(corev1.ServicePort{Name: "gossip", Port: 7946, Protocol: tcp}))),
		svc("ns1", "empty", clusterIP("None")),
		svc("ns1", "legacy", func(s *corev1.Service) {
			clusterIP("None")(s)
			s.Annotations = map[string]string{"service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"}
		}),
		svc("ns1", "ext", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "ext.example.org"
		}),
		svc("ns1", "alias", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "web.ns1.svc.cluster.local"
		}),
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("ns1", "web", "web-1", []discoveryv1.EndpointPort{slicePort("http", 8080, tcp)},
			ep{addr: "10.1.0.20"}),
		slice("ns1", "db", "db-1", []discoveryv1.EndpointPort{slicePort("mysql", 3306, tcp)},
			ep{addr: "10.1.0.5", hostname: "db-0", ready: ptr(true)},
			ep{addr: "10.1.0.6"},
			ep{addr: "10.1.0.7", hostname: "db-2", ready: ptr(false)}),
		slice("ns1", "peers", "peers-1", []discoveryv1.EndpointPort{slicePort("gossip", 7946, tcp)},
			ep{addr: "10.1.0.8", hostname: "peer-0", ready: ptr(false)}),
		slice("ns1", "empty", "empty-1", nil, ep{addr: "10.1.0.9", ready: ptr(false)}),
		slice("ns1", "legacy", "legacy-1", nil, ep{addr: "10.1.0.10", ready: ptr(false)}),
	}
	pods := []*corev1.Pod{
		pod("ns1", "db-0", "10.1.0.5", corev1.PodRunning),
		pod("ns1", "done", "10.1.0.99", corev1.PodSucceeded),
	}
	return services, slices, pods
}

// upstream is a real miekg/dns server on loopback playing the host's
// resolver for the forwarding tests.
type upstream struct {
	addr    string
	mu      sync.Mutex
	queries []string // names asked, in order
	// block, when set, holds answers to slow.example. until closed.
	block   chan struct{}
	entered chan struct{}
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{block: make(chan struct{}), entered: make(chan struct{}, 100)}
	pc, ln, err := listen(context.Background(), "127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(u.serve)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	t.Cleanup(func() {
		select {
		case <-u.block:
		default:
			close(u.block)
		}
	})
	return u
}

func (u *upstream) serve(w dns.ResponseWriter, r *dns.Msg) {
	q := r.Question[0]
	u.mu.Lock()
	u.queries = append(u.queries, q.Name)
	u.mu.Unlock()
	m := new(dns.Msg).SetReply(r)
	m.RecursionAvailable = true
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	switch strings.ToLower(q.Name) {
	case "example.com.", "ext.example.org.":
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, rr(q.Name+" 300 IN A 192.0.2.1"))
		}
	case "big.example.":
		// 40 TXT records of 100 bytes: more than 512 bytes.
		for i := range 40 {
			m.Answer = append(m.Answer, rr(fmt.Sprintf("%s 300 IN TXT %q", q.Name, fmt.Sprintf("%02d%s", i, strings.Repeat("x", 98)))))
		}
		if !isTCP {
			m.Truncate(dns.MinMsgSize)
		}
	case "slow.example.":
		u.entered <- struct{}{}
		<-u.block
	case "20.0.1.10.in-addr.arpa.", "1.0.0.10.in-addr.arpa.":
		// A reverse name the cluster does not know (10.1.0.20 is an
		// endpoint, so this one must not come here).
		m.Answer = append(m.Answer, rr(q.Name+" 300 IN PTR upstream.example."))
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (u *upstream) asked() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.queries)
}

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

// startServer starts a cluster DNS server on loopback with the fixture,
// forwarding to up.
func startServer(t testing.TB, up string, mut func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Upstreams = []string{up}
	cfg.NameserverIPs = []netip.Addr{netip.MustParseAddr("10.96.0.53")}
	cfg.Logger = slog.New(slog.DiscardHandler)
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Update(fixture())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// query asks the server over net ("udp" or "tcp").
func query(t testing.TB, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	m := new(dns.Msg).SetQuestion(name, qtype)
	resp, _, err := c.Exchange(m, s.Addr().String())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return resp
}

// summary is "NAME TYPE RDATA" per record, sorted; TTLs are checked
// apart.
func summary(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, r := range rrs {
		f := strings.Fields(r.String())
		if r.Header().Rrtype == dns.TypeSOA {
			f = f[:6] // the serial is the time of the last Update
		}
		out = append(out, strings.Join(append([]string{f[0], f[3]}, f[4:]...), " "))
	}
	slices.Sort(out)
	return out
}
