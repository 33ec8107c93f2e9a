package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// newPod creates a pod namespace and names the pod after it.
func (nw *testNet) newPod(ports ...PortMapping) PodNetwork {
	path := nw.newPodNS()
	return PodNetwork{
		ID: "uid-" + path[len(testNetnsDir)+1:], Namespace: "default", Name: "pod" + fmt.Sprint(nw.pods),
		NetNSPath: path, HostPorts: ports,
	}
}

func mustInCIDR(t *testing.T, ip net.IP, cidr string) {
	t.Helper()
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || !netip.MustParsePrefix(cidr).Contains(a) {
		t.Fatalf("pod IP %v is not in %s", ip, cidr)
	}
}

func TestSetupSameHost(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	p1, p2 := nw.newPod(), nw.newPod()
	r1, r2 := a.mustSetup(p1), a.mustSetup(p2)
	for _, r := range []Result{r1, r2} {
		mustInCIDR(t, r.IP, "10.88.1.0/24")
		if !r.Gateway.Equal(net.ParseIP("10.88.1.1")) || r.Interface != "eth0" {
			t.Fatalf("result %+v: want gateway 10.88.1.1 (the bridge) on eth0", r)
		}
	}
	if r1.IP.Equal(r2.IP) {
		t.Fatalf("both pods got %v", r1.IP)
	}

	// lo is up: a pod reaches itself on 127.0.0.1.
	echoServer(t, p1.NetNSPath, "127.0.0.1:7000")
	mustReach(t, p1.NetNSPath, "127.0.0.1:7000")
	// Pod to pod on one host, by IP, with the source address unchanged.
	echoServer(t, p2.NetNSPath, r2.IP.String()+":8080")
	if seen := mustReach(t, p1.NetNSPath, r2.IP.String()+":8080"); seen != r1.IP.String() {
		t.Errorf("pod 2 saw the connection from %s, want pod 1's %s", seen, r1.IP)
	}

	// The plugins ran in the host's namespace (they inherit the locked thread's), not
	// in the test process's.
	if err := a.host.do(func() error { _, err := linkByName(a.cfg.BridgeName); return err }); err != nil {
		t.Errorf("bridge in the host: %v", err)
	}
	if _, err := linkByName(a.cfg.BridgeName); err == nil {
		t.Errorf("bridge %s exists in the root namespace", a.cfg.BridgeName)
	}
}

func TestCrossHost(t *testing.T) {
	nw := newTestNet(t, 2)
	a, b := nw.startNode(0, "10.88.1.0/24"), nw.startNode(1, "10.88.2.0/24")
	routes := []Route{{PodCIDR: "10.88.1.0/24", NodeIP: a.host.ip}, {PodCIDR: "10.88.2.0/24", NodeIP: b.host.ip}}
	for _, n := range []*node{a, b} {
		if err := n.syncRoutes(routes...); err != nil { // each skips its own CIDR
			t.Fatal(err)
		}
	}
	pa, pb := nw.newPod(), nw.newPod()
	ra, rb := a.mustSetup(pa), b.mustSetup(pb)
	mustInCIDR(t, ra.IP, "10.88.1.0/24")
	mustInCIDR(t, rb.IP, "10.88.2.0/24")

	echoServer(t, pa.NetNSPath, ra.IP.String()+":8080")
	echoServer(t, pb.NetNSPath, rb.IP.String()+":8080")
	if seen := mustReach(t, pa.NetNSPath, rb.IP.String()+":8080"); seen != ra.IP.String() {
		t.Errorf("A→B: B's pod saw %s, want A's pod IP %s (no masquerade inside the cluster)", seen, ra.IP)
	}
	if seen := mustReach(t, pb.NetNSPath, ra.IP.String()+":8080"); seen != rb.IP.String() {
		t.Errorf("B→A: A's pod saw %s, want B's pod IP %s", seen, rb.IP)
	}
	// The host itself reaches the other host's pods too.
	mustReach(t, a.host.path, rb.IP.String()+":8080")
}

func TestHostPort(t *testing.T) {
	nw := newTestNet(t, 2)
	a, b := nw.startNode(0, "10.88.1.0/24"), nw.startNode(1, "10.88.2.0/24")
	for _, n := range []*node{a, b} {
		if err := n.syncRoutes(Route{"10.88.1.0/24", a.host.ip}, Route{"10.88.2.0/24", b.host.ip}); err != nil {
			t.Fatal(err)
		}
	}
	pod := nw.newPod(PortMapping{HostPort: 18080, ContainerPort: 8080, Protocol: "TCP"})
	r := a.mustSetup(pod)
	echoServer(t, pod.NetNSPath, r.IP.String()+":8080")

	hostPort := a.host.ip + ":18080"
	if seen := mustReach(t, b.host.path, hostPort); seen != b.host.ip {
		t.Errorf("from host B: the pod saw %s, want B's address %s", seen, b.host.ip)
	}
	// From a pod on B: its traffic to A's address leaves the cluster CIDR, so it is
	// masqueraded to B's address.
	pb := nw.newPod()
	b.mustSetup(pb)
	if seen := mustReach(t, pb.NetNSPath, hostPort); seen != b.host.ip {
		t.Errorf("from a pod on B: the pod saw %s, want B's address %s", seen, b.host.ip)
	}

	// Hairpin: the pod itself and a neighbour on A reach it through A's address.
	// portmap masquerades such traffic (its "snat"), so the pod sees the bridge.
	pa := nw.newPod()
	a.mustSetup(pa)
	for _, from := range []string{pod.NetNSPath, pa.NetNSPath} {
		if seen := mustReach(t, from, hostPort); seen != "10.88.1.1" {
			t.Errorf("hairpin from %s: the pod saw %s, want the bridge's 10.88.1.1", from, seen)
		}
	}

	a.mustTeardown(pod)
	if c, _, err := dial(b.host.path, hostPort); err == nil {
		c.Close()
		t.Errorf("hostPort %s still answers after Teardown", hostPort)
	}
}

func TestMasquerade(t *testing.T) {
	nw := newTestNet(t, 2)
	a := nw.startNode(0, "10.88.1.0/24")
	if err := a.syncRoutes(); err != nil {
		t.Fatal(err)
	}
	pod := nw.newPod()
	r := a.mustSetup(pod)
	// A listener on host B's own address: outside the cluster CIDR.
	echoServer(t, nw.hosts[1].path, nw.hosts[1].ip+":9090")
	if seen := mustReach(t, pod.NetNSPath, nw.hosts[1].ip+":9090"); seen != a.host.ip {
		t.Errorf("host B saw %s, want host A's address %s (pod %s masqueraded)", seen, a.host.ip, r.IP)
	}
	out, err := a.run("iptables", "-t", "nat", "-S", MasqChain)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "-s 10.88.1.0/24") || !strings.Contains(out, "MASQUERADE") {
		t.Errorf("%s:\n%s", MasqChain, out)
	}
}

func TestSetupRefusesHostNamespace(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	_, err := a.setup(PodNetwork{ID: "host", NetNSPath: a.host.path})
	if !errors.Is(err, ErrHostNetNS) {
		t.Fatalf("Setup with the host's namespace: %v, want ErrHostNetNS", err)
	}
	_, err = a.setup(PodNetwork{ID: "nons", NetNSPath: "/run/netns/does-not-exist"})
	if !errors.Is(err, ErrInvalidPod) {
		t.Fatalf("Setup with a missing namespace: %v, want ErrInvalidPod", err)
	}
	if c := a.counts(); c.Records != 0 || c.Leases != 0 {
		t.Fatalf("refused Setups left %+v", c)
	}
}

func TestTeardownAfterNetNSDeleted(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	if err := a.syncRoutes(); err != nil {
		t.Fatal(err)
	}
	warm := nw.newPod(PortMapping{HostPort: 18080, ContainerPort: 80})
	a.mustSetup(warm) // creates the bridge and portmap's shared chains
	a.mustTeardown(warm)
	before := a.counts()

	pod := nw.newPod(PortMapping{HostPort: 18080, ContainerPort: 80})
	r := a.mustSetup(pod)
	if _, err := os.Stat(fmt.Sprintf("%s/ipam/%s/%s", a.cfg.Root, NetworkName, r.IP)); err != nil {
		t.Fatalf("no lease for %s: %v", r.IP, err)
	}
	if err := deleteNetNS(pod.NetNSPath); err != nil {
		t.Fatal(err)
	}
	a.mustTeardown(pod) // the path no longer exists
	if after := a.counts(); after != before {
		t.Fatalf("after Teardown of a deleted namespace: %+v, want %+v", after, before)
	}
	a.mustTeardown(pod) // idempotent
	a.mustTeardown(PodNetwork{ID: "never-set-up"})
}

func TestRestart(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	pod := nw.newPod(PortMapping{HostPort: 18081, ContainerPort: 80, Protocol: "udp"})
	r := a.mustSetup(pod)
	before := a.counts()

	a.restart("10.88.1.0/24")
	ids, err := a.m.Sandboxes()
	if err != nil || len(ids) != 1 || ids[0] != pod.ID {
		t.Fatalf("Sandboxes after restart = %v, %v; want [%s]", ids, err, pod.ID)
	}
	// Setup again (an adopted pod): the same address, nothing new.
	if r2 := a.mustSetup(pod); !r2.IP.Equal(r.IP) {
		t.Fatalf("Setup after restart gave %v, want the pod's %v", r2.IP, r.IP)
	}
	if c := a.counts(); c != before {
		t.Fatalf("repeated Setup changed %+v to %+v", before, c)
	}

	// After another restart the runtime knows only the id.
	a.restart("")
	a.mustTeardown(PodNetwork{ID: pod.ID})
	if ids, _ := a.m.Sandboxes(); len(ids) != 0 {
		t.Fatalf("Sandboxes after Teardown = %v", ids)
	}
	if c := a.counts(); c.Leases != 0 || c.Cache != 0 || c.Veths != before.Veths-1 {
		t.Fatalf("after Teardown by id: %+v", c)
	}
}

func TestSetPodCIDR(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "")
	pod := nw.newPod()
	if _, err := a.setup(pod); !errors.Is(err, ErrNoPodCIDR) {
		t.Fatalf("Setup before SetPodCIDR: %v, want ErrNoPodCIDR", err)
	}
	set := func(cidr string) error { return a.host.do(func() error { return a.m.SetPodCIDR(cidr) }) }
	for _, bad := range []string{"10.99.1.0/24", "10.88.1.1/24", "10.88.1.0/31", "fd00::/64", "x"} {
		if err := set(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("SetPodCIDR(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	if err := set("10.88.1.0/24"); err != nil {
		t.Fatal(err)
	}
	a.mustSetup(pod)
	if err := set("10.88.1.0/24"); err != nil {
		t.Fatalf("same CIDR again: %v", err)
	}
	if err := set("10.88.5.0/24"); !errors.Is(err, ErrPodCIDRInUse) {
		t.Fatalf("changing the CIDR with a pod attached: %v, want ErrPodCIDRInUse", err)
	}
	a.mustTeardown(pod)
	if err := set("10.88.5.0/24"); err != nil {
		t.Fatalf("changing the CIDR with no pod: %v", err)
	}
	mustInCIDR(t, a.mustSetup(nw.newPod()).IP, "10.88.5.0/24")
	a.restart("") // the CIDR was persisted
	if a.m.podCIDR.String() != "10.88.5.0/24" {
		t.Fatalf("after restart the pod CIDR is %v", a.m.podCIDR)
	}
}

func TestConcurrentSetup(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	before := a.counts() // before portmap's first pod: its shared chains are created concurrently
	const n = 6
	pods := make([]PodNetwork, n)
	for i := range pods {
		pods[i] = nw.newPod(PortMapping{HostPort: int32(19000 + i), ContainerPort: 80})
	}
	results := make([]Result, n)
	errs := make(chan error, n)
	for i := range pods {
		go func() {
			var err error
			results[i], err = a.setup(pods[i])
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, r := range results {
		if seen[r.IP.String()] {
			t.Fatalf("address %v given twice", r.IP)
		}
		seen[r.IP.String()] = true
	}
	for i := range pods {
		go func() { errs <- a.teardown(pods[i]) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// portmap's shared chains (CNI-HOSTPORT-*) stay once created, like the bridge:
	// 3 chains, 3 jumps to them, 1 MASQUERADE and 1 MARK rule.
	before.Rules += 8
	if after := a.counts(); after != before {
		out, _ := a.run("iptables-save")
		t.Fatalf("after concurrent Setup/Teardown: %+v, want %+v\n%s", after, before, out)
	}
}
