package serviceproxy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

var (
	httpPort = []slicePort{{"http", corev1.ProtocolTCP, 8080}}
	tcp80    = []corev1.ServicePort{port("http", corev1.ProtocolTCP, 80, "web")}
)

func TestBuild(t *testing.T) {
	cases := []struct {
		name     string
		services []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		want     string
	}{{
		name: "cluster IP, TCP and UDP ports, named target ports resolved by slice port name",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", []corev1.ServicePort{
			port("http", corev1.ProtocolTCP, 80, "web"),
			port("dns", corev1.ProtocolUDP, 53, "dns"),
		})},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1",
			[]slicePort{{"http", corev1.ProtocolTCP, 8080}, {"dns", corev1.ProtocolUDP, 5353}},
			ready("10.244.0.3", "node-a"), ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain endpoint-ns/web/udp/dns__10.244.0.3/5353
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto udp dnat to 10.244.0.3:5353
chain endpoint-ns/web/udp/dns__10.244.1.2/5353
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto udp dnat to 10.244.1.2:5353
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080, 1 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
chain service-ns/web/udp/dns
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/udp/dns__10.244.0.3/5353, 1 : goto endpoint-ns/web/udp/dns__10.244.1.2/5353 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }
element service-ips { 10.96.0.10 . udp . 53 : goto service-ns/web/udp/dns }`,
	}, {
		name:     "no endpoints: rejected",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		want:     `element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }`,
	}, {
		name:     "endpoints only for another port name or protocol: rejected",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		slices: []*discoveryv1.EndpointSlice{
			slice("ns", "web", "1", []slicePort{{"metrics", corev1.ProtocolTCP, 9090}}, ready("10.244.0.3", "node-a")),
			slice("ns", "web", "2", []slicePort{{"http", corev1.ProtocolUDP, 8080}}, ready("10.244.0.4", "node-a")),
			slice("other", "web", "1", httpPort, ready("10.244.0.5", "node-a")),
		},
		want: `element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }`,
	}, {
		name: "headless and ExternalName services are ignored",
		services: []*corev1.Service{
			svc("ns", "headless", "None", tcp80),
			svc("ns", "ext", "", tcp80, func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
			svc("ns", "v6", "fd00::1", tcp80),
		},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "headless", "1", httpPort, ready("10.244.0.3", "node-a"))},
		want:   ``,
	}, {
		name:     "not ready endpoints are left out while one is ready",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			ready("10.244.0.3", "node-a"), terminating("10.244.0.4", "node-a", true),
			ep{ip: "10.244.0.5", node: "node-a", notReady: true})},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name:     "none ready: serving terminating endpoints are used, not the non-serving ones",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			terminating("10.244.0.4", "node-a", true), terminating("10.244.0.5", "node-a", false),
			ep{ip: "10.244.0.6", node: "node-a", notReady: true})},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.4/8080
  ip saddr 10.244.0.4 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.4:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.4/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name:     "an endpoint in two slices counts once, as its readiest copy",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		slices: []*discoveryv1.EndpointSlice{
			slice("ns", "web", "old", httpPort, terminating("10.244.0.3", "node-a", false)),
			slice("ns", "web", "new", httpPort, ready("10.244.0.3", "node-a")),
		},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name:     "node port, external policy Cluster: masquerade and use every endpoint",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080))},
		slices:   []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain external-ns/web/tcp/http
  jump mark-for-masquerade
  goto service-ns/web/tcp/http
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }
element service-nodeports { tcp . 30080 : goto external-ns/web/tcp/http }`,
	}, {
		name:     "node port, external policy Local: this node's endpoints, client address kept",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080), externalLocal)},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			ready("10.244.0.3", "node-a"), ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain external-ns/web/tcp/http
  ip saddr 10.244.0.0/16 goto service-ns/web/tcp/http
  fib saddr type local jump mark-for-masquerade
  fib saddr type local goto service-ns/web/tcp/http
  goto local-ns/web/tcp/http
chain local-ns/web/tcp/http
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080, 1 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }
element service-nodeports { tcp . 30080 : goto external-ns/web/tcp/http }`,
	}, {
		name:     "node port, external policy Local, endpoints elsewhere only: node port drops, cluster IP works",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080), externalLocal)},
		slices:   []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
element no-endpoint-nodeports { tcp . 30080 : drop }
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name:     "node port without endpoints: both rejected",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080))},
		want: `
element no-endpoint-nodeports { tcp . 30080 : goto reject-chain }
element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }`,
	}, {
		name:     "internal policy Local: the cluster IP leads to this node's endpoints",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, internalLocal)},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			ready("10.244.0.3", "node-a"), ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain local-ns/web/tcp/http
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080, 1 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
element service-ips { 10.96.0.10 . tcp . 80 : goto local-ns/web/tcp/http }`,
	}, {
		name:     "internal policy Local, endpoints elsewhere only: dropped",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, internalLocal)},
		slices:   []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.1.2:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
element no-endpoint-services { 10.96.0.10 . tcp . 80 : drop }`,
	}, {
		name:     "session affinity ClientIP: a set per endpoint, checked before the random pick",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, affinity(60))},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			ready("10.244.0.3", "node-a"), ready("10.244.1.2", "node-b"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  update @affinity-ns/web/tcp/http__10.244.0.3/8080 { ip saddr }
  meta l4proto tcp dnat to 10.244.0.3:8080
chain endpoint-ns/web/tcp/http__10.244.1.2/8080
  ip saddr 10.244.1.2 jump mark-for-masquerade
  update @affinity-ns/web/tcp/http__10.244.1.2/8080 { ip saddr }
  meta l4proto tcp dnat to 10.244.1.2:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  ip saddr @affinity-ns/web/tcp/http__10.244.0.3/8080 goto endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr @affinity-ns/web/tcp/http__10.244.1.2/8080 goto endpoint-ns/web/tcp/http__10.244.1.2/8080
  numgen random mod 2 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080, 1 : goto endpoint-ns/web/tcp/http__10.244.1.2/8080 }
set affinity-ns/web/tcp/http__10.244.0.3/8080 timeout 1m0s
set affinity-ns/web/tcp/http__10.244.1.2/8080 timeout 1m0s
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name:     "session affinity without a timeout: Kubernetes' 3 hours",
		services: []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, affinity(0))},
		slices:   []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.0.3", "node-a"))},
		want: `
chain endpoint-ns/web/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  update @affinity-ns/web/tcp/http__10.244.0.3/8080 { ip saddr }
  meta l4proto tcp dnat to 10.244.0.3:8080
chain service-ns/web/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  ip saddr @affinity-ns/web/tcp/http__10.244.0.3/8080 goto endpoint-ns/web/tcp/http__10.244.0.3/8080
  numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
set affinity-ns/web/tcp/http__10.244.0.3/8080 timeout 3h0m0s
element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name: "two services on one cluster IP and port: the smaller name wins, in either map",
		services: []*corev1.Service{
			svc("ns", "b", "10.96.0.10", tcp80),
			svc("ns", "a", "10.96.0.10", tcp80),
		},
		slices: []*discoveryv1.EndpointSlice{slice("ns", "b", "1", httpPort, ready("10.244.0.3", "node-a"))},
		want: `
chain endpoint-ns/b/tcp/http__10.244.0.3/8080
  ip saddr 10.244.0.3 jump mark-for-masquerade
  meta l4proto tcp dnat to 10.244.0.3:8080
chain service-ns/b/tcp/http
  ip saddr != 10.244.0.0/16 jump mark-for-masquerade
  numgen random mod 1 vmap { 0 : goto endpoint-ns/b/tcp/http__10.244.0.3/8080 }
element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			got := dump(desiredOf(t, &cfg, nil, tc.services, tc.slices))
			want := strings.TrimPrefix(tc.want, "\n")
			if got != want {
				t.Errorf("got:\n%s\n\nwant:\n%s", got, want)
			}
		})
	}
}
