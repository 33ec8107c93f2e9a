package network

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/internal/netlinkutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The test hosts: network namespaces named gpn<slot>h<i>, wired by veths
// (gpn<slot>v<i> in the root namespace, eth0 inside) to a bridge gpn<slot>b, with
// addresses 10.215.<slot>.(11+i)/24. The root namespace gets no address on that
// subnet, only an unreachable route for all of 10.215.0.0/16: the hosts talk to each
// other over the bridge and nothing of theirs can leave the machine. A slot is
// reserved with a lock file, so parallel test binaries never share names or
// addresses; leftovers of a crashed run in the same slot are removed first.
const (
	testPrefix   = "gpn"
	testSubnet   = "10.215.0.0/16"
	testLockDir  = "/run/gossipod-nettest"
	testNetnsDir = "/run/netns"
)

// requireNet skips the test unless it can build test hosts (root, ip, iptables and
// the CNI plugins); with CI=true it fails instead, so CI cannot pass by skipping.
func requireNet(tb testing.TB) {
	tb.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ip", "iptables", "iptables-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, p := range requiredPlugins {
		if _, err := findPlugin(DefaultConfig().PluginDirs, p); err != nil {
			missing = append(missing, "CNI plugin "+p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs " + strings.Join(missing, ", ") + " (apt-get install iproute2 iptables containernetworking-plugins; run as root)"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// testNet is one test's bridge and hosts.
type testNet struct {
	tb     testing.TB
	slot   int
	bridge string
	hosts  []*testHost
	pods   int // pod namespaces created so far, for unique names
}

// testHost is one simulated node: a network namespace with eth0 on the test bridge.
type testHost struct {
	netns string // name under /run/netns
	path  string
	ip    string
}

// newTestNet builds n hosts and removes everything again in tb.Cleanup.
func newTestNet(tb testing.TB, n int) *testNet {
	tb.Helper()
	requireNet(tb)
	if err := fenceTestSubnet(); err != nil {
		tb.Fatal(err)
	}
	slot, unlock := reserveSlot(tb)
	nw := &testNet{tb: tb, slot: slot, bridge: fmt.Sprintf("%s%db", testPrefix, slot)}
	tb.Cleanup(func() {
		if err := sweepSlot(slot); err != nil {
			tb.Errorf("clean up test hosts: %v", err)
		}
		unlock()
	})
	if err := sweepSlot(slot); err != nil {
		tb.Fatal(err)
	}
	mustIP(tb, "link", "add", "name", nw.bridge, "type", "bridge")
	mustIP(tb, "link", "set", nw.bridge, "up")
	for i := range n {
		h := &testHost{
			netns: fmt.Sprintf("%s%dh%d", testPrefix, slot, i),
			ip:    fmt.Sprintf("10.215.%d.%d", slot, 11+i),
		}
		h.path = filepath.Join(testNetnsDir, h.netns)
		veth := fmt.Sprintf("%s%dv%d", testPrefix, slot, i)
		mustIP(tb, "netns", "add", h.netns)
		mustIP(tb, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns)
		mustIP(tb, "link", "set", veth, "master", nw.bridge, "up")
		mustIP(tb, "-n", h.netns, "addr", "add", h.ip+"/24", "dev", "eth0")
		mustIP(tb, "-n", h.netns, "link", "set", "eth0", "up")
		mustIP(tb, "-n", h.netns, "link", "set", "lo", "up")
		nw.hosts = append(nw.hosts, h)
	}
	return nw
}

// newPodNS creates an empty network namespace for a pod and returns its path; it is
// deleted in Cleanup unless the test deleted it first.
func (nw *testNet) newPodNS() string {
	nw.tb.Helper()
	name := fmt.Sprintf("%s%dp%d", testPrefix, nw.slot, nw.pods)
	nw.pods++
	mustIP(nw.tb, "netns", "add", name)
	path := filepath.Join(testNetnsDir, name)
	nw.tb.Cleanup(func() { deleteNetNS(path) })
	return path
}

// deleteNetNS deletes a namespace made by newPodNS (a no-op if already gone).
func deleteNetNS(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return ip("netns", "delete", filepath.Base(path))
}

// do runs fn inside the host's network namespace (see inNetNS).
func (h *testHost) do(fn func() error) error { return inNetNS(h.path, fn) }

// inNetNS runs fn on a goroutine locked to an OS thread that has joined the network
// namespace at path. Everything fn does on that goroutine — sockets it opens, netlink
// requests, /proc/sys/net writes, and child processes it starts (a fork inherits the
// forking thread's namespace; libcni runs the plugins that way) — happens in that
// namespace. The thread is never unlocked, so Go discards it when the goroutine ends
// and no other goroutine ever runs in the wrong namespace. fn must not call
// t.Fatal (it runs on another goroutine); it returns errors instead.
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

// reserveSlot takes the first free slot's lock file.
func reserveSlot(tb testing.TB) (int, func()) {
	tb.Helper()
	if err := os.MkdirAll(testLockDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	start := os.Getpid() % 254
	for k := range 254 {
		slot := (start+k)%254 + 1
		f, err := os.OpenFile(filepath.Join(testLockDir, fmt.Sprintf("slot-%d.lock", slot)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			tb.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return slot, func() { f.Close() }
	}
	tb.Fatal("no free test network slot")
	return 0, nil
}

// sweepSlot deletes the slot's namespaces (hosts and pods) and root-namespace links.
// Deleting a host's namespace also removes its veths, bridge, routes and rules.
func sweepSlot(slot int) error {
	prefix := fmt.Sprintf("%s%d", testPrefix, slot)
	own := func(name string) bool {
		rest, ok := strings.CutPrefix(name, prefix)
		return ok && rest != "" && strings.ContainsRune("bvhp", rune(rest[0]))
	}
	var errs []error
	entries, _ := os.ReadDir(testNetnsDir)
	for _, e := range entries {
		if own(e.Name()) {
			if err := ip("netns", "delete", e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// The root namespace is shared with the other test binaries of the run (make test
	// runs packages in parallel): their link changes may interrupt this dump.
	links, err := netlinkutil.Retry(netlink.LinkList)
	if err != nil {
		return err
	}
	for _, l := range links {
		if own(l.Attrs().Name) {
			// A veth whose peer was in a namespace just deleted may vanish meanwhile.
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// fenceTestSubnet makes 10.215.0.0/16 unreachable from the root namespace (which has
// no address on any test subnet), so no test packet follows the default route off the
// machine. The route stays; it is harmless and other runs need it too.
func fenceTestSubnet() error {
	out, err := exec.Command("ip", "route", "show", "type", "unreachable", testSubnet).Output()
	if err != nil {
		return fmt.Errorf("ip route show: %w", err)
	}
	if len(out) > 0 {
		return nil
	}
	if err := ip("route", "add", "unreachable", testSubnet); err != nil {
		if out, _ := exec.Command("ip", "route", "show", "type", "unreachable", testSubnet).Output(); len(out) > 0 {
			return nil // added meanwhile by a parallel run
		}
		return err
	}
	return nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func mustIP(tb testing.TB, args ...string) {
	tb.Helper()
	if err := ip(args...); err != nil {
		tb.Fatal(err)
	}
}
