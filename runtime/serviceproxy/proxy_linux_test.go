package serviceproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/gossipod/gossipod/internal/netlinkutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func (l *lab) proxier() *Proxier {
	l.t.Helper()
	p, err := New(l.config())
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { p.Close() })
	return p
}

func (l *lab) sync(p *Proxier, services []*corev1.Service, eps ...*discoveryv1.EndpointSlice) {
	l.t.Helper()
	if err := p.Sync(context.Background(), services, eps); err != nil {
		l.t.Fatal(err)
	}
	l.checkTable(p)
}

// nft opens an nftables connection to the node's namespace.
func (l *lab) nft() *nftables.Conn {
	l.t.Helper()
	ns, err := netns.GetFromPath(l.node)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ns.Close() })
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// tableChains lists the chains of the named table in the node's namespace;
// nil if there is no such table.
func (l *lab) tableChains(table string) []string {
	l.t.Helper()
	chains, err := l.nft().ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		l.t.Fatal(err)
	}
	var names []string
	for _, c := range chains {
		if c.Table.Name == table {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	return names
}

func (l *lab) hasTable(name string) bool {
	l.t.Helper()
	tables, err := l.nft().ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, t := range tables {
		if t.Name == name {
			return true
		}
	}
	return false
}

// checkTable asserts that the kernel's table has exactly the chains the
// proxy believes it programmed: nothing leaked, nothing missing.
func (l *lab) checkTable(p *Proxier) {
	l.t.Helper()
	var want []string
	for _, b := range p.static.base {
		want = append(want, b.Name)
	}
	for _, c := range p.static.regular {
		want = append(want, c.Name)
	}
	for _, f := range p.last.frags {
		for _, c := range f.chains {
			want = append(want, c.Name)
		}
	}
	sort.Strings(want)
	if got := l.tableChains(p.cfg.Table); !slices.Equal(got, want) {
		l.t.Fatalf("chains in the kernel:\n%v\nwant:\n%v", got, want)
	}
}

// pods answers n connections to addr from ns and counts them per pod; the
// sources pods saw are checked against source ("" for any).
func (l *lab) pods(ns, addr string, n int, source string) map[string]int {
	l.t.Helper()
	seen := map[string]int{}
	for range n {
		r, err := tcp(ns, addr)
		if err != nil {
			l.t.Fatalf("connect %s: %v", addr, err)
		}
		if source != "" && r.source != source {
			l.t.Fatalf("%s saw the connection from %s, want %s", r.pod, r.source, source)
		}
		seen[r.pod]++
	}
	return seen
}

var twoPods = func() []*discoveryv1.EndpointSlice {
	return []*discoveryv1.EndpointSlice{slice("ns", "web", "1", httpPort, ready(pod1IP, "node-a"), ready(pod2IP, "node-b"))}
}

func TestClusterIPReachesEveryEndpointAndFollowsChanges(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	l.servers(l.pod2, "pod2", ":8080")
	p := l.proxier()
	services := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)}
	l.sync(p, services, twoPods()...)

	// From outside the cluster CIDR: balanced over both, masqueraded to
	// the node's bridge address so replies come back through the node.
	seen := l.pods(l.client, "10.96.0.10:80", 60, bridgeIP)
	if seen["pod1"] == 0 || seen["pod2"] == 0 {
		t.Fatalf("60 connections did not reach both pods: %v", seen)
	}
	// From the node itself (the output hook).
	if seen := l.pods(l.node, "10.96.0.10:80", 30, ""); seen["pod1"] == 0 || seen["pod2"] == 0 {
		t.Fatalf("30 connections from the node did not reach both pods: %v", seen)
	}
	// From a pod: another pod sees its own address (no masquerade inside
	// the cluster); the pod itself (hairpin) sees the node's.
	seen = map[string]int{}
	for range 40 {
		r, err := tcp(l.pod1, "10.96.0.10:80")
		if err != nil {
			t.Fatalf("pod1 -> service: %v", err)
		}
		if want := map[string]string{"pod1": bridgeIP, "pod2": pod1IP}[r.pod]; r.source != want {
			t.Fatalf("pod1 -> service -> %s: source %s, want %s", r.pod, r.source, want)
		}
		seen[r.pod]++
	}
	if len(seen) != 2 {
		t.Fatalf("40 connections from pod1 did not reach both pods: %v", seen)
	}

	// pod2 leaves: new connections all go to pod1.
	l.sync(p, services, slice("ns", "web", "1", httpPort, ready(pod1IP, "node-a")))
	if seen := l.pods(l.client, "10.96.0.10:80", 30, ""); seen["pod2"] != 0 {
		t.Fatalf("pod2 still gets traffic after its endpoint was removed: %v", seen)
	}
	// And comes back.
	l.sync(p, services, twoPods()...)
	if seen := l.pods(l.client, "10.96.0.10:80", 60, ""); seen["pod2"] == 0 {
		t.Fatalf("pod2 gets no traffic after its endpoint came back: %v", seen)
	}
	if p.rebuilds != 1 {
		t.Errorf("%d Syncs rebuilt the table, want only the first", p.rebuilds)
	}
}

func TestNoEndpointsIsRejectedAtOnce(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	p := l.proxier()
	services := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80), svc("ns", "dns", "10.96.0.53",
		[]corev1.ServicePort{port("dns", corev1.ProtocolUDP, 53, "8080")})}
	l.sync(p, services)

	for _, from := range []string{l.client, l.node} {
		start := time.Now()
		_, err := tcp(from, "10.96.0.10:80")
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("TCP to a service without endpoints from %s: %v, want connection refused", from, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusal took %s", d)
		}
		u, err := dialUDP(from, "10.96.0.53:53")
		if err != nil {
			t.Fatal(err)
		}
		// The ICMP port unreachable makes the connected socket's next
		// call fail with ECONNREFUSED.
		eventually(t, 3*time.Second, "UDP refused", func() error {
			_, err := u.ask()
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil
			}
			return fmt.Errorf("%w: %v", errRefusedExpected, err)
		})
		u.c.Close()
	}

	// An endpoint appears: served.
	l.sync(p, services, slice("ns", "web", "1", httpPort, ready(pod1IP, "node-a")))
	if r, err := tcp(l.client, "10.96.0.10:80"); err != nil || r.pod != "pod1" {
		t.Fatalf("after the endpoint appeared: %+v, %v", r, err)
	}
}

func TestUDPEndpointRemovalClearsConntrack(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":5353")
	l.servers(l.pod2, "pod2", ":5353")
	p := l.proxier()
	services := []*corev1.Service{svc("ns", "dns", "10.96.0.53", []corev1.ServicePort{port("dns", corev1.ProtocolUDP, 53, "dns")})}
	dnsPort := []slicePort{{"dns", corev1.ProtocolUDP, 5353}}
	both := slice("ns", "dns", "1", dnsPort, ready(pod1IP, "node-a"), ready(pod2IP, "node-b"))
	l.sync(p, services, both)

	u, err := dialUDP(l.client, "10.96.0.53:53")
	if err != nil {
		t.Fatal(err)
	}
	defer u.c.Close()
	var first reply
	eventually(t, 3*time.Second, "UDP answer", func() (err error) {
		first, err = u.ask()
		return err
	})
	// One socket, one conntrack entry: always the same pod.
	for range 5 {
		if r, err := u.ask(); err != nil || r.pod != first.pod {
			t.Fatalf("same socket, another answer: %+v, %v (first %s)", r, err, first.pod)
		}
	}
	gone, stays := pod1IP, "pod2"
	if first.pod == "pod2" {
		gone, stays = pod2IP, "pod1"
	}
	if n := l.conntrackTo(gone); n == 0 {
		t.Fatalf("no conntrack entry to %s while it serves the socket", gone)
	}

	// The answering pod's endpoint is removed (the pod itself still runs,
	// so only a deleted conntrack entry can move the socket's traffic).
	rest := slice("ns", "dns", "1", dnsPort, ready(pod1IP, "node-a"), ready(pod2IP, "node-b"))
	rest.Endpoints = slices.DeleteFunc(rest.Endpoints, func(e discoveryv1.Endpoint) bool { return e.Addresses[0] == gone })
	l.sync(p, services, rest)
	if n := l.conntrackTo(gone); n != 0 {
		t.Fatalf("%d conntrack entries to the removed endpoint %s remain", n, gone)
	}
	eventually(t, 3*time.Second, "the socket moves to the other pod", func() error {
		r, err := u.ask()
		if err != nil {
			return err
		}
		if r.pod != stays {
			return fmt.Errorf("answered by %s", r.pod)
		}
		return nil
	})
}

// conntrackTo counts the node's UDP conntrack entries whose reply comes
// from addr (that were DNATed to it).
func (l *lab) conntrackTo(addr string) int {
	l.t.Helper()
	ns, err := netns.GetFromPath(l.node)
	if err != nil {
		l.t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	flows, err := netlinkutil.Retry(func() ([]*netlink.ConntrackFlow, error) {
		return h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	})
	if err != nil {
		l.t.Fatal(err)
	}
	n := 0
	for _, f := range flows {
		if f.Forward.Protocol == unix.IPPROTO_UDP && f.Reverse.SrcIP.Equal(net.ParseIP(addr)) {
			n++
		}
	}
	return n
}

func TestNodePort(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	l.servers(l.pod2, "pod2", ":8080")
	p := l.proxier()
	cluster := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080))}
	l.sync(p, cluster, twoPods()...)

	// Policy Cluster: every endpoint, masqueraded.
	if seen := l.pods(l.client, nodeIP+":30080", 60, bridgeIP); seen["pod1"] == 0 || seen["pod2"] == 0 {
		t.Fatalf("node port did not reach both pods: %v", seen)
	}
	// Policy Local: only this node's endpoint (pod1 is on node-a), and the
	// client's own address arrives.
	local := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, nodePort(30080), externalLocal)}
	l.sync(p, local, twoPods()...)
	if seen := l.pods(l.client, nodeIP+":30080", 30, clientIP); seen["pod2"] != 0 {
		t.Fatalf("Local node port reached the other node's endpoint: %v", seen)
	}
	// The cluster IP still uses both.
	if seen := l.pods(l.client, "10.96.0.10:80", 60, ""); seen["pod1"] == 0 || seen["pod2"] == 0 {
		t.Fatalf("cluster IP of a Local service did not reach both pods: %v", seen)
	}
	// No endpoints at all: the node port is refused.
	l.sync(p, cluster)
	if _, err := tcp(l.client, nodeIP+":30080"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("node port without endpoints: %v, want connection refused", err)
	}
}

func TestSessionAffinity(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	l.servers(l.pod2, "pod2", ":8080")
	p := l.proxier()
	l.sync(p, []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80, affinity(600))}, twoPods()...)
	// Without affinity, 30 connections all landing on one of two pods has
	// a chance of 2^-29.
	if seen := l.pods(l.client, "10.96.0.10:80", 30, ""); len(seen) != 1 {
		t.Fatalf("ClientIP affinity: one client reached %v", seen)
	}
	// Turning it off spreads the same client again.
	l.sync(p, []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)}, twoPods()...)
	if seen := l.pods(l.client, "10.96.0.10:80", 60, ""); len(seen) != 2 {
		t.Fatalf("without affinity one client reached only %v", seen)
	}
}

func TestHairpin(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	p := l.proxier()
	l.sync(p, []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)},
		slice("ns", "web", "1", httpPort, ready(pod1IP, "node-a")))
	// pod1 reaches itself through its service: without the masquerade the
	// reply would go from pod1 to pod1 directly and never match.
	r, err := tcp(l.pod1, "10.96.0.10:80")
	if err != nil {
		t.Fatal(err)
	}
	if r.pod != "pod1" || r.source != bridgeIP {
		t.Fatalf("hairpin: %+v, want pod1 seeing %s", r, bridgeIP)
	}
}

func TestRestartRebuildsOnlyItsTableAndCleanupRemovesIt(t *testing.T) {
	l := newLab(t)
	l.servers(l.pod1, "pod1", ":8080")
	l.servers(l.pod2, "pod2", ":8080")
	// Someone else's table, which the proxy must leave alone.
	c := l.nft()
	other := c.AddTable(&nftables.Table{Name: "someone-else", Family: nftables.TableFamilyIPv4})
	c.AddChain(&nftables.Chain{Name: "theirs", Table: other})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}

	a := []*corev1.Service{svc("ns", "a", "10.96.0.1", tcp80)}
	b := []*corev1.Service{svc("ns", "web", "10.96.0.10", tcp80)}
	p1 := l.proxier()
	l.sync(p1, a, slice("ns", "a", "1", httpPort, ready(pod1IP, "node-a")))
	p1.Close()

	// A new proxier (an agent restart) whose first Sync knows only b: a's
	// chains are gone, as checkTable verifies, and b works.
	p2 := l.proxier()
	l.sync(p2, b, slice("ns", "web", "1", httpPort, ready(pod1IP, "node-a")))
	if r, err := tcp(l.client, "10.96.0.10:80"); err != nil || r.pod != "pod1" {
		t.Fatalf("after the restart: %+v, %v", r, err)
	}
	if _, err := tcp(l.client, "10.96.0.1:80"); err == nil {
		t.Fatal("the service the restarted proxy was not told about still answers")
	}

	// The table is deleted behind the proxy's back: the next (incremental)
	// Sync fails, and the proxy rebuilds the table instead.
	c.DelTable(&nftables.Table{Name: "gossipod-proxy", Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	l.sync(p2, b, twoPods()...)
	if p2.rebuilds != 2 {
		t.Errorf("rebuilds = %d, want 2 (the first Sync, and the one after the incremental one failed)", p2.rebuilds)
	}
	if seen := l.pods(l.client, "10.96.0.10:80", 60, ""); seen["pod1"] == 0 || seen["pod2"] == 0 {
		t.Fatalf("after the rebuild, 60 connections did not reach both pods: %v", seen)
	}

	if err := p2.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if l.hasTable("gossipod-proxy") {
		t.Fatal("table left after Cleanup")
	}
	if got := l.tableChains("someone-else"); !slices.Equal(got, []string{"theirs"}) {
		t.Fatalf("someone else's table was touched: chains %v", got)
	}
	if _, err := tcp(l.client, "10.96.0.10:80"); err == nil {
		t.Fatal("the cluster IP still answers after Cleanup")
	}
	if err := p2.Cleanup(); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
}
