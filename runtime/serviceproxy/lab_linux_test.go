package serviceproxy

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/internal/testenv"
	"golang.org/x/sys/unix"
)

// lab is a node with two pods and a client, each in its own network
// namespace, nothing in the root namespace:
//
//	client (192.168.77.2) --veth-- node (192.168.77.1, br0 10.244.0.1/24, default route on up0)
//	                                    br0 --veth-- pod1 (10.244.0.2)
//	                                        --veth-- pod2 (10.244.0.3)
//
// The proxy programs the node's namespace. Traffic from the client is
// "outside" traffic (prerouting), from the node itself "local" (output),
// from a pod "pod" traffic.
type lab struct {
	t                        testing.TB
	node, client, pod1, pod2 string // paths of the namespaces
}

const (
	nodeIP   = "192.168.77.1"
	clientIP = "192.168.77.2"
	bridgeIP = "10.244.0.1"
	pod1IP   = "10.244.0.2"
	pod2IP   = "10.244.0.3"
)

func newLab(t testing.TB) *lab {
	t.Helper()
	testenv.NeedRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Missing(t, "needs ip (iproute2)")
	}
	prefix := fmt.Sprintf("gsp%d", os.Getpid()%100000)
	l := &lab{t: t}
	names := map[*string]string{&l.node: prefix + "n", &l.client: prefix + "c", &l.pod1: prefix + "p1", &l.pod2: prefix + "p2"}
	for p, name := range names {
		exec.Command("ip", "netns", "del", name).Run() // leftovers of a crashed run
		l.ip("netns", "add", name)
		*p = "/run/netns/" + name
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	n, c, p1, p2 := names[&l.node], names[&l.client], names[&l.pod1], names[&l.pod2]
	for _, ns := range []string{n, c, p1, p2} {
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	l.ip("-n", n, "link", "add", "br0", "type", "bridge")
	l.ip("-n", n, "addr", "add", bridgeIP+"/24", "dev", "br0")
	l.ip("-n", n, "link", "set", "br0", "up")
	for i, pod := range []struct{ ns, ip string }{{p1, pod1IP}, {p2, pod2IP}} {
		host := fmt.Sprintf("vp%d", i+1)
		l.ip("-n", n, "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", pod.ns)
		l.ip("-n", n, "link", "set", host, "master", "br0", "up")
		// As gossipod's CNI bridge config does (hairpinMode): with
		// br_netfilter a pod DNATed to itself is sent back out its port.
		l.ip("-n", n, "link", "set", host, "type", "bridge_slave", "hairpin", "on")
		l.ip("-n", pod.ns, "addr", "add", pod.ip+"/24", "dev", "eth0")
		l.ip("-n", pod.ns, "link", "set", "eth0", "up")
		l.ip("-n", pod.ns, "route", "add", "default", "via", bridgeIP)
	}
	l.ip("-n", n, "link", "add", "vc", "type", "veth", "peer", "name", "eth0", "netns", c)
	l.ip("-n", n, "addr", "add", nodeIP+"/24", "dev", "vc")
	l.ip("-n", n, "link", "set", "vc", "up")
	l.ip("-n", c, "addr", "add", clientIP+"/24", "dev", "eth0")
	l.ip("-n", c, "link", "set", "eth0", "up")
	l.ip("-n", c, "route", "add", "default", "via", nodeIP)
	// A default route, as every node has: packets for a cluster IP without
	// endpoints must reach the forward hook to be rejected.
	// (A veth pair with both ends in the node: the dummy driver may be
	// missing.)
	l.ip("-n", n, "link", "add", "up0", "type", "veth", "peer", "name", "up1")
	l.ip("-n", n, "link", "set", "up1", "up")
	l.ip("-n", n, "link", "set", "up0", "up")
	l.ip("-n", n, "route", "add", "default", "dev", "up0")
	l.sysctl(l.node, "net/ipv4/ip_forward", "1")
	// A reply from pod2 to pod1 crosses the bridge without being routed;
	// only br_netfilter lets conntrack undo the DNAT of pod1's request to
	// a cluster IP (see the package doc).
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		testenv.Missing(t, "needs br_netfilter (modprobe br_netfilter)")
	}
	l.sysctl(l.node, "net/bridge/bridge-nf-call-iptables", "1")
	return l
}

func (l *lab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// sysctl writes a sysctl of the namespace at ns (/proc/sys/net is per
// namespace, resolved by the writing thread's namespace).
func (l *lab) sysctl(ns, key, value string) {
	l.t.Helper()
	err := inNetNS(ns, func() error {
		return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
	})
	if err != nil {
		l.t.Fatal(err)
	}
}

// inNetNS runs fn on a thread in the namespace at path. The thread is
// never given back to the Go scheduler (no UnlockOSThread): it dies with
// its goroutine, so no other goroutine can run in the wrong namespace.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// config is the proxy's Config for the lab's node.
func (l *lab) config() Config {
	cfg := Config{
		NodeName:    "node-a",
		NodeIPs:     []netip.Addr{netip.MustParseAddr(nodeIP)},
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		NetNS:       l.node,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// servers starts, in the pod namespace at ns, a TCP and a UDP server on
// addr that answer every connection or datagram with "name client-address".
func (l *lab) servers(ns, name, addr string) {
	l.t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	err := inNetNS(ns, func() (err error) {
		if ln, err = net.Listen("tcp4", addr); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", addr)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "%s %s\n", name, host)
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			pc.WriteTo([]byte(name+" "+host), from)
		}
	}()
}

// reply is what a server answered: which pod, and the client address it saw.
type reply struct{ pod, source string }

// tcp connects from the namespace at ns to addr and returns the answer.
func tcp(ns, addr string) (reply, error) {
	var c net.Conn
	err := inNetNS(ns, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 2*time.Second)
		return err
	})
	if err != nil {
		return reply{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return reply{}, fmt.Errorf("bad answer %q", line)
	}
	return reply{f[0], f[1]}, nil
}

// udpConn is a connected UDP socket in a namespace: one conntrack entry for
// as long as it sends.
type udpConn struct{ c *net.UDPConn }

func dialUDP(ns, addr string) (*udpConn, error) {
	var c net.Conn
	err := inNetNS(ns, func() (err error) {
		c, err = net.Dial("udp4", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &udpConn{c.(*net.UDPConn)}, nil
}

// ask sends one datagram and waits briefly for the answer.
func (u *udpConn) ask() (reply, error) {
	if _, err := u.c.Write([]byte("hi")); err != nil {
		return reply{}, err
	}
	u.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 512)
	n, err := u.c.Read(buf)
	if err != nil {
		return reply{}, err
	}
	f := strings.Fields(string(buf[:n]))
	if len(f) != 2 {
		return reply{}, fmt.Errorf("bad answer %q", buf[:n])
	}
	return reply{f[0], f[1]}, nil
}

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var errRefusedExpected = errors.New("connection was not refused")
