package network

import (
	"io"
	"slices"
	"testing"
	"time"
)

// BenchmarkSetup measures sandbox network setup (CNI ADD of lo and eth0: bridge,
// host-local, and portmap when the pod has a hostPort) and teardown (CNI DEL) on a
// test host, reporting p50 and p99 of each in milliseconds; netnsGone tears down after
// the pod's namespace was deleted. Creating and deleting namespaces is not timed; the
// times include entering the test host's namespace (tens of µs).
//
//	go test -run '^$' -bench BenchmarkSetup -benchtime 100x ./runtime/network/
func BenchmarkSetup(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ports []PortMapping
		gone  bool // the namespace is deleted (untimed) before Teardown
	}{
		{"plain", nil, false},
		{"hostPort", []PortMapping{{HostPort: 18080, ContainerPort: 80}}, false},
		{"netnsGone", nil, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			nw := newTestNet(b, 1)
			n := nw.startNode(0, "10.88.1.0/24")
			if err := n.syncRoutes(); err != nil {
				b.Fatal(err)
			}
			warm := nw.newPod(bc.ports...)
			n.mustSetup(warm)
			n.mustTeardown(warm)

			var adds, dels []time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				pod := nw.newPod(bc.ports...)
				b.StartTimer()
				t0 := time.Now()
				if _, err := n.setup(pod); err != nil {
					b.Fatal(err)
				}
				adds = append(adds, time.Since(t0))
				if bc.gone {
					b.StopTimer()
					if err := deleteNetNS(pod.NetNSPath); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				t1 := time.Now()
				if err := n.teardown(pod); err != nil {
					b.Fatal(err)
				}
				dels = append(dels, time.Since(t1))
				b.StopTimer()
				if err := deleteNetNS(pod.NetNSPath); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.StopTimer()
			reportPercentiles(b, adds, time.Millisecond, "setup-ms")
			reportPercentiles(b, dels, time.Millisecond, "teardown-ms")
		})
	}
}

// BenchmarkPodToPodRTT measures the TCP round trip of one byte between pods on two
// test hosts (host-gw route, two bridges, the hosts' veths and the shared test bridge
// on the way), over one established connection; p50 and p99 in microseconds.
func BenchmarkPodToPodRTT(b *testing.B) {
	nw := newTestNet(b, 2)
	na, nb := nw.startNode(0, "10.88.1.0/24"), nw.startNode(1, "10.88.2.0/24")
	routes := []Route{{"10.88.1.0/24", na.host.ip}, {"10.88.2.0/24", nb.host.ip}}
	for _, n := range []*node{na, nb} {
		if err := n.syncRoutes(routes...); err != nil {
			b.Fatal(err)
		}
	}
	pa, pb := nw.newPod(), nw.newPod()
	na.mustSetup(pa)
	rb := nb.mustSetup(pb)
	echoServer(b, pb.NetNSPath, rb.IP.String()+":8080")
	c, _, err := dial(pa.NetNSPath, rb.IP.String()+":8080")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Time{})

	buf := []byte{0}
	rtts := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, rtts, time.Microsecond, "rtt-µs")
}

// reportPercentiles reports the p50 and p99 of ds in unit as "p50-<name>" and
// "p99-<name>".
func reportPercentiles(b *testing.B, ds []time.Duration, unit time.Duration, name string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))]) / float64(unit)
	}
	b.ReportMetric(at(0.50), "p50-"+name)
	b.ReportMetric(at(0.99), "p99-"+name)
}
