package e2e

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// clusterCIDR is the agents' default --cluster-cidr, from which every node gets its
// own pod CIDR.
var clusterCIDR = netip.MustParsePrefix("10.88.0.0/16")

// webPort is where the web container of a netPod serves its own name over HTTP.
const webPort = 8080

// netPod is a pod pinned to one node (by its kubernetes.io/hostname label) with two
// containers: web serves the pod's name over HTTP on webPort, published on the node's
// address as a hostPort; side only sleeps, and is where probes are run from, so that
// a test also shows that a second container shares the pod's network.
// Arguments: name, node, label value, hostPort.
const netPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels:
    nettest: %[3]s
spec:
  nodeSelector:
    kubernetes.io/hostname: %[2]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo %[1]s > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - containerPort: 8080
      hostPort: %[4]d
    resources:
      requests: {cpu: 10m, memory: 16Mi}
  - name: side
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`

// netNodeList is the part of `get nodes -o json` the network tests read.
type netNodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			PodCIDR  string   `json:"podCIDR"`
			PodCIDRs []string `json:"podCIDRs"`
		} `json:"spec"`
	} `json:"items"`
}

// podCIDRs returns every node's pod CIDR as host i sees them, and an error until all
// of the cluster's nodes have one.
func podCIDRs(c *Cluster, i int) (map[string]netip.Prefix, error) {
	var nl netNodeList
	if err := c.decodeJSON(i, &nl, "get", "nodes", "-o", "json"); err != nil {
		return nil, err
	}
	cidrs := map[string]netip.Prefix{}
	for _, n := range nl.Items {
		if n.Spec.PodCIDR == "" {
			return nil, fmt.Errorf("node %s has no spec.podCIDR yet", n.Metadata.Name)
		}
		p, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil {
			return nil, fmt.Errorf("node %s: spec.podCIDR %q: %v", n.Metadata.Name, n.Spec.PodCIDR, err)
		}
		if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return nil, fmt.Errorf("node %s: spec.podCIDRs %v does not start with spec.podCIDR %s", n.Metadata.Name, n.Spec.PodCIDRs, n.Spec.PodCIDR)
		}
		cidrs[n.Metadata.Name] = p
	}
	if len(cidrs) != c.N() {
		return nil, fmt.Errorf("%d nodes with a pod CIDR, want %d: %v", len(cidrs), c.N(), cidrs)
	}
	return cidrs, nil
}

// inetRE finds the IPv4 addresses in `ip -o -4 addr` output.
var inetRE = regexp.MustCompile(`\binet (\d+\.\d+\.\d+\.\d+)/\d+`)

// containerIPs returns the IPv4 addresses other than loopback that a container sees in
// its network namespace, with exec through host via.
func containerIPs(c *Cluster, via int, pod, container string) ([]string, error) {
	res := c.RunOn(via, "exec", pod, "-c", container, "--", "ip", "-o", "-4", "addr", "show")
	if err := res.Err(); err != nil {
		return nil, err
	}
	var ips []string
	for _, m := range inetRE.FindAllStringSubmatch(res.Stdout, -1) {
		if !strings.HasPrefix(m[1], "127.") {
			ips = append(ips, m[1])
		}
	}
	return ips, nil
}

// httpProbe is a shell command that fetches / from ip:port over plain TCP with
// busybox nc (the machine's busybox wget is unusable) and prints the response.
func httpProbe(nc, ip string, port int) string {
	return fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | %s -w 3 %s %d`, nc, ip, port)
}

// checkServed judges an httpProbe's result: a 200 response whose body is want.
func checkServed(res Result, want string) error {
	if err := res.Err(); err != nil {
		return err
	}
	if !strings.Contains(res.Stdout, " 200 ") || !strings.Contains(res.Stdout, "\r\n\r\n"+want+"\n") {
		return fmt.Errorf("%q: got %q, want a 200 response with body %q", res.Args, res.Stdout, want+"\n")
	}
	return nil
}

// probeTimeout bounds a reachability check. Routes and rules are in place before a
// pod runs, so the first try should succeed; the bound only absorbs a slow exec.
const probeTimeout = 15 * time.Second

// TestPodNetwork shows issue 5 on real agents, one pod per host, each with two
// containers: every node has its own pod CIDR out of the cluster CIDR; all containers
// of a pod see one IP, the pod's status.podIP, inside its node's CIDR; every pod
// reaches every other pod by pod IP over TCP, across hosts, both ways; a hostPort
// reaches its container through the node's address from another host (a pod there
// and the host itself); and, last, 50 create/delete cycles of hostPort pods with an
// agent SIGKILLed and restarted in the middle leave no address lease, veth or
// iptables rule behind on any host.
func TestPodNetwork(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	leader := waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	c.PrivilegedNamespace(0, "default") // hostPort pods

	var cidrs map[string]netip.Prefix
	Eventually(t, formTimeout, func() (err error) {
		cidrs, err = podCIDRs(c, 0)
		return err
	})
	t.Logf("leader %s; pod CIDRs %v", leader, cidrs)

	t.Run("nodes have distinct pod CIDRs from the cluster CIDR", func(t *testing.T) {
		c := c.WithT(t)
		for i := range c.N() {
			p := cidrs[c.Name(i)]
			if !p.IsValid() || !clusterCIDR.Contains(p.Addr()) || p.Bits() < clusterCIDR.Bits() || p.Masked() != p {
				t.Errorf("%s: pod CIDR %v is not a subnet of %v", c.Name(i), p, clusterCIDR)
			}
			for j := range i {
				if q := cidrs[c.Name(j)]; p.Overlaps(q) {
					t.Errorf("%s's pod CIDR %v overlaps %s's %v", c.Name(i), p, c.Name(j), q)
				}
			}
			// Every replica agrees.
			other, err := podCIDRs(c, i)
			if err != nil {
				t.Fatal(err)
			}
			if !cidrsEqual(other, cidrs) {
				t.Errorf("%s sees pod CIDRs %v, %s sees %v", c.Name(i), other, c.Name(0), cidrs)
			}
		}
	})

	// One two-container pod per host, all applied first, then waited for.
	pods := make([]Pod, c.N())
	for i := range c.N() {
		c.MustApply((i+1)%c.N(), fmt.Sprintf(netPod, netPodName(i), c.Name(i), "mesh", 30080))
	}
	for i := range c.N() {
		pods[i] = c.WaitPod(0, netPodName(i), scheduleTimeout+runTimeout, boundTo(c.Name(i)))
		t.Logf("%s runs on %s with IP %s", netPodName(i), c.Name(i), pods[i].Status.PodIP)
	}

	t.Run("all containers of a pod see the pod IP from their node's CIDR", func(t *testing.T) {
		c := c.WithT(t)
		seen := map[string]string{}
		for i, p := range pods {
			ip, err := netip.ParseAddr(p.Status.PodIP)
			if err != nil {
				t.Errorf("%s: status.podIP %q: %v", p.Metadata.Name, p.Status.PodIP, err)
				continue
			}
			if cidr := cidrs[p.Spec.NodeName]; !cidr.Contains(ip) || ip == cidr.Addr() || ip == cidr.Addr().Next() {
				t.Errorf("%s: pod IP %s is not a pod address of its node %s's CIDR %v", p.Metadata.Name, ip, p.Spec.NodeName, cidr)
			}
			if other, dup := seen[p.Status.PodIP]; dup {
				t.Errorf("%s and %s both have IP %s", other, p.Metadata.Name, p.Status.PodIP)
			}
			seen[p.Status.PodIP] = p.Metadata.Name
			if p.Status.HostIP != c.IP(i) {
				t.Errorf("%s: status.hostIP %q, want its node's address %s", p.Metadata.Name, p.Status.HostIP, c.IP(i))
			}
			for _, ctr := range []string{"web", "side"} {
				via := (i + 2) % c.N()
				ips, err := containerIPs(c, via, p.Metadata.Name, ctr)
				if err != nil {
					t.Errorf("%s/%s: %v", p.Metadata.Name, ctr, err)
					continue
				}
				if len(ips) != 1 || ips[0] != p.Status.PodIP {
					t.Errorf("%s/%s sees addresses %v, want only the pod IP %s", p.Metadata.Name, ctr, ips, p.Status.PodIP)
				}
				// The pod's /etc/hosts maps its hostname to the pod IP too.
				res := c.RunOn(via, "exec", p.Metadata.Name, "-c", ctr, "--", "hostname", "-i")
				if got := strings.TrimSpace(res.Stdout); res.Err() != nil || got != p.Status.PodIP {
					t.Errorf("%s/%s: hostname -i gives %q, want %s:\n%s", p.Metadata.Name, ctr, got, p.Status.PodIP, res)
				}
			}
		}
	})

	t.Run("pods reach pods on every other host by pod IP over TCP, both ways", func(t *testing.T) {
		c := c.WithT(t)
		for i, from := range pods {
			for j, to := range pods {
				if i == j {
					continue
				}
				Eventually(t, probeTimeout, func() error {
					res := c.RunOn(i, "exec", from.Metadata.Name, "-c", "side", "--",
						"sh", "-c", httpProbe("nc", to.Status.PodIP, webPort))
					if err := checkServed(res, to.Metadata.Name); err != nil {
						return fmt.Errorf("%s (%s) to %s (%s) at %s: %w", from.Metadata.Name, c.Name(i), to.Metadata.Name, c.Name(j), to.Status.PodIP, err)
					}
					return nil
				})
			}
		}
	})

	t.Run("a hostPort reaches its container through the node's address from another host", func(t *testing.T) {
		c := c.WithT(t)
		for j, to := range pods {
			i := (j + 1) % c.N() // another host
			Eventually(t, probeTimeout, func() error {
				res := c.Exec(i, 10*time.Second, "sh", "-c", httpProbe("busybox nc", c.IP(j), 30080))
				if err := checkServed(res, to.Metadata.Name); err != nil {
					return fmt.Errorf("from %s's namespace to %s:30080: %w", c.Name(i), c.IP(j), err)
				}
				return nil
			})
			from := pods[i]
			Eventually(t, probeTimeout, func() error {
				res := c.RunOn(i, "exec", from.Metadata.Name, "-c", "side", "--",
					"sh", "-c", httpProbe("nc", c.IP(j), 30080))
				if err := checkServed(res, to.Metadata.Name); err != nil {
					return fmt.Errorf("from pod %s on %s to %s:30080: %w", from.Metadata.Name, c.Name(i), c.IP(j), err)
				}
				return nil
			})
		}
	})

	// The mesh pods go first: every host has now had a hostPort pod, so portmap's
	// per-node chains exist and the baseline holds only what pods leave behind.
	if res := c.RunOn(0, "delete", "pods", "-l", "nettest=mesh", "--now", "--timeout", podGoneTimeout.String()); res.Err() != nil {
		t.Fatalf("delete the mesh pods: %v", res.Err())
	}

	t.Run("50 create/delete cycles with an agent restart leak no IP, veth or rule", func(t *testing.T) {
		c := c.WithT(t)
		testNoNetworkLeaks(t, c)
	})
}

// netPodName names the mesh pod of host i.
func netPodName(i int) string { return fmt.Sprintf("net-%d", i) }

// cidrsEqual compares two maps of pod CIDRs.
func cidrsEqual(a, b map[string]netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Leak test shape: rounds of podsPerRound hostPort pods spread over the hosts, each
// created, run and deleted; the agent restart happens in restartRound.
const (
	leakRounds   = 5
	podsPerRound = 10
	restartRound = 2
	leakPortBase = 31000
)

// testNoNetworkLeaks records every host's network footprint, runs 50 pod lifetimes
// in rounds (one round with an agent SIGKILLed while its pods are present and deleted
// while it is down), and checks that every count is back where it started.
func testNoNetworkLeaks(t *testing.T, c *Cluster) {
	// Nothing of the mesh pods may still be on the way out.
	before := make([]netFootprint, c.N())
	Eventually(t, podGoneTimeout, func() error {
		for i := range c.N() {
			fp, err := networkFootprint(c, i)
			if err != nil {
				return err
			}
			if fp.leases() != 0 || fp.records() != 0 {
				return fmt.Errorf("%s still holds pod leases %v or sandbox records %v with no pod", c.Name(i), fp.Leases, fp.Records)
			}
			before[i] = fp
		}
		return nil
	})
	for i, fp := range before {
		t.Logf("%s before: %s", c.Name(i), fp.summary())
	}

	n := 0 // pods created so far, which numbers their hostPorts
	for round := range leakRounds {
		label := fmt.Sprintf("leak-%d", round)
		var manifest strings.Builder
		for k := range podsPerRound {
			if k > 0 {
				manifest.WriteString("---\n")
			}
			fmt.Fprintf(&manifest, netPod, fmt.Sprintf("%s-%d", label, k), c.Name(k%c.N()), label, leakPortBase+n)
			n++
		}
		c.MustApply(round%c.N(), manifest.String())
		Eventually(t, scheduleTimeout+runTimeout, func() error {
			pl, err := c.Pods(0, "-l", "nettest="+label)
			if err != nil {
				return err
			}
			if len(pl.Items) != podsPerRound {
				return fmt.Errorf("%d pods labelled %s, want %d", len(pl.Items), label, podsPerRound)
			}
			for _, p := range pl.Items {
				if err := p.Running(); err != nil {
					return err
				}
			}
			return nil
		})
		// The pods really hold addresses, veths and rules: the counts went up on every
		// host, so that getting back to the baseline means something.
		for i := range c.N() {
			fp, err := networkFootprint(c, i)
			if err != nil {
				t.Fatal(err)
			}
			if fp.leases() <= before[i].leases() || fp.veths() <= before[i].veths() || len(fp.Rules) <= len(before[i].Rules) {
				t.Fatalf("round %d: %s with pods running: %s, no more than before (%s)", round, c.Name(i), fp.summary(), before[i].summary())
			}
		}

		if round != restartRound {
			res := c.RunOn(round%c.N(), "delete", "pods", "-l", "nettest="+label, "--now", "--timeout", podGoneTimeout.String())
			if err := res.Err(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			continue
		}

		// A follower's agent dies with its pods running; the pods are deleted while it
		// is down, and it cleans them up once it is back.
		lead := c.Index(waitFormed(t, c, 3, 0))
		down := (lead + 1) % c.N()
		via := (lead + 2) % c.N()
		t.Logf("round %d: SIGKILL %s with its pods running, delete them while it is down", round, c.Name(down))
		c.Kill(down)
		res := c.RunOn(via, "delete", "pods", "-l", "nettest="+label, "--now", "--wait=false")
		if err := res.Err(); err != nil {
			t.Fatalf("round %d: delete while %s is down: %v", round, c.Name(down), err)
		}
		time.Sleep(2 * time.Second) // the others' pods go meanwhile
		c.Start(down)
		Eventually(t, restartTimeout+podGoneTimeout, func() error {
			pl, err := c.Pods(via, "-l", "nettest="+label)
			if err != nil {
				return err
			}
			if len(pl.Items) > 0 {
				return fmt.Errorf("%d pods labelled %s not yet gone, e.g. %s on %s", len(pl.Items), label, pl.Items[0].Metadata.Name, pl.Items[0].Spec.NodeName)
			}
			return nil
		})
	}
	if n != 50 {
		t.Fatalf("ran %d pods, want 50", n)
	}

	// Teardown on the node finishes before the API forgets a pod, but allow for a
	// restarted agent's sweep of stale sandboxes.
	Eventually(t, podGoneTimeout, func() error {
		var errs []string
		for i := range c.N() {
			fp, err := networkFootprint(c, i)
			if err != nil {
				return err
			}
			if d := fp.diff(before[i]); d != "" {
				errs = append(errs, fmt.Sprintf("%s after 50 pods: %s (before: %s):\n%s", c.Name(i), fp.summary(), before[i].summary(), d))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
		return nil
	})
	for i := range c.N() {
		fp, _ := networkFootprint(c, i)
		t.Logf("%s after: %s", c.Name(i), fp.summary())
	}
}

// netFootprint is what pods leave in a host's network state: host-local's address
// leases and the agent's sandbox records and CNI result cache (files under
// <data-dir>/network), the veths and the iptables rules of the host's namespace.
type netFootprint struct {
	Leases  []string // ipam/<net>/<ip> files
	Records []string // sandboxes/*
	Cache   []string // cache/** files
	Veths   []string // interface names
	Rules   []string // iptables-save lines without comments and counters
}

func (f netFootprint) leases() int  { return len(f.Leases) }
func (f netFootprint) records() int { return len(f.Records) }
func (f netFootprint) veths() int   { return len(f.Veths) }

func (f netFootprint) summary() string {
	return fmt.Sprintf("%d leases, %d veths, %d iptables lines, %d sandbox records, %d CNI cache files",
		len(f.Leases), len(f.Veths), len(f.Rules), len(f.Records), len(f.Cache))
}

// diff describes how f differs from before, or is "" when every count matches.
func (f netFootprint) diff(before netFootprint) string {
	var out []string
	for _, x := range []struct {
		what        string
		now, before []string
	}{
		{"address leases", f.Leases, before.Leases},
		{"veths", f.Veths, before.Veths},
		{"iptables lines", f.Rules, before.Rules},
		{"sandbox records", f.Records, before.Records},
		{"CNI cache files", f.Cache, before.Cache},
	} {
		if len(x.now) == len(x.before) {
			continue
		}
		out = append(out, fmt.Sprintf("  %s: %d, was %d; added %q, gone %q",
			x.what, len(x.now), len(x.before), multisetMinus(x.now, x.before), multisetMinus(x.before, x.now)))
	}
	return strings.Join(out, "\n")
}

// multisetMinus lists the elements of a not in b (as multisets).
func multisetMinus(a, b []string) []string {
	left := slices.Clone(b)
	var out []string
	for _, s := range a {
		if k := slices.Index(left, s); k >= 0 {
			left = slices.Delete(left, k, k+1)
			continue
		}
		out = append(out, s)
	}
	return out
}

// iptablesCounters matches the packet and byte counters of iptables-save chain lines.
var iptablesCounters = regexp.MustCompile(`\[\d+:\d+\]`)

// networkFootprint reads host i's netFootprint.
func networkFootprint(c *Cluster, i int) (netFootprint, error) {
	var fp netFootprint
	root := filepath.Join(c.DataDir(i), "network")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // not created yet, or removed meanwhile
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch parts := strings.Split(rel, string(filepath.Separator)); parts[0] {
		case "ipam":
			// host-local keeps one file per leased address, named after it, beside
			// its lock and last_reserved_ip files.
			if _, err := netip.ParseAddr(d.Name()); err == nil {
				fp.Leases = append(fp.Leases, rel)
			}
		case "sandboxes":
			fp.Records = append(fp.Records, rel)
		case "cache":
			fp.Cache = append(fp.Cache, rel)
		}
		return nil
	})
	if err != nil {
		return fp, fmt.Errorf("%s: read %s: %w", c.Name(i), root, err)
	}
	res := c.Exec(i, 10*time.Second, "ip", "-o", "link", "show", "type", "veth")
	if err := res.Err(); err != nil {
		return fp, err
	}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			fp.Veths = append(fp.Veths, strings.TrimSuffix(f[1], ":"))
		}
	}
	res = c.Exec(i, 10*time.Second, "iptables-save")
	if err := res.Err(); err != nil {
		return fp, err
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fp.Rules = append(fp.Rules, iptablesCounters.ReplaceAllString(line, "[0:0]"))
	}
	return fp, nil
}
