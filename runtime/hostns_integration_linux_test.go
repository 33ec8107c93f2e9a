package runtime

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gossipod/gossipod/api"
)

// The host-namespace test runs in a child of the test binary with network,
// UTS and IPC namespaces of its own, which act as the node's: a link
// and an address only this "host" has, a hostname of its own, a System V
// shared memory segment. The pods' processes and the agent's are those of
// the child, so nothing of the machine's own network is touched.
const (
	hostNSChildEnv = "GOSSIPOD_TEST_HOSTNS_CHILD"
	hostNSPauseEnv = "GOSSIPOD_TEST_HOSTNS_PAUSE"
	hostNSImageEnv = "GOSSIPOD_TEST_HOSTNS_IMAGE"

	hostNSLink     = "gp-host0"
	hostNSAddr     = "198.18.7.1" // RFC 2544 benchmarking range
	hostNSHostname = "gossipod-hosttest"
	hostNSPort     = 18080
)

// TestRealHostNamespacesPod: a pod with hostNetwork, hostPID and hostIPC
// sees the node's links, listens on the node's address, has the node's
// hostname and the node's IP as its podIP; sees the node's processes and
// its System V IPC. A pod beside it without them sees none of that. The
// host-network pod survives an agent restart (re-adopted, not
// restarted), and removing it leaves the node's links and addresses as
// they were.
func TestRealHostNamespacesPod(t *testing.T) {
	needRoot(t)
	if os.Getenv(hostNSChildEnv) == "" {
		runInOwnHost(t)
		return
	}
	fixtures.once.Do(func() { fixtures.pause, fixtures.image = os.Getenv(hostNSPauseEnv), os.Getenv(hostNSImageEnv) })
	shmID := setUpTestHost(t)
	before := hostNetworkState(t)

	h := newRealHarnessWith(t, func(c *Config) { c.HostIP = hostNSAddr })
	p := busyboxPod("hostns", sh("web",
		"mkdir -p /srv && echo hello-from-host-network > /srv/index.html && exec httpd -f -p "+strconv.Itoa(hostNSPort)+" -h /srv"))
	p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
	p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: hostNSPort}}
	api.SetPodDefaults(p) // hostPort = containerPort
	if err := api.ValidatePod(p); err != nil {
		t.Fatal(err)
	}
	plain := busyboxPod("plain", sh("main", "exec sleep 3600"))
	h.r.SyncPods([]*api.Pod{p, plain})
	u := h.waitPhase(string(p.UID), api.PodRunning)
	h.waitPhase(string(plain.UID), api.PodRunning)
	if u.Status.PodIP != hostNSAddr || len(u.Status.PodIPs) != 1 || u.Status.PodIPs[0].IP != hostNSAddr {
		t.Errorf("podIP %q, podIPs %v: want the node's address %s", u.Status.PodIP, u.Status.PodIPs, hostNSAddr)
	}

	hostNS := func(kind string) string {
		l, err := os.Readlink("/proc/self/ns/" + kind)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	type check struct {
		what   string
		cmd    []string
		inHost func(out string) bool // what the hostns pod must see; plain must not
	}
	for _, c := range []check{
		{"the host's links", []string{"ls", "/sys/class/net"}, func(out string) bool { return strings.Contains(out, hostNSLink) }},
		{"the host's addresses", []string{"ip", "addr"}, func(out string) bool { return strings.Contains(out, hostNSAddr+"/24") }},
		{"the host's network namespace", []string{"readlink", "/proc/self/ns/net"}, func(out string) bool { return strings.TrimSpace(out) == hostNS("net") }},
		{"the host's hostname", []string{"hostname"}, func(out string) bool { return strings.TrimSpace(out) == hostNSHostname }},
		{"a host process", []string{"cat", fmt.Sprintf("/proc/%d/comm", os.Getpid())}, func(out string) bool {
			comm, _ := os.ReadFile("/proc/self/comm")
			return strings.TrimSpace(out) == strings.TrimSpace(string(comm))
		}},
		{"the host's PID namespace", []string{"readlink", "/proc/self/ns/pid"}, func(out string) bool { return strings.TrimSpace(out) == hostNS("pid") }},
		{"the host's IPC namespace", []string{"readlink", "/proc/self/ns/ipc"}, func(out string) bool { return strings.TrimSpace(out) == hostNS("ipc") }},
		{"the host's shm segment", []string{"cat", "/proc/sysvipc/shm"}, func(out string) bool {
			return slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
				f := strings.Fields(l)
				return len(f) > 1 && f[1] == strconv.Itoa(shmID)
			})
		}},
	} {
		out, code := h.exec("hostns", "web", c.cmd...)
		if code != 0 || !c.inHost(out) {
			t.Errorf("hostns pod does not see %s: %v: %q (exit %d)", c.what, c.cmd, out, code)
		}
		if out, _ := h.exec("plain", "main", c.cmd...); c.inHost(out) {
			t.Errorf("a pod without host namespaces sees %s: %v: %q", c.what, c.cmd, out)
		}
	}
	if out, _ := h.exec("hostns", "web", "head", "-n1", "/etc/hosts"); strings.TrimSpace(out) != "# Kubernetes-managed hosts file (host network)." {
		t.Errorf("/etc/hosts of a hostNetwork pod starts %q, want the node's file under kubelet's header", out)
	}

	// The server listens on the node's own address.
	fetch := func() {
		t.Helper()
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get("http://" + net.JoinHostPort(hostNSAddr, strconv.Itoa(hostNSPort)) + "/")
		if err != nil {
			t.Fatalf("fetch from the pod on the node's address: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.TrimSpace(string(b)) != "hello-from-host-network" {
			t.Fatalf("fetch from the pod on the node's address: %q", b)
		}
	}
	fetch()

	// An agent restart re-adopts the sandbox, which has no network
	// namespace of its own: same process, same address, still serving.
	pid := h.pidOf("hostns", "web")
	h.restart()
	h.r.SyncPods([]*api.Pod{p, plain})
	u = h.waitSeen(string(p.UID), "re-adopted and running", func(u PodUpdate) bool { return u.Status.Phase == api.PodRunning })
	if got := h.pidOf("hostns", "web"); got != pid {
		t.Errorf("after an agent restart the container's pid is %d, was %d: restarted instead of re-adopted", got, pid)
	}
	if u.Status.PodIP != hostNSAddr {
		t.Errorf("after an agent restart podIP %q, want %s", u.Status.PodIP, hostNSAddr)
	}
	fetch()

	// Removing the pods leaves the host's network as it was.
	h.r.SyncPods(nil)
	waitUntilFor(t, time.Minute, "every pod removed", func() bool {
		h.r.mu.Lock()
		defer h.r.mu.Unlock()
		return len(h.r.workers) == 0
	})
	if after := hostNetworkState(t); !slices.Equal(before, after) {
		t.Errorf("the host's links and addresses changed with the pod's removal:\nbefore %q\nafter  %q", before, after)
	}
}

// runInOwnHost runs TestRealHostNamespacesPod again in a child process
// with new network, UTS and IPC namespaces, and reports its outcome.
func runInOwnHost(t *testing.T) {
	pause, image := fixtures.get(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRealHostNamespacesPod$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), hostNSChildEnv+"=1", hostNSPauseEnv+"="+pause, hostNSImageEnv+"="+image)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC}
	out, err := cmd.CombinedOutput()
	t.Logf("in a host of its own:\n%s", out)
	if err != nil {
		t.Fatalf("test in a host of its own: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestRealHostNamespacesPod") {
		t.Fatal("the test did not run in its host")
	}
}

// setUpTestHost makes the child's namespaces a host: lo up, a link
// with an address, a hostname, a System V shm segment (its id returned).
func setUpTestHost(t *testing.T) int {
	t.Helper()
	if err := unix.Sethostname([]byte(hostNSHostname)); err != nil {
		t.Fatal(err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	// A veth pair rather than a dummy link: not every kernel has the
	// dummy module, every one that runs pods has veth.
	link := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostNSLink}, PeerName: hostNSLink + "p"}
	if err := netlink.LinkAdd(link); err != nil {
		t.Fatalf("add %s: %v", hostNSLink, err)
	}
	// No IPv6 link-local addresses: the kernel adds them whenever DAD
	// gets to it, which would read as a change the pod made.
	for _, name := range []string{hostNSLink, hostNSLink + "p"} {
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("disable IPv6 on %s: %v", name, err)
		}
	}
	peer, err := netlink.LinkByName(hostNSLink + "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr(hostNSAddr + "/24")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	// Wait for the carrier (RUNNING), which the kernel sets a moment after
	// both ends are up, so the state read before the pod is the settled one.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := netlink.LinkByName(hostNSLink)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().RawFlags&unix.IFF_RUNNING != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no carrier 10s after both ends came up", hostNSLink)
		}
		time.Sleep(20 * time.Millisecond)
	}
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Fatalf("shmget: %v", err)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	return id
}

// hostNetworkState lists the host's links (name, flags, MTU) and
// addresses, sorted, to compare before and after.
func hostNetworkState(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		a := l.Attrs()
		out = append(out, fmt.Sprintf("link %s %s mtu %d", a.Name, a.Flags, a.MTU))
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ad := range addrs {
			out = append(out, fmt.Sprintf("addr %s %s", a.Name, ad.IPNet))
		}
	}
	slices.Sort(out)
	return out
}
