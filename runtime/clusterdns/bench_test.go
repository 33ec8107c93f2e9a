package clusterdns

import (
	"fmt"
	"net"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// bigCluster is nServices services in 10 namespaces, every tenth one
// headless, each with nEndpoints ready endpoints in one slice.
func bigCluster(nServices, nEndpoints int) ([]*corev1.Service, []*discoveryv1.EndpointSlice, []*corev1.Pod) {
	var services []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	var pods []*corev1.Pod
	ports := []discoveryv1.EndpointPort{slicePort("http", 8080, corev1.ProtocolTCP)}
	for i := range nServices {
		ns, name := fmt.Sprintf("ns%d", i%10), fmt.Sprintf("svc%d", i)
		ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
		if i%10 == 9 {
			ip = "None"
		}
		services = append(services, svc(ns, name, all(clusterIP(ip),
			withPorts(corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}))))
		var eps []ep
		for j := range nEndpoints {
			addr := fmt.Sprintf("10.%d.%d.%d", 100+i/250, i%250, j+1)
			eps = append(eps, ep{addr: addr})
			pods = append(pods, pod(ns, fmt.Sprintf("%s-%d", name, j), addr, corev1.PodRunning))
		}
		slices = append(slices, slice(ns, name, name+"-1", ports, eps...))
	}
	return services, slices, pods
}

// BenchmarkIndexRebuild is the cost of one Update at 1,000 services of
// 10 endpoints (and their 10,000 pods): what every change of the cluster
// state costs the node.
func BenchmarkIndexRebuild(b *testing.B) {
	services, slices, pods := bigCluster(1000, 10)
	s, err := New(Config{Addr: "127.0.0.1:0", Upstreams: []string{"127.0.0.1:53"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Update(services, slices, pods)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rebuilds/s")
}

// benchQueries sends names round-robin from parallel clients over loopback
// UDP, one connection each, and reports queries/s.
func benchQueries(b *testing.B, names []string, qtype uint16) {
	s := startServer(b, "127.0.0.1:1", nil)
	s.Update(bigCluster(1000, 10))
	addr := s.Addr().String()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp"}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := new(dns.Msg)
		i := 0
		for pb.Next() {
			m.SetQuestion(names[i%len(names)], qtype)
			i++
			resp, _, err := c.ExchangeWithConn(m, conn)
			if err != nil {
				b.Error(err)
				return
			}
			if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) == 0 {
				b.Errorf("%s: %s, %d answers", m.Question[0].Name, dns.RcodeToString[resp.Rcode], len(resp.Answer))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkQueryClusterIP: A of cluster-IP services, 1,000 services loaded.
func BenchmarkQueryClusterIP(b *testing.B) {
	var names []string
	for i := range 1000 {
		if i%10 != 9 {
			names = append(names, fmt.Sprintf("svc%d.ns%d.svc.cluster.local.", i, i%10))
		}
	}
	benchQueries(b, names, dns.TypeA)
}

// BenchmarkQueryHeadless: A of headless services (10 records each).
func BenchmarkQueryHeadless(b *testing.B) {
	var names []string
	for i := 9; i < 1000; i += 10 {
		names = append(names, fmt.Sprintf("svc%d.ns%d.svc.cluster.local.", i, i%10))
	}
	benchQueries(b, names, dns.TypeA)
}

// BenchmarkQuerySRV: SRV of a named port of cluster-IP services.
func BenchmarkQuerySRV(b *testing.B) {
	var names []string
	for i := range 1000 {
		if i%10 != 9 {
			names = append(names, fmt.Sprintf("_http._tcp.svc%d.ns%d.svc.cluster.local.", i, i%10))
		}
	}
	benchQueries(b, names, dns.TypeSRV)
}

// BenchmarkServeDNS is the handler alone, without sockets: what a query
// costs the server itself.
func BenchmarkServeDNS(b *testing.B) {
	s, err := New(Config{Addr: "127.0.0.1:0", Upstreams: []string{"127.0.0.1:53"}})
	if err != nil {
		b.Fatal(err)
	}
	s.Update(bigCluster(1000, 10))
	req := new(dns.Msg).SetQuestion("svc5.ns5.svc.cluster.local.", dns.TypeA)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{}
		for pb.Next() {
			s.ServeDNS(w, req)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

type discardWriter struct{ dns.ResponseWriter }

func (*discardWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
}
func (*discardWriter) WriteMsg(m *dns.Msg) error {
	_, err := m.Pack()
	return err
}
