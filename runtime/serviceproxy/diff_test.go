package serviceproxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

type state struct {
	services []*corev1.Service
	slices   []*discoveryv1.EndpointSlice
}

func TestDiff(t *testing.T) {
	two := state{
		[]*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		[]*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.0.3", "node-a"), ready("10.244.0.4", "node-a"))},
	}
	one := state{two.services, []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready("10.244.0.3", "node-a"))}}
	none := state{two.services, nil}
	other := state{
		append([]*corev1.Service{svc("ns", "db", "10.96.0.20", []corev1.ServicePort{port("", corev1.ProtocolUDP, 53, "53")})}, two.services...),
		append([]*discoveryv1.EndpointSlice{slice("ns", "db", "1", []slicePort{{"", corev1.ProtocolUDP, 53}}, ready("10.244.0.9", "node-a"))}, two.slices...),
	}
	withAffinity := func(seconds int32) state {
		return state{[]*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, affinity(seconds))}, one.slices}
	}
	cases := []struct {
		name     string
		from, to state
		want     string
	}{{
		name: "nothing changed: nothing to do",
		from: two, to: two,
		want: ``,
	}, {
		name: "a service added",
		from: state{}, to: one,
		want: `
add chain endpoint-ns/web/tcp/http__10.244.0.3/8080
add chain service-ns/web/tcp/http
add rule endpoint-ns/web/tcp/http__10.244.0.3/8080 ip saddr 10.244.0.3 jump mark-for-masquerade
add rule endpoint-ns/web/tcp/http__10.244.0.3/8080 meta l4proto tcp dnat to 10.244.0.3:8080
add rule service-ns/web/tcp/http ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule service-ns/web/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }
add element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }`,
	}, {
		name: "one endpoint of two removed: its chain goes, the service chain is rewritten, the map is untouched",
		from: two, to: one,
		want: `
flush chain endpoint-ns/web/tcp/http__10.244.0.4/8080
flush chain service-ns/web/tcp/http
delete chain endpoint-ns/web/tcp/http__10.244.0.4/8080
add rule service-ns/web/tcp/http ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule service-ns/web/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }`,
	}, {
		name: "last endpoint removed: the element moves to no-endpoint-services before the chains go",
		from: one, to: none,
		want: `
delete element service-ips { 10.96.0.10 . tcp . 80 : goto service-ns/web/tcp/http }
flush chain endpoint-ns/web/tcp/http__10.244.0.3/8080
flush chain service-ns/web/tcp/http
delete chain endpoint-ns/web/tcp/http__10.244.0.3/8080
delete chain service-ns/web/tcp/http
add element no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }`,
	}, {
		name: "another service changes nothing of this one",
		from: two, to: other,
		want: `
add chain endpoint-ns/db/udp/__10.244.0.9/53
add chain service-ns/db/udp/
add rule endpoint-ns/db/udp/__10.244.0.9/53 ip saddr 10.244.0.9 jump mark-for-masquerade
add rule endpoint-ns/db/udp/__10.244.0.9/53 meta l4proto udp dnat to 10.244.0.9:53
add rule service-ns/db/udp/ ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule service-ns/db/udp/ numgen random mod 1 vmap { 0 : goto endpoint-ns/db/udp/__10.244.0.9/53 }
add element service-ips { 10.96.0.20 . udp . 53 : goto service-ns/db/udp/ }`,
	}, {
		name: "a service deleted",
		from: other, to: two,
		want: `
delete element service-ips { 10.96.0.20 . udp . 53 : goto service-ns/db/udp/ }
flush chain endpoint-ns/db/udp/__10.244.0.9/53
flush chain service-ns/db/udp/
delete chain endpoint-ns/db/udp/__10.244.0.9/53
delete chain service-ns/db/udp/`,
	}, {
		name: "affinity timeout changed: sets recreated after the chains that use them are flushed",
		from: withAffinity(60), to: withAffinity(120),
		want: `
delete set affinity-ns/web/tcp/http__10.244.0.3/8080
add set affinity-ns/web/tcp/http__10.244.0.3/8080 timeout 2m0s`,
	}, {
		name: "affinity turned off: sets deleted",
		from: withAffinity(60), to: one,
		want: `
flush chain endpoint-ns/web/tcp/http__10.244.0.3/8080
flush chain service-ns/web/tcp/http
delete set affinity-ns/web/tcp/http__10.244.0.3/8080
add rule endpoint-ns/web/tcp/http__10.244.0.3/8080 ip saddr 10.244.0.3 jump mark-for-masquerade
add rule endpoint-ns/web/tcp/http__10.244.0.3/8080 meta l4proto tcp dnat to 10.244.0.3:8080
add rule service-ns/web/tcp/http ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule service-ns/web/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }`,
	}, {
		name: "an endpoint's readiness flips to terminating-but-serving while another is ready: it leaves the rotation",
		from: two,
		to: state{two.services, []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort,
			ready("10.244.0.3", "node-a"), terminating("10.244.0.4", "node-a", true))}},
		want: `
flush chain endpoint-ns/web/tcp/http__10.244.0.4/8080
flush chain service-ns/web/tcp/http
delete chain endpoint-ns/web/tcp/http__10.244.0.4/8080
add rule service-ns/web/tcp/http ip saddr != 10.244.0.0/16 jump mark-for-masquerade
add rule service-ns/web/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-ns/web/tcp/http__10.244.0.3/8080 }`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			from := desiredOf(t, &cfg, nil, tc.from.services, tc.from.slices)
			to := desiredOf(t, &cfg, from, tc.to.services, tc.to.slices)
			got := diff(from, to).String()
			if want := strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("got:\n%s\n\nwant:\n%s", got, want)
			}
			// Applying the plan must give exactly what a from-scratch
			// computation gives.
			if got, want := dump(to), dump(desiredOf(t, &cfg, nil, tc.to.services, tc.to.slices)); got != want {
				t.Errorf("incremental state differs from a fresh one:\n%s\n\nfresh:\n%s", got, want)
			}
		})
	}
}

// TestComputeReusesUnchangedFragments: a Sync's rule work grows with what
// changed; an unchanged service port keeps its fragment (same pointer), so
// diff does not even look at its chains.
func TestComputeReusesUnchangedFragments(t *testing.T) {
	cfg := testConfig()
	services := []*corev1.Service{svc("ns", "a", "10.96.0.1", tcp80), svc("ns", "b", "10.96.0.2", tcp80)}
	s1 := []*discoveryv1.EndpointSlice{
		slice("ns", "a", "1", httpPort, ready("10.244.0.3", "node-a")),
		slice("ns", "b", "1", httpPort, ready("10.244.0.4", "node-a")),
	}
	d1 := desiredOf(t, &cfg, nil, services, s1)
	s2 := []*discoveryv1.EndpointSlice{s1[0], slice("ns", "b", "1", httpPort, ready("10.244.0.5", "node-a"))}
	d2 := desiredOf(t, &cfg, d1, services, s2)
	if d1.frags["ns/a/tcp/http"] != d2.frags["ns/a/tcp/http"] {
		t.Error("unchanged service a got a new fragment")
	}
	if d1.frags["ns/b/tcp/http"] == d2.frags["ns/b/tcp/http"] {
		t.Error("changed service b kept its old fragment")
	}
}

func TestNames(t *testing.T) {
	p := &svcPort{name: "ns/web/tcp/http"}
	e := endpoint{addr: netip.MustParseAddr("10.244.0.3"), port: 8080}
	// kube-proxy's form: prefix, 8 base32 characters of the name's SHA-256,
	// the readable name.
	if got, want := chainName("service", p), "service-"+hashName("ns/web/tcp/http")+"-ns/web/tcp/http"; got != want {
		t.Errorf("chainName = %q, want %q", got, want)
	}
	if got := chainName("service", p); !hashed.MatchString(got) {
		t.Errorf("chainName %q does not have the hashed form", got)
	}
	ec, as := endpointChainName(p, e), affinitySetName(p, e)
	if !strings.HasSuffix(ec, "-ns/web/tcp/http__10.244.0.3/8080") || !hashed.MatchString(ec) {
		t.Errorf("endpointChainName = %q", ec)
	}
	if strings.TrimPrefix(ec, "endpoint-") != strings.TrimPrefix(as, "affinity-") {
		t.Errorf("affinity set %q does not match its endpoint chain %q", as, ec)
	}
	// The longest names Kubernetes allows still fit nftables' 255 bytes.
	long := &svcPort{name: strings.Repeat("n", 63) + "/" + strings.Repeat("s", 63) + "/sctp/" + strings.Repeat("p", 15)}
	if n := len(endpointChainName(long, endpoint{addr: netip.MustParseAddr("255.255.255.255"), port: 65535})); n > 255 {
		t.Errorf("longest endpoint chain name is %d bytes", n)
	}
	if a, b := hashName("ns/a/tcp/x"), hashName("ns/b/tcp/x"); a == b {
		t.Errorf("hash collision %q", a)
	}
}

func TestValidate(t *testing.T) {
	good := testConfig()
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"NodeName", func(c *Config) { c.NodeName = "" }},
		{"NodeIPs", func(c *Config) { c.NodeIPs = nil }},
		{"NodeIPs", func(c *Config) { c.NodeIPs = []netip.Addr{netip.MustParseAddr("fd00::1")} }},
		{"ClusterCIDR", func(c *Config) { c.ClusterCIDR = netip.Prefix{} }},
		{"MasqueradeBit", func(c *Config) { c.MasqueradeBit = 32 }},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range cases {
		c := good
		c.NodeIPs = append([]netip.Addr(nil), good.NodeIPs...)
		tc.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v, want an ErrInvalidConfig naming the field", tc.field, err)
		}
	}
}

func TestStatic(t *testing.T) {
	cfg := testConfig()
	st := staticRules(&cfg)
	var lines []string
	for _, b := range st.base {
		for _, r := range b.Rules {
			lines = append(lines, b.Name+": "+r.String())
		}
	}
	for _, c := range st.regular {
		for _, r := range c.Rules {
			lines = append(lines, c.Name+": "+r.String())
		}
	}
	got := strings.Join(lines, "\n")
	want := `filter-input: ct state new jump nodeport-endpoints-check
filter-input: ct state new jump service-endpoints-check
filter-forward: ct state new jump service-endpoints-check
filter-output: ct state new jump nodeport-endpoints-check
filter-output: ct state new jump service-endpoints-check
nat-prerouting: jump services
nat-output: jump services
nat-postrouting: jump masquerading
services: ip daddr . meta l4proto . th dport vmap @service-ips
services: ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
service-endpoints-check: ip daddr . meta l4proto . th dport vmap @no-endpoint-services
nodeport-endpoints-check: ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
masquerading: meta mark & 0x00004000 == 0 return
masquerading: meta mark set meta mark ^ 0x00004000
masquerading: masquerade fully-random
mark-for-masquerade: meta mark set meta mark | 0x00004000
reject-chain: meta l4proto tcp reject with tcp reset
reject-chain: reject`
	if got != want {
		t.Errorf("got:\n%s\n\nwant:\n%s", got, want)
	}
	if len(st.nodeIPs) != 1 || st.nodeIPs[0].String() != "nodeport-ips { 192.168.77.1 }" {
		t.Errorf("node IPs: %v", st.nodeIPs)
	}
}
