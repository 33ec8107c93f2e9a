package clusterdns

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestClusterNames(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, func(c *Config) { c.Pods = PodsVerified })
	const z = ".cluster.local."
	soa := "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local."
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
	}{
		{"cluster IP", "web.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"web.ns1.svc.cluster.local. A 10.96.0.10"}, nil},
		{"cluster IP, upper case kept", "WEB.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"WEB.ns1.svc.cluster.local. A 10.96.0.10"}, nil},
		{"dual-stack cluster IP", "web.ns1.svc" + z, dns.TypeAAAA, dns.RcodeSuccess,
			[]string{"web.ns1.svc.cluster.local. AAAA fd00::10"}, nil},
		{"IPv4-only service has no AAAA: NODATA", "kubernetes.default.svc" + z, dns.TypeAAAA, dns.RcodeSuccess, nil, nil},
		{"service without ports still has its IP", "noports.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"noports.ns1.svc.cluster.local. A 10.96.0.11"}, nil},
		{"unknown service", "nope.ns1.svc" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"namespace exists as a name", "ns1.svc" + z, dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"svc label", "svc" + z, dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"apex", "cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil},
		{"neither svc nor pod", "foo" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"too many labels", "a.b.c.web.ns1.svc" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"headless: ready endpoints only", "db.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"db.ns1.svc.cluster.local. A 10.1.0.5", "db.ns1.svc.cluster.local. A 10.1.0.6"}, nil},
		{"headless publishNotReadyAddresses", "peers.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"peers.ns1.svc.cluster.local. A 10.1.0.8"}, nil},
		{"tolerate-unready-endpoints annotation", "legacy.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"legacy.ns1.svc.cluster.local. A 10.1.0.10"}, nil},
		{"headless without ready endpoints", "empty.ns1.svc" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"endpoint hostname", "db-0.db.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"db-0.db.ns1.svc.cluster.local. A 10.1.0.5"}, nil},
		{"endpoint by dashed address", "10-1-0-6.db.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"10-1-0-6.db.ns1.svc.cluster.local. A 10.1.0.6"}, nil},
		{"not-ready endpoint has no name", "db-2.db.ns1.svc" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"endpoint name of a cluster-IP service", "10-1-0-20.web.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"10-1-0-20.web.ns1.svc.cluster.local. A 10.1.0.20"}, nil},
		{"SRV cluster IP", "_https._tcp.kubernetes.default.svc" + z, dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_https._tcp.kubernetes.default.svc.cluster.local. SRV 0 100 443 kubernetes.default.svc.cluster.local."},
			[]string{"kubernetes.default.svc.cluster.local. A 10.96.0.1"}},
		{"SRV udp port", "_dns._udp.web.ns1.svc" + z, dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_dns._udp.web.ns1.svc.cluster.local. SRV 0 50 53 web.ns1.svc.cluster.local."},
			[]string{"web.ns1.svc.cluster.local. A 10.96.0.10", "web.ns1.svc.cluster.local. AAAA fd00::10"}},
		{"SRV wrong protocol", "_dns._tcp.web.ns1.svc" + z, dns.TypeSRV, dns.RcodeNameError, nil, nil},
		{"SRV unknown port", "_ftp._tcp.web.ns1.svc" + z, dns.TypeSRV, dns.RcodeNameError, nil, nil},
		{"SRV headless: one per endpoint", "_mysql._tcp.db.ns1.svc" + z, dns.TypeSRV, dns.RcodeSuccess,
			[]string{
				"_mysql._tcp.db.ns1.svc.cluster.local. SRV 0 50 3306 10-1-0-6.db.ns1.svc.cluster.local.",
				"_mysql._tcp.db.ns1.svc.cluster.local. SRV 0 50 3306 db-0.db.ns1.svc.cluster.local.",
			},
			[]string{"10-1-0-6.db.ns1.svc.cluster.local. A 10.1.0.6", "db-0.db.ns1.svc.cluster.local. A 10.1.0.5"}},
		{"SRV of the service name: every port", "kubernetes.default.svc" + z, dns.TypeSRV, dns.RcodeSuccess,
			[]string{"kubernetes.default.svc.cluster.local. SRV 0 100 443 kubernetes.default.svc.cluster.local."},
			[]string{"kubernetes.default.svc.cluster.local. A 10.96.0.1"}},
		{"SRV of a service without ports: NODATA", "noports.ns1.svc" + z, dns.TypeSRV, dns.RcodeSuccess, nil, nil},
		{"ExternalName CNAME and upstream address", "ext.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"ext.ns1.svc.cluster.local. CNAME ext.example.org.", "ext.example.org. A 192.0.2.1"}, nil},
		{"ExternalName CNAME query", "ext.ns1.svc" + z, dns.TypeCNAME, dns.RcodeSuccess,
			[]string{"ext.ns1.svc.cluster.local. CNAME ext.example.org."}, nil},
		{"ExternalName inside the zone", "alias.ns1.svc" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"alias.ns1.svc.cluster.local. CNAME web.ns1.svc.cluster.local.", "web.ns1.svc.cluster.local. A 10.96.0.10"}, nil},
		{"ExternalName has no SRV", "ext.ns1.svc" + z, dns.TypeSRV, dns.RcodeSuccess, nil, nil},
		{"ExternalName has no endpoints", "x.ext.ns1.svc" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"verified pod", "10-1-0-5.ns1.pod" + z, dns.TypeA, dns.RcodeSuccess,
			[]string{"10-1-0-5.ns1.pod.cluster.local. A 10.1.0.5"}, nil},
		{"pod in another namespace", "10-1-0-5.ns2.pod" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"finished pod", "10-1-0-99.ns1.pod" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"pod name not an IP", "web.ns1.pod" + z, dns.TypeA, dns.RcodeNameError, nil, nil},
		{"PTR cluster IP", "10.0.96.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess,
			[]string{"10.0.96.10.in-addr.arpa. PTR web.ns1.svc.cluster.local."}, nil},
		{"PTR IPv6 cluster IP", "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, dns.RcodeSuccess,
			[]string{"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. PTR web.ns1.svc.cluster.local."}, nil},
		{"PTR endpoint", "5.0.1.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess,
			[]string{"5.0.1.10.in-addr.arpa. PTR db-0.db.ns1.svc.cluster.local."}, nil},
		{"dns-version", "dns-version" + z, dns.TypeTXT, dns.RcodeSuccess,
			[]string{`dns-version.cluster.local. TXT "1.1.0"`}, nil},
		{"TXT of a service: NODATA", "web.ns1.svc" + z, dns.TypeTXT, dns.RcodeSuccess, nil, nil},
		{"TXT of nothing", "nope.ns1.svc" + z, dns.TypeTXT, dns.RcodeNameError, nil, nil},
		{"MX of a service: NODATA", "web.ns1.svc" + z, dns.TypeMX, dns.RcodeSuccess, nil, nil},
		{"MX of nothing", "nope.ns1.svc" + z, dns.TypeMX, dns.RcodeNameError, nil, nil},
		{"apex SOA", "cluster.local.", dns.TypeSOA, dns.RcodeSuccess, []string{soa}, nil},
		{"apex NS", "cluster.local.", dns.TypeNS, dns.RcodeSuccess,
			[]string{"cluster.local. NS ns.dns.cluster.local."}, []string{"ns.dns.cluster.local. A 10.96.0.53"}},
		{"ns.dns", "ns.dns" + z, dns.TypeA, dns.RcodeSuccess, []string{"ns.dns.cluster.local. A 10.96.0.53"}, nil},
		{"zone transfer refused", "cluster.local.", dns.TypeAXFR, dns.RcodeRefused, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, network := range []string{"udp", "tcp"} {
				m := query(t, s, network, tt.qname, tt.qtype)
				if m.Rcode != tt.rcode {
					t.Fatalf("%s: rcode %s, want %s\n%v", network, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode], m)
				}
				if got, want := summary(m.Answer), sorted(tt.answer); !slices.Equal(got, want) {
					t.Errorf("%s: answer\n%q\nwant\n%q", network, got, want)
				}
				if got, want := summary(m.Extra), sorted(tt.extra); !slices.Equal(got, want) {
					t.Errorf("%s: extra\n%q\nwant\n%q", network, got, want)
				}
				if tt.rcode == dns.RcodeRefused {
					continue
				}
				if !m.Authoritative || m.RecursionAvailable {
					t.Errorf("%s: aa=%v ra=%v, want an authoritative answer without recursion", network, m.Authoritative, m.RecursionAvailable)
				}
				negative := len(m.Answer) == 0
				if negative {
					if len(m.Ns) != 1 || !strings.HasPrefix(summary(m.Ns)[0], soa) {
						t.Errorf("%s: negative answer without the zone SOA in authority: %v", network, m.Ns)
					} else if m.Ns[0].Header().Ttl != 5 || m.Ns[0].(*dns.SOA).Minttl != 5 {
						t.Errorf("%s: SOA TTL %d minttl %d, want 5", network, m.Ns[0].Header().Ttl, m.Ns[0].(*dns.SOA).Minttl)
					}
				}
				for _, r := range m.Answer {
					if r.Header().Rrtype != dns.TypeTXT && strings.HasSuffix(r.Header().Name, z) && r.Header().Ttl != 5 {
						t.Errorf("%s: TTL %d, want 5: %v", network, r.Header().Ttl, r)
					}
				}
			}
		})
	}
	// Nothing of the cluster domain went upstream; only the ExternalName
	// target did.
	for _, name := range up.asked() {
		if strings.HasSuffix(strings.ToLower(name), z) {
			t.Errorf("upstream was asked %s", name)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func TestNotSyncedIsServfail(t *testing.T) {
	up := startUpstream(t)
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Upstreams = []string{up.addr}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first Update: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	s.Update(fixture())
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 {
		t.Fatalf("after Update: %v", m)
	}
	// An Update replaces the view: the service is gone.
	s.Update(nil, nil, nil)
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeNameError {
		t.Fatalf("after removal: %s, want NXDOMAIN", dns.RcodeToString[m.Rcode])
	}
}

func TestPodModes(t *testing.T) {
	up := startUpstream(t)
	for _, tt := range []struct {
		mode  PodMode
		qname string
		rcode int
	}{
		{"", "10-9-9-9.any.pod.cluster.local.", dns.RcodeSuccess}, // insecure by default
		{PodsInsecure, "10-9-9-9.any.pod.cluster.local.", dns.RcodeSuccess},
		{PodsVerified, "10-9-9-9.any.pod.cluster.local.", dns.RcodeNameError},
		{PodsVerified, "10-1-0-5.ns1.pod.cluster.local.", dns.RcodeSuccess},
		{PodsInsecure, "fd00--1.any.pod.cluster.local.", dns.RcodeSuccess}, // AAAA exists: NODATA for A
		{PodsInsecure, "not-an-ip.any.pod.cluster.local.", dns.RcodeNameError},
		{PodsDisabled, "10-1-0-5.ns1.pod.cluster.local.", dns.RcodeNameError},
	} {
		s := startServer(t, up.addr, func(c *Config) { c.Pods = tt.mode })
		if m := query(t, s, "udp", tt.qname, dns.TypeA); m.Rcode != tt.rcode {
			t.Errorf("%s %s: %s, want %s", tt.mode, tt.qname, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.rcode])
		}
	}
}

func TestForwarding(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, nil)

	t.Run("answer", func(t *testing.T) {
		m := query(t, s, "udp", "example.com.", dns.TypeA)
		if m.Rcode != dns.RcodeSuccess || !slices.Equal(summary(m.Answer), []string{"example.com. A 192.0.2.1"}) {
			t.Fatalf("got %v", m)
		}
		if !m.RecursionAvailable {
			t.Error("the upstream's answer should come back as it is (ra set)")
		}
	})
	t.Run("nxdomain", func(t *testing.T) {
		if m := query(t, s, "udp", "nothing.example.", dns.TypeA); m.Rcode != dns.RcodeNameError {
			t.Fatalf("got %s", dns.RcodeToString[m.Rcode])
		}
	})
	t.Run("unknown reverse name falls through", func(t *testing.T) {
		m := query(t, s, "udp", "1.0.0.10.in-addr.arpa.", dns.TypePTR)
		if !slices.Equal(summary(m.Answer), []string{"1.0.0.10.in-addr.arpa. PTR upstream.example."}) {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("truncated upstream answer is fetched over TCP", func(t *testing.T) {
		// Over TCP the client gets all of it: the server retried the
		// upstream over TCP after a truncated UDP answer.
		m := query(t, s, "tcp", "big.example.", dns.TypeTXT)
		if len(m.Answer) != 40 || m.Truncated {
			t.Fatalf("over TCP: %d records, tc=%v; want 40, no tc", len(m.Answer), m.Truncated)
		}
		// A plain UDP client (512 bytes) gets TC and what fits, to retry
		// over TCP.
		m = query(t, s, "udp", "big.example.", dns.TypeTXT)
		if !m.Truncated || len(m.Answer) >= 40 {
			t.Fatalf("over UDP: %d records, tc=%v; want fewer and tc", len(m.Answer), m.Truncated)
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		dead := startServer(t, "127.0.0.1:1", func(c *Config) { c.ForwardTimeout = 200 * time.Millisecond })
		if m := query(t, dead, "udp", "example.com.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
			t.Fatalf("got %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
		}
	})
	t.Run("second upstream used when the first fails", func(t *testing.T) {
		s2 := startServer(t, "127.0.0.1:1", func(c *Config) {
			c.ForwardTimeout = 200 * time.Millisecond
			c.Upstreams = append(c.Upstreams, up.addr)
		})
		if m := query(t, s2, "udp", "example.com.", dns.TypeA); len(m.Answer) != 1 {
			t.Fatalf("got %v", m)
		}
	})
}

func TestForwardConcurrencyBound(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, func(c *Config) {
		c.MaxConcurrentForwards = 2
		c.ForwardTimeout = 30 * time.Second
	})
	var wg sync.WaitGroup
	results := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: 30 * time.Second}
			resp, _, err := c.Exchange(new(dns.Msg).SetQuestion("slow.example.", dns.TypeA), s.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			results <- resp.Rcode
		})
	}
	// Both slots are taken once the upstream has seen both queries.
	<-up.entered
	<-up.entered
	if m := query(t, s, "udp", "example.com.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("third forward: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	// Cluster names do not need a forwarding slot.
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeSuccess {
		t.Errorf("cluster name while forwards are saturated: %s", dns.RcodeToString[m.Rcode])
	}
	close(up.block)
	wg.Wait()
	close(results)
	for rc := range results {
		if rc != dns.RcodeSuccess {
			t.Errorf("blocked query answered %s", dns.RcodeToString[rc])
		}
	}
	if m := query(t, s, "udp", "example.com.", dns.TypeA); m.Rcode != dns.RcodeSuccess {
		t.Errorf("after the slots freed: %s", dns.RcodeToString[m.Rcode])
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mut   func(*Config)
		field string
	}{
		{"no addr", func(c *Config) { c.Addr = "" }, "Addr"},
		{"bad upstream", func(c *Config) { c.Upstreams = []string{"dns.google"} }, "Upstreams"},
		{"bad domain", func(c *Config) { c.ClusterDomain = "a..b" }, "ClusterDomain"},
		{"bad pod mode", func(c *Config) { c.Pods = "sometimes" }, "Pods"},
	} {
		cfg := DefaultConfig()
		cfg.Addr = "127.0.0.1:0"
		tt.mut(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.field)
		}
	}
}

func TestSelfIsNotAnUpstream(t *testing.T) {
	// A resolv.conf naming the server's own address would loop.
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.Upstreams = []string{"127.0.0.1:1"} // replaced below with our own port
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, ln, err := listen(context.Background(), "127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	s.cfg.Addr = addr
	s.fwd.upstreams = []string{addr}
	if err := s.Start(context.Background()); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("started with itself as the only upstream")
	}
}

func TestSharedAddresses(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, nil)
	tcp := corev1.ProtocolTCP
	ports := []discoveryv1.EndpointPort{slicePort("http", 8080, tcp)}
	hl := all(clusterIP("None"), withPorts(corev1.ServicePort{Name: "http", Port: 80, Protocol: tcp}))
	s.Update([]*corev1.Service{svc("ns1", "a", hl), svc("ns1", "b", hl)},
		[]*discoveryv1.EndpointSlice{
			// The same endpoint in two slices of a (as during a slice
			// split), and in b under a hostname.
			slice("ns1", "a", "a-1", ports, ep{addr: "10.1.0.1"}),
			slice("ns1", "a", "a-2", ports, ep{addr: "10.1.0.1"}, ep{addr: "10.1.0.2"}),
			slice("ns1", "b", "b-1", ports, ep{addr: "10.1.0.1", hostname: "b-0"}),
		}, nil)
	for _, tt := range []struct {
		qname  string
		qtype  uint16
		answer []string
	}{
		{"a.ns1.svc.cluster.local.", dns.TypeA, []string{"a.ns1.svc.cluster.local. A 10.1.0.1", "a.ns1.svc.cluster.local. A 10.1.0.2"}},
		{"10-1-0-1.a.ns1.svc.cluster.local.", dns.TypeA, []string{"10-1-0-1.a.ns1.svc.cluster.local. A 10.1.0.1"}},
		{"_http._tcp.a.ns1.svc.cluster.local.", dns.TypeSRV, []string{
			"_http._tcp.a.ns1.svc.cluster.local. SRV 0 33 8080 10-1-0-1.a.ns1.svc.cluster.local.",
			"_http._tcp.a.ns1.svc.cluster.local. SRV 0 33 8080 10-1-0-2.a.ns1.svc.cluster.local.",
		}},
		{"1.0.1.10.in-addr.arpa.", dns.TypePTR, []string{
			"1.0.1.10.in-addr.arpa. PTR 10-1-0-1.a.ns1.svc.cluster.local.",
			"1.0.1.10.in-addr.arpa. PTR b-0.b.ns1.svc.cluster.local.",
		}},
	} {
		m := query(t, s, "udp", tt.qname, tt.qtype)
		if got := summary(m.Answer); !slices.Equal(got, sorted(tt.answer)) {
			t.Errorf("%s: got\n%q\nwant\n%q", tt.qname, got, sorted(tt.answer))
		}
	}
}

type staticLister struct {
	mu       sync.Mutex
	services []*corev1.Service
}

func (l *staticLister) Services() []*corev1.Service {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.services
}
func (l *staticLister) EndpointSlices() []*discoveryv1.EndpointSlice { return nil }
func (l *staticLister) Pods() []*corev1.Pod                          { return nil }

func TestRunRebuildsOnChange(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, nil)
	l := &staticLister{}
	changed := make(chan struct{}) // unbuffered: a send returns once Run has it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, l, changed); close(done) }()
	defer func() { cancel(); <-done }()

	// changed is unbuffered, so the second send returns only when Run is
	// back waiting: the rebuild for the first is complete.
	settle := func() { changed <- struct{}{}; changed <- struct{}{} }
	settle()
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeNameError {
		t.Fatalf("empty lister: %s", dns.RcodeToString[m.Rcode])
	}
	l.mu.Lock()
	l.services = []*corev1.Service{svc("ns1", "web", clusterIP("10.96.0.10"))}
	l.mu.Unlock()
	settle()
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); len(m.Answer) != 1 {
		t.Fatalf("after the change: %v", m)
	}
}

func TestLargeAnswers(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, nil)
	var eps []ep
	for i := range 100 {
		eps = append(eps, ep{addr: "10.2.0." + strconv.Itoa(i+1)})
	}
	s.Update([]*corev1.Service{svc("ns1", "many", clusterIP("None"))},
		[]*discoveryv1.EndpointSlice{slice("ns1", "many", "many-1", nil, eps...)}, nil)
	const name = "many.ns1.svc.cluster.local."
	if m := query(t, s, "tcp", name, dns.TypeA); len(m.Answer) != 100 || m.Truncated {
		t.Errorf("TCP: %d answers tc=%v, want 100", len(m.Answer), m.Truncated)
	}
	m := query(t, s, "udp", name, dns.TypeA)
	if !m.Truncated || len(m.Answer) == 0 || len(m.Answer) >= 100 {
		t.Errorf("UDP, 512 bytes: %d answers tc=%v, want some and tc", len(m.Answer), m.Truncated)
	}
	// With EDNS0 and a 4096-byte buffer it all fits, and the answer has
	// an OPT record.
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	req := new(dns.Msg).SetQuestion(name, dns.TypeA)
	req.SetEdns0(4096, false)
	m, _, err := c.Exchange(req, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 100 || m.Truncated || m.IsEdns0() == nil {
		t.Errorf("UDP, EDNS0 4096: %d answers tc=%v opt=%v", len(m.Answer), m.Truncated, m.IsEdns0())
	}
}

func TestForwardCanceled(t *testing.T) {
	up := startUpstream(t)
	f := newForwarder([]string{up.addr}, 30*time.Second, 10)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := f.exchange(ctx, new(dns.Msg).SetQuestion("slow.example.", dns.TypeA))
		errc <- err
	}()
	<-up.entered // the upstream holds the query; only a cancel can end it now
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestQueryConcurrencyBound(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, func(c *Config) {
		c.MaxConcurrentQueries = 1
		c.ForwardTimeout = 30 * time.Second
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Net: "udp", Timeout: 30 * time.Second}
		c.Exchange(new(dns.Msg).SetQuestion("slow.example.", dns.TypeA), s.Addr().String())
	}()
	<-up.entered // the one slot is taken
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("second query: %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	close(up.block)
	<-done
	if m := query(t, s, "udp", "web.ns1.svc.cluster.local.", dns.TypeA); m.Rcode != dns.RcodeSuccess {
		t.Errorf("after the slot freed: %s", dns.RcodeToString[m.Rcode])
	}
}

func TestNotAQuery(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, up.addr, nil)
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	m := new(dns.Msg).SetNotify("cluster.local.")
	resp, _, err := c.Exchange(m, s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s, want NOTIMP", dns.RcodeToString[resp.Rcode])
	}
	if len(up.asked()) != 0 {
		t.Errorf("forwarded: %v", up.asked())
	}
}
