package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
)

// guard runs GuardAgentPorts in the node's host.
func (n *node) guard() error {
	return n.host.do(func() error { return n.m.GuardAgentPorts() })
}

// guardTableState describes FilterTable in the calling thread's namespace as `nft
// list table` prints it, counters left out so that two readings compare equal; ""
// when the table does not exist. The nft binary reads it rather than the nftables
// library, which cannot decode the conntrack direction of the API rule (it expects 4
// bytes where the kernel dumps 1).
func guardTableState() (string, error) {
	out, err := exec.Command("nft", "list", "table", "inet", FilterTable).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No such file or directory") {
			return "", nil
		}
		return "", fmt.Errorf("nft list table inet %s: %v: %s", FilterTable, err, out)
	}
	return nftCounters.ReplaceAllString(string(out), "counter"), nil
}

// nftCounters matches a counter's figures in nft's listing.
var nftCounters = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// guardState is guardTableState in the node's host.
func (n *node) guardState() string {
	n.tb.Helper()
	var s string
	if err := n.host.do(func() (err error) { s, err = guardTableState(); return err }); err != nil {
		n.tb.Fatal(err)
	}
	return s
}

// plantStaleGuard writes a FilterTable as an older or crashed agent might have left
// it: other ports, and a chain today's agent does not have.
func (n *node) plantStaleGuard() {
	n.tb.Helper()
	err := n.host.do(func() error {
		c := &nftables.Conn{}
		t := c.AddTable(guardTable())
		ch := c.AddChain(&nftables.Chain{Name: "stale", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: guardRule(n.m.cluster, false,
			guardPort{proto: syscall.IPPROTO_TCP, port: 9999, what: "old"}, netip.Addr{})})
		return c.Flush()
	})
	if err != nil {
		n.tb.Fatal(err)
	}
}

// mustRefuse asserts that a TCP connection from nsPath to addr is refused at once (a
// reset), as the guard's reject rule answers, rather than timing out.
func mustRefuse(tb testing.TB, nsPath, addr string) {
	tb.Helper()
	start := time.Now()
	c, _, err := dial(nsPath, addr)
	if err == nil {
		c.Close()
		tb.Fatalf("from %s: connected to %s, want it refused", nsPath, addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		tb.Fatalf("from %s to %s: %v after %v, want connection refused at once", nsPath, addr, err, time.Since(start))
	}
}

// udpEchoServer answers every datagram to addr in namespace nsPath with "ok".
func udpEchoServer(tb testing.TB, nsPath, addr string) {
	tb.Helper()
	var pc net.PacketConn
	if err := inNetNS(nsPath, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte("ok"), from)
		}
	}()
}

// udpAsk sends one datagram from nsPath to addr and returns the reply's error: nil if
// the server answered, ECONNREFUSED if an ICMP port unreachable came back.
func udpAsk(nsPath, addr string) error {
	return inNetNS(nsPath, func() error {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return err
		}
		buf := make([]byte, 8)
		_, err = c.Read(buf)
		return err
	})
}

// TestGuardAgentPorts shows point 7 of issue 10 on two test hosts: with the guard, a
// pod can open no TCP connection to the agent's ports on its own node (its address or
// the bridge's gateway) nor on another host, and its UDP to the gossip port is
// refused, while the hosts still reach each other's agent ports, and pods still reach
// pods and hostPorts on those very port numbers. The guard replaces a stale table
// left by an earlier run, is idempotent, is removed by Close, and is not installed
// (a stale one is even removed) with AllowPodAccessToAgent.
func TestGuardAgentPorts(t *testing.T) {
	nw := newTestNet(t, 2)
	a, b := nw.startNode(0, "10.88.1.0/24"), nw.startNode(1, "10.88.2.0/24")
	for _, n := range []*node{a, b} {
		if err := n.syncRoutes(Route{"10.88.1.0/24", a.host.ip}, Route{"10.88.2.0/24", b.host.ip}); err != nil {
			t.Fatal(err)
		}
	}
	ports := a.cfg.AgentPorts
	api, raft, gossip := fmt.Sprint(":", ports.API), fmt.Sprint(":", ports.Raft), fmt.Sprint(":", ports.Gossip)

	// "Agents": every host listens on all three ports, on all its addresses.
	for _, h := range []*testHost{a.host, b.host} {
		for _, p := range []string{api, raft, gossip} {
			echoServer(t, h.path, "0.0.0.0"+p)
		}
		// On the host's address: an unconnected socket on 0.0.0.0 would answer a pod
		// from the bridge's address, which the pod's connected socket ignores.
		udpEchoServer(t, h.path, h.ip+gossip)
	}
	// Pods: pa is the client on A; pa2 (on A) and pb (on B) listen on the API port
	// number themselves and publish it as hostPort 17948.
	pa, pa2 := nw.newPod(), nw.newPod(PortMapping{HostPort: 17948, ContainerPort: int32(ports.API)})
	pb := nw.newPod(PortMapping{HostPort: 17948, ContainerPort: int32(ports.API)})
	a.mustSetup(pa)
	ra2, rb := a.mustSetup(pa2), b.mustSetup(pb)
	echoServer(t, pa2.NetNSPath, ra2.IP.String()+api)
	echoServer(t, pb.NetNSPath, rb.IP.String()+api)
	gatewayA := "10.88.1.1"

	// Without the guard a pod reaches its node's agent (what the guard is for).
	mustReach(t, pa.NetNSPath, a.host.ip+api)
	if err := udpAsk(pa.NetNSPath, a.host.ip+gossip); err != nil {
		t.Fatalf("UDP to the gossip port before the guard: %v", err)
	}

	a.plantStaleGuard()
	a.m.cfg.KubernetesServiceIP = netip.MustParseAddr("10.96.0.1")
	if err := a.guard(); err != nil {
		t.Fatal(err)
	}
	installed := a.guardState()
	t.Logf("nft list table inet %s:\n%s", FilterTable, installed)
	for _, want := range []string{"chain " + GuardInputChain + " {\n\t\ttype filter hook input", "chain " + GuardForwardChain + " {\n\t\ttype filter hook forward",
		"agent's gossip port", "agent's raft port", "agent's api port", "the host itself"} {
		if !strings.Contains(installed, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Count(installed, "ct original ip daddr != 10.96.0.1") != 2 {
		t.Errorf("the API rules lack their conntrack exception for the kubernetes Service")
	}
	if strings.Contains(installed, "stale") || strings.Count(installed, "comment \"gossipod: ") != 9 {
		t.Errorf("want exactly 2 chains of 4 rules (gossip tcp+udp, raft, api), the input chain's exception for lo, and nothing of the stale table")
	}
	if s, err := guardTableState(); err != nil || s != "" {
		t.Fatalf("the table is in the test's own namespace (%v): %s", err, s)
	}

	t.Run("pods cannot reach the agent ports of their own node", func(t *testing.T) {
		for _, ip := range []string{a.host.ip, gatewayA} {
			for _, p := range []string{api, raft, gossip} {
				mustRefuse(t, pa.NetNSPath, ip+p)
			}
		}
		if err := udpAsk(pa.NetNSPath, a.host.ip+gossip); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("UDP from a pod to its node's gossip port: %v, want connection refused (ICMP port unreachable)", err)
		}
	})
	t.Run("pods cannot reach the agent ports of another host", func(t *testing.T) {
		// B has no guard: A's forward chain alone stops its pods.
		for _, p := range []string{api, raft, gossip} {
			mustRefuse(t, pa.NetNSPath, b.host.ip+p)
		}
		if err := udpAsk(pa.NetNSPath, b.host.ip+gossip); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("UDP from a pod to another host's gossip port: %v, want connection refused", err)
		}
	})
	t.Run("pods reach the API through the kubernetes Service only", func(t *testing.T) {
		// What the service proxy does, by hand: the kubernetes Service's IP
		// DNATed to A's API (443) and B's (444), another Service's IP to A's API
		// and raft ports.
		if out, err := a.run("nft", fmt.Sprintf(`add table ip guardtest; add chain ip guardtest pre { type nat hook prerouting priority -100; }; `+
			`add rule ip guardtest pre ip daddr 10.96.0.1 tcp dport 443 dnat to %[1]s%[3]s; `+
			`add rule ip guardtest pre ip daddr 10.96.0.1 tcp dport 444 dnat to %[2]s%[3]s; `+
			`add rule ip guardtest pre ip daddr 10.96.0.1 tcp dport 445 dnat to %[1]s%[4]s; `+
			`add rule ip guardtest pre ip daddr 10.96.0.9 tcp dport 443 dnat to %[1]s%[3]s`,
			a.host.ip, b.host.ip, api, raft)); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Cleanup(func() { a.run("nft", "delete table ip guardtest") })
		mustReach(t, pa.NetNSPath, "10.96.0.1:443") // A's API, input hook
		mustReach(t, pa.NetNSPath, "10.96.0.1:444") // B's API, forward hook
		// The Service's IP does not open raft, nor another Service's the API.
		// (The kernel's reset for a DNATed connection goes out un-NATed, so
		// the client times out instead of being refused.)
		for _, addr := range []string{"10.96.0.1:445", "10.96.0.9:443"} {
			if c, _, err := dial(pa.NetNSPath, addr); err == nil {
				c.Close()
				t.Errorf("a pod reached %s, DNATed to an agent port other than the API through the kubernetes Service", addr)
			}
		}
		mustRefuse(t, pa.NetNSPath, a.host.ip+api) // nor the API at the agent's address
	})
	t.Run("hosts still reach each other's agents", func(t *testing.T) {
		for _, p := range []string{api, raft, gossip} {
			mustReach(t, b.host.path, a.host.ip+p)
			mustReach(t, a.host.path, b.host.ip+p)
			mustReach(t, a.host.path, gatewayA+p)
		}
		if err := udpAsk(b.host.path, a.host.ip+gossip); err != nil {
			t.Errorf("UDP gossip from host B to host A: %v", err)
		}
	})
	t.Run("pods reach pods and hostPorts on the agent's port numbers", func(t *testing.T) {
		mustReach(t, pa.NetNSPath, ra2.IP.String()+api) // same node
		mustReach(t, pa.NetNSPath, rb.IP.String()+api)  // other node
		mustReach(t, pa.NetNSPath, b.host.ip+":17948")  // hostPort on another node
		mustReach(t, pa.NetNSPath, a.host.ip+":17948")  // hostPort on its own node
	})

	// Idempotent: a second call (as after a restart) leaves the same table.
	if err := a.guard(); err != nil {
		t.Fatal(err)
	}
	if again := a.guardState(); again != installed {
		t.Errorf("second GuardAgentPorts changed the table:\n%s\nwas:\n%s", again, installed)
	}

	// A clean stop removes it, and the node's agent is open to pods again.
	if err := a.m.Close(); err != nil {
		t.Fatal(err)
	}
	if s := a.guardState(); s != "" {
		t.Fatalf("table still present after Close:\n%s", s)
	}
	mustReach(t, pa.NetNSPath, a.host.ip+api)

	// With AllowPodAccessToAgent, a stale table is removed and nothing installed.
	b.plantStaleGuard()
	b.m.Close()
	b.cfg.AllowPodAccessToAgent = true
	b.restart("10.88.2.0/24")
	if err := b.guard(); err != nil {
		t.Fatal(err)
	}
	if s := b.guardState(); s != "" {
		t.Fatalf("AllowPodAccessToAgent: table present:\n%s", s)
	}
	mustReach(t, pb.NetNSPath, b.host.ip+api)
}
