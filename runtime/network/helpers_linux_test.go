package network

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/internal/netlinkutil"
	"github.com/vishvananda/netlink"
)

// node is a Manager running inside a test host.
type node struct {
	tb   testing.TB
	host *testHost
	m    *Manager
	cfg  Config
}

// testConfig is the Manager configuration of a test host: state in a temporary
// directory and a bridge name unique to the slot, so that a bridge wrongly created in
// the root namespace would be noticed and could not collide with anything there.
func (nw *testNet) testConfig() Config {
	cfg := DefaultConfig()
	cfg.Root = filepath.Join(nw.tb.TempDir(), "network")
	cfg.BridgeName = fmt.Sprintf("%s%dpods", testPrefix, nw.slot)
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

// startNode runs a Manager in host i with the given pod CIDR ("" for none yet).
func (nw *testNet) startNode(i int, podCIDR string) *node {
	nw.tb.Helper()
	n := &node{tb: nw.tb, host: nw.hosts[i], cfg: nw.testConfig()}
	n.restart(podCIDR)
	return n
}

// restart (re)creates the node's Manager on the same Root, as an agent restart does.
func (n *node) restart(podCIDR string) {
	n.tb.Helper()
	if n.m != nil {
		if err := n.m.Close(); err != nil {
			n.tb.Fatal(err)
		}
	}
	err := n.host.do(func() (err error) {
		if n.m, err = New(n.cfg); err != nil {
			return err
		}
		if podCIDR != "" {
			return n.m.SetPodCIDR(podCIDR)
		}
		return nil
	})
	if err != nil {
		n.tb.Fatal(err)
	}
	m := n.m
	n.tb.Cleanup(func() { m.Close() })
}

// setup runs Setup in the node's host.
func (n *node) setup(pod PodNetwork) (res Result, err error) {
	err = n.host.do(func() (err error) {
		res, err = n.m.Setup(context.Background(), pod)
		return err
	})
	return res, err
}

func (n *node) mustSetup(pod PodNetwork) Result {
	n.tb.Helper()
	res, err := n.setup(pod)
	if err != nil {
		n.tb.Fatal(err)
	}
	return res
}

func (n *node) teardown(pod PodNetwork) error {
	return n.host.do(func() error { return n.m.Teardown(context.Background(), pod) })
}

func (n *node) mustTeardown(pod PodNetwork) {
	n.tb.Helper()
	if err := n.teardown(pod); err != nil {
		n.tb.Fatal(err)
	}
}

func (n *node) syncRoutes(routes ...Route) error {
	return n.host.do(func() error { return n.m.SyncRoutes(routes) })
}

// run runs a command inside the node's host and returns its output.
func (n *node) run(name string, args ...string) (string, error) {
	var out []byte
	err := n.host.do(func() (err error) {
		out, err = exec.Command(name, args...).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
		return err
	})
	return string(out), err
}

// counts is what must return to its starting value after pods come and go.
type counts struct {
	Leases, Veths, Rules, Cache, Records int
}

// counts measures the node's leases (host-local's files, one per address), veths,
// iptables rules and chains (iptables-save lines, comments and counters excluded),
// CNI cache entries and sandbox records.
func (n *node) counts() counts {
	n.tb.Helper()
	var c counts
	ents, _ := os.ReadDir(filepath.Join(n.cfg.Root, "ipam", NetworkName))
	for _, e := range ents {
		if net.ParseIP(e.Name()) != nil {
			c.Leases++
		}
	}
	ents, _ = os.ReadDir(filepath.Join(n.cfg.Root, "cache", "results"))
	c.Cache = len(ents)
	ents, _ = os.ReadDir(filepath.Join(n.cfg.Root, "sandboxes"))
	c.Records = len(ents)
	err := n.host.do(func() error {
		links, err := netlinkutil.Retry(netlink.LinkList)
		for _, l := range links {
			if l.Type() == "veth" {
				c.Veths++
			}
		}
		return err
	})
	if err != nil {
		n.tb.Fatal(err)
	}
	out, err := n.run("iptables-save")
	if err != nil {
		n.tb.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			c.Rules++
		}
	}
	return c
}

// echoServer listens on addr inside the namespace at nsPath. For each connection it
// first writes the client's address as it sees it (one line), then echoes.
func echoServer(tb testing.TB, nsPath, addr string) net.Listener {
	tb.Helper()
	var ln net.Listener
	err := inNetNS(nsPath, func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
				if _, err := io.WriteString(c, host+"\n"); err != nil {
					return
				}
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// dial connects from inside the namespace at nsPath to an echoServer and returns the
// connection and the source address the server saw.
func dial(nsPath, addr string) (net.Conn, string, error) {
	var c net.Conn
	err := inNetNS(nsPath, func() (err error) {
		c, err = net.DialTimeout("tcp4", addr, 3*time.Second)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	seen, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return nil, "", fmt.Errorf("read from %s: %w", addr, err)
	}
	// The reader may not have buffered past the line: the server sends nothing more
	// until it is sent something.
	return c, strings.TrimSpace(seen), nil
}

// mustReach asserts a TCP round trip from nsPath to addr and returns the source
// address the server saw.
func mustReach(tb testing.TB, nsPath, addr string) string {
	tb.Helper()
	c, seen, err := dial(nsPath, addr)
	if err != nil {
		tb.Fatalf("from %s to %s: %v", filepath.Base(nsPath), addr, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		tb.Fatalf("echo from %s: %q, %v", addr, buf, err)
	}
	return seen
}
