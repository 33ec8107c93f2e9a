package serviceproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gossipod/gossipod/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

const (
	benchServices  = 1000
	benchEndpoints = 10
)

// benchState is benchServices ClusterIP services with benchEndpoints ready
// endpoints each.
func benchState() ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var services []*corev1.Service
	var eps []*discoveryv1.EndpointSlice
	for i := range benchServices {
		name := fmt.Sprintf("svc-%d", i)
		services = append(services, svc("bench", name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), tcp80))
		var list []ep
		for j := range benchEndpoints {
			k := i*benchEndpoints + j
			list = append(list, ready(fmt.Sprintf("10.244.%d.%d", k/250, k%250+1), "node-a"))
		}
		eps = append(eps, slice("bench", name, "1", httpPort, list...))
	}
	return services, eps
}

// benchProxier programs a namespace of its own.
func benchProxier(b *testing.B) *Proxier {
	b.Helper()
	testenv.NeedRoot(b)
	name := fmt.Sprintf("gspb%d", os.Getpid()%100000)
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v: %s", err, out)
	}
	b.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	p, err := New(Config{
		NodeName:    "node-a",
		NodeIPs:     []netip.Addr{netip.MustParseAddr("192.168.77.1")},
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		NetNS:       "/run/netns/" + name,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkSyncFull is the first Sync of 1,000 services × 10 endpoints: the
// whole table in one transaction.
func BenchmarkSyncFull(b *testing.B) {
	p := benchProxier(b)
	services, eps := benchState()
	ctx := context.Background()
	for b.Loop() {
		p.last = nil // as after a restart
		if err := p.Sync(ctx, services, eps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSyncOneEndpoint is an incremental Sync, among 1,000 services ×
// 10 endpoints, where one endpoint of one service goes away or comes back.
func BenchmarkSyncOneEndpoint(b *testing.B) {
	p := benchProxier(b)
	services, eps := benchState()
	ctx := context.Background()
	if err := p.Sync(ctx, services, eps); err != nil {
		b.Fatal(err)
	}
	changed := append([]*discoveryv1.EndpointSlice(nil), eps...)
	short := eps[500].DeepCopy()
	short.Endpoints = short.Endpoints[1:]
	changed[500] = short
	states := [2][]*discoveryv1.EndpointSlice{changed, eps}
	i := 0
	for b.Loop() {
		if err := p.Sync(ctx, services, states[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSyncNoChange is a Sync with nothing to do: the cost of reading
// 1,000 services' inputs and finding them unchanged.
func BenchmarkSyncNoChange(b *testing.B) {
	p := benchProxier(b)
	services, eps := benchState()
	ctx := context.Background()
	if err := p.Sync(ctx, services, eps); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := p.Sync(ctx, services, eps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect is the cost of a new TCP connection from a pod to
// another pod's server (connect, read its one-line answer, close), straight
// to the pod's IP and through a ClusterIP whose one endpoint is that pod:
// the difference is what the service proxy's DNAT adds to every new
// connection. Sequential, so ns/op is the latency and conns/s the rate of
// one client.
func BenchmarkConnect(b *testing.B) {
	l := newLab(b)
	l.servers(l.pod2, "pod2", ":8080")
	p := l.proxier()
	services := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)}
	eps := []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready(pod2IP, "node-a"))}
	if err := p.Sync(context.Background(), services, eps); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, addr string }{
		{"pod IP", pod2IP + ":8080"},
		{"cluster IP", "10.96.0.10:80"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			err := inNetNS(l.pod1, func() error {
				buf := make([]byte, 64)
				for b.Loop() {
					c, err := net.DialTimeout("tcp4", bc.addr, 2*time.Second)
					if err != nil {
						return err
					}
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return err
					}
					c.Close()
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
		})
	}
}
