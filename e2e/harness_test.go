package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a tiny network helper, so the harness tests
// need no tool beyond the test binary itself: "listen:ADDR" serves a greeting on ADDR,
// "dial:ADDR" connects and prints it.
const helperEnv = "GOSSIPOD_E2E_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	code := m.Run()
	cleanupBuild()
	cleanupKubectl()
	os.Exit(code)
}

// runHelper runs the helper mode named by $GOSSIPOD_E2E_HELPER.
func runHelper(mode string) int {
	verb, addr, _ := strings.Cut(mode, ":")
	switch verb {
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("listening on", ln.Addr())
		for {
			conn, err := ln.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Fprintf(conn, "hello from %s\n", ln.Addr())
			conn.Close()
		}
	case "dial":
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(line)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

// helperArgv is the command line that runs this test binary as a helper.
func helperArgv(t *testing.T, mode string) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"env", helperEnv + "=" + mode, exe}
}

// TestHarnessNetwork checks the plumbing every e2e test relies on: each host has its
// address on eth0 and lo up, hosts reach each other and are reachable from the root
// namespace, Cut isolates a host and Heal brings it back.
func TestHarnessNetwork(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, NoAgents: true})

	for i := range c.N() {
		res := c.Exec(i, 5*time.Second, "ip", "-j", "addr", "show")
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		var links []struct {
			Name     string   `json:"ifname"`
			Flags    []string `json:"flags"`
			AddrInfo []struct {
				Local string `json:"local"`
			} `json:"addr_info"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &links); err != nil {
			t.Fatalf("decode ip addr of host %d: %v", i, err)
		}
		got := map[string]bool{}
		for _, l := range links {
			if !slices.Contains(l.Flags, "UP") {
				continue
			}
			for _, a := range l.AddrInfo {
				got[l.Name+"="+a.Local] = true
			}
		}
		for _, want := range []string{"lo=127.0.0.1", "eth0=" + c.IP(i)} {
			if !got[want] {
				t.Errorf("host %d: want %s up, have %v", i, want, got)
			}
		}
	}

	target := net.JoinHostPort(c.IP(2), "9000")
	ln := c.StartIn(2, "listener.log", helperArgv(t, "listen:"+target)...)
	Eventually(t, 10*time.Second, func() error {
		if ln.Exited() {
			t.Fatalf("listener exited: %v\n%s", ln.ExitError(), ln.Log())
		}
		if !strings.Contains(ln.Log(), "listening on") {
			return fmt.Errorf("listener not ready: %s", ln.Log())
		}
		return nil
	})
	dialFromHost0 := func() error {
		res := c.Exec(0, 10*time.Second, helperArgv(t, "dial:"+target)...)
		if err := res.Err(); err != nil {
			return err
		}
		if !strings.Contains(res.Stdout, "hello from "+target) {
			return fmt.Errorf("unexpected greeting %q", res.Stdout)
		}
		return nil
	}
	dialFromRoot := func() error {
		conn, err := net.DialTimeout("tcp", target, 2*time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	}

	if err := dialFromHost0(); err != nil {
		t.Fatalf("host0 -> host2 before cut: %v", err)
	}
	if err := dialFromRoot(); err != nil {
		t.Fatalf("root -> host2 before cut: %v", err)
	}

	c.Cut(2)
	if err := dialFromHost0(); err == nil {
		t.Fatal("host0 reached host2 after Cut(2)")
	}
	if err := dialFromRoot(); err == nil {
		t.Fatal("root namespace reached host2 after Cut(2)")
	}

	c.Heal(2)
	Eventually(t, 10*time.Second, dialFromHost0)
	Eventually(t, 10*time.Second, dialFromRoot)
}

// TestHarnessTeardown checks that a cluster's cleanup leaves nothing behind: no
// namespace, no link, no process (even one the harness did not start itself).
func TestHarnessTeardown(t *testing.T) {
	RequireRoot(t)
	var names []string
	var orphan int
	t.Run("cluster", func(t *testing.T) {
		c := NewCluster(t, Options{Hosts: 2, NoAgents: true})
		names = []string{c.net.bridge}
		for _, h := range c.net.hosts {
			names = append(names, h.netns, h.veth)
		}
		// A background process the harness does not know about, as a pod or a
		// forking agent might leave.
		res := c.Exec(1, 5*time.Second, "sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!")
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		var err error
		if orphan, err = strconv.Atoi(strings.TrimSpace(res.Stdout)); err != nil {
			t.Fatalf("pid of background sleep: %v (%q)", err, res.Stdout)
		}
	})
	assertGone(t, names, orphan)
}

// TestHarnessSweepsStale checks that the leftovers of a run that died without cleaning
// up (its slot lock released, its objects still there) are removed by the next run.
func TestHarnessSweepsStale(t *testing.T) {
	RequireRoot(t)
	nw, err := reserveSlot()
	if err != nil {
		t.Fatal(err)
	}
	slot := nw.slot
	bridge := fmt.Sprintf("%s%db", namePrefix, slot)
	h := netHost{
		netns: fmt.Sprintf("%s%dh0", namePrefix, slot),
		veth:  fmt.Sprintf("%s%dv0", namePrefix, slot),
		ip:    fmt.Sprintf(subnetFmt, slot, hostOffset),
	}
	t.Cleanup(func() { cleanSlot(slot) }) // in case the sweep under test fails
	if err := ip("link", "add", "name", bridge, "type", "bridge"); err != nil {
		t.Fatal(err)
	}
	if err := addHost(bridge, h); err != nil {
		t.Fatal(err)
	}
	sleeper := StartProcess(t, t.TempDir()+"/sleep.log", "nsenter", "--net="+netnsDir+"/"+h.netns, "--", "sleep", "300")
	nw.lock.Close() // the owner "crashes": its lock goes, its objects stay

	sweepStale()
	assertGone(t, []string{bridge, h.netns, h.veth}, 0)
	if err := sleeper.Wait(5 * time.Second); !sleeper.Exited() {
		t.Errorf("process in stale namespace still running: %v", err)
	}
}

// assertGone fails the test if any of the named links or namespaces, or process pid
// (when non-zero), still exists.
func assertGone(t *testing.T, names []string, pid int) {
	t.Helper()
	links, err := linkNames()
	if err != nil {
		t.Fatal(err)
	}
	nss, err := netnsNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if slices.Contains(links, n) || slices.Contains(nss, n) {
			t.Errorf("%s still exists after teardown", n)
		}
	}
	if pid > 0 {
		if err := syscall.Kill(pid, 0); err == nil && !isZombie(pid) {
			t.Errorf("process %d inside a torn-down host still runs", pid)
		}
	}
}
