package e2e

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakPod is the soak's pod, argument its name: three containers sharing an emptyDir
// (one writes a page into it, one serves it on a hostPort, one reads it), which is
// everything a pod's life costs an agent at once: a sandbox, three containers and their
// cgroups, three overlay rootfs, a volume bind-mounted three times, a veth with an IP
// lease, and portmap's rules. Every container ends at once on SIGTERM, so a cycle does
// not wait out the grace period.
const soakPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels: {soak: "yes"}
spec:
  terminationGracePeriodSeconds: 5
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: writer
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo %[1]s > /shared/index.html; trap 'exit 0' TERM; sleep 3600 & wait"]
    volumeMounts: [{name: shared, mountPath: /shared}]
    resources: {requests: {cpu: 10m, memory: 16Mi}}
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["httpd", "-f", "-p", "8080", "-h", "/shared"]
    ports: [{containerPort: 8080, hostPort: %[2]d}]
    volumeMounts: [{name: shared, mountPath: /shared}]
    resources: {requests: {cpu: 10m, memory: 16Mi}}
  - name: reader
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumeMounts: [{name: shared, mountPath: /shared, readOnly: true}]
    resources: {requests: {cpu: 10m, memory: 16Mi}}
`

// soakHostPort is the soak pod's hostPort.
const soakHostPort = 30180

// soakWarmup cycles run before the baseline is taken: the first pods fill the agent's
// caches (image config, CNI plugin state, informers' buffers), grow its heap to its
// working size and let Raft take its first snapshot; what they leave is not a leak.
const soakWarmup = 10

// Tolerances of the soak, beyond its baseline after warm-up. Kernel objects (mounts
// under the data dir, cgroups, veths, IP leases, firewall rules) must come back exactly:
// one left per cycle would be a leak however few cycles run. The machine's whole mount
// table is printed but not judged: other tests' mounts come and go in it. Process figures move with timing, so
// they get a margin below what a leak of one object per cycle would add over a
// CI-sized run of 50 cycles:
//   - open fds +8: the API's keep-alive connections (this test's own, and a CLI's
//     whose close the agent has not yet read) and Raft's snapshot files come and go;
//   - goroutines +25: each such connection holds two, and timers of the pod loop and of
//     probes may be mid-flight;
//   - RSS +32 MiB or +50%, whichever is larger: Go returns freed memory to the kernel
//     lazily (scavenger), so RSS follows the heap's high-water mark, not its size;
//   - the Raft dir: after compaction, at most 4 MiB more than at the baseline,
//     whatever the number of cycles (each cycle appends about ten entries of a few
//     KiB; without compaction 1,000 cycles add tens of MiB).
const (
	soakFdSlack        = 8
	soakGoroutineSlack = 25
	soakRSSSlack       = 32 << 20
	soakRaftDirSlack   = 4 << 20
)

// soakCycles is $CYCLES, or def.
func soakCycles(t *testing.T, def int) int {
	s := os.Getenv("CYCLES")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("CYCLES=%q: want a positive number", s)
	}
	return n
}

// TestPodChurnSoak creates and deletes the same shape of pod (soakPod) over and over on
// one host, $CYCLES times (default 20, about two minutes in all; `make soak` runs 1,000),
// and checks that the agent gives back what each cycle takes: its RSS, open fds and
// goroutines, and on the host the mounts, cgroups, veths, IP leases and nftables/iptables
// rules, return to their level after warm-up within the tolerances above; and that Raft's
// log compaction (--raft-snapshot-threshold, small here so that it happens many times
// within the run) keeps the Raft data dir bounded. Every cycle also reads the page the
// writer put in the volume through the hostPort, so each pod is a working one. Figures
// are printed one per line, "soak: <what> before=<n> after=<n>".
func TestPodChurnSoak(t *testing.T) {
	cycles := soakCycles(t, 20)
	c := NewCluster(t, Options{Hosts: 1, AgentArgs: func(c *Cluster, i int) []string {
		return append(BootstrapExpect(1)(c, i),
			"--raft-snapshot-threshold", "64", "--raft-trailing-logs", "64", "--raft-snapshot-interval", "1s",
			// The watch history is a bounded cache that fills with every change
			// until its bound (about 110 MiB at the default, 16384 changes, some
			// 1,600 cycles); small, it is full after the warm-up, so that the
			// memory figures show leaks and not the cache filling.
			"--watch-history", "64",
			"--log-level", "info") // debug lines at this rate would fill the test's disk
	}})
	c.CleanupPods()
	waitFormed(t, c, 1, 0)
	c.LoadImage(0)
	c.PrivilegedNamespace(0, "default") // the hostPort
	web := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

	var uids []string
	cycle := func(n int) {
		t.Helper()
		name := fmt.Sprintf("soak-%d", n)
		c.MustApply(0, fmt.Sprintf(soakPod, name, soakHostPort))
		p := c.WaitPod(0, name, scheduleTimeout+runTimeout, Pod.Running)
		uids = append(uids, p.Metadata.UID)
		url := fmt.Sprintf("http://%s:%d/index.html", c.IP(0), soakHostPort)
		Eventually(t, 20*time.Second, func() error {
			resp, err := web.Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			if got := strings.TrimSpace(string(body)); resp.StatusCode != http.StatusOK || got != name {
				return fmt.Errorf("GET %s: %d %q, want 200 %q (the writer's page in the shared emptyDir)", url, resp.StatusCode, got, name)
			}
			return nil
		})
		res := c.RunOn(0, "delete", "pod", name, "--now", "--timeout", podGoneTimeout.String())
		if err := res.Err(); err != nil {
			t.Fatalf("cycle %d: delete pod %s: %v", n, name, err)
		}
	}

	for n := range soakWarmup {
		cycle(-n - 1)
	}
	before := c.waitSoakQuiet(t, nil)
	start := time.Now()
	for n := range cycles {
		cycle(n)
		if (n+1)%100 == 0 {
			t.Logf("soak: %d/%d cycles, %.2fs per cycle", n+1, cycles, time.Since(start).Seconds()/float64(n+1))
		}
	}
	elapsed := time.Since(start)
	after := c.waitSoakQuiet(t, before)
	fmt.Printf("soak: cycles=%d seconds=%.0f per_cycle=%.2fs\n", cycles, elapsed.Seconds(), elapsed.Seconds()/float64(cycles))
	for _, f := range soakFigureNames {
		fmt.Printf("soak: %s before=%d after=%d\n", f, before[f], after[f])
	}
	if problems := soakCompare(before, after); len(problems) > 0 {
		t.Errorf("after %d cycles the agent or host did not come back to its baseline:\n  %s", cycles, strings.Join(problems, "\n  "))
	}
	if after["raft_snapshot_index"] <= before["raft_snapshot_index"] {
		t.Errorf("no Raft snapshot was taken during the run (newest snapshot index %d, as before): the log was never compacted", after["raft_snapshot_index"])
	}
	if err := c.LeftoversOf(uids...); err != nil {
		t.Errorf("the soak's pods left things behind: %v", err)
	}
}

// soakFigureNames are the figures the soak measures, in the order printed.
var soakFigureNames = []string{
	"rss_bytes", "heap_inuse_bytes", "open_fds", "goroutines",
	"mounts", "mounts_under_data_dir", "cgroups", "veths", "ip_leases", "nft_lines", "iptables_rules",
	"raft_dir_bytes", "raft_snapshot_index", "raft_log_index",
}

// soakCompare returns what in after is beyond before's tolerance.
func soakCompare(before, after map[string]int64) []string {
	var out []string
	exact := []string{"mounts_under_data_dir", "cgroups", "veths", "ip_leases", "nft_lines", "iptables_rules"}
	for _, f := range exact {
		if after[f] != before[f] {
			out = append(out, fmt.Sprintf("%s: %d, was %d", f, after[f], before[f]))
		}
	}
	if after["open_fds"] > before["open_fds"]+soakFdSlack {
		out = append(out, fmt.Sprintf("open fds: %d, was %d (tolerance +%d)", after["open_fds"], before["open_fds"], soakFdSlack))
	}
	if after["goroutines"] > before["goroutines"]+soakGoroutineSlack {
		out = append(out, fmt.Sprintf("goroutines: %d, was %d (tolerance +%d)", after["goroutines"], before["goroutines"], soakGoroutineSlack))
	}
	if rss := before["rss_bytes"]; after["rss_bytes"] > max(rss+soakRSSSlack, rss*3/2) {
		out = append(out, fmt.Sprintf("RSS: %d bytes, was %d (tolerance +%d or +50%%)", after["rss_bytes"], rss, soakRSSSlack))
	}
	if after["raft_dir_bytes"] > before["raft_dir_bytes"]+soakRaftDirSlack {
		out = append(out, fmt.Sprintf("Raft data dir: %d bytes, was %d (tolerance +%d): the log is not compacted", after["raft_dir_bytes"], before["raft_dir_bytes"], soakRaftDirSlack))
	}
	return out
}

// waitSoakQuiet measures the soak's figures once the host is quiet: no pod left in the
// API and, when before is given, the kernel objects back to before's counts (a pod's
// teardown may finish a moment after the API forgets it). It waits up to a minute, then
// returns the figures as they are for the caller to judge.
func (c *Cluster) waitSoakQuiet(t *testing.T, before map[string]int64) map[string]int64 {
	t.Helper()
	var figs map[string]int64
	deadline := time.Now().Add(time.Minute)
	for {
		pl, err := c.Pods(0)
		var problems []string
		if err == nil && len(pl.Items) == 0 {
			figs, err = c.soakFigures()
			if err == nil && before != nil {
				problems = soakCompare(before, figs)
			}
		}
		if err == nil && figs != nil && len(problems) == 0 {
			return figs
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("soak figures: %v", err)
			}
			if figs == nil {
				t.Fatalf("soak: pods still listed after a minute: %d", len(pl.Items))
			}
			return figs
		}
		time.Sleep(2 * time.Second)
	}
}

// soakFigures measures host 0's agent and host.
func (c *Cluster) soakFigures() (map[string]int64, error) {
	pid := c.AgentPid(0)
	if pid == 0 {
		return nil, fmt.Errorf("%s's agent is not running", c.Name(0))
	}
	f := map[string]int64{}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			f["rss_bytes"] = kb << 10
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	f["open_fds"] = int64(len(fds))
	metrics, err := c.agentMetrics(0)
	if err != nil {
		return nil, err
	}
	f["goroutines"] = metrics["go_goroutines"]
	f["heap_inuse_bytes"] = metrics["go_memstats_heap_inuse_bytes"]

	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	f["mounts"] = int64(strings.Count(string(mountinfo), "\n"))
	f["mounts_under_data_dir"] = int64(len(c.mountsUnderDataDirs()))
	f["cgroups"] = int64(len(podCgroups(c.trackedUIDs())))

	veths := c.Exec(0, 10*time.Second, "ip", "-o", "link", "show", "type", "veth")
	if err := veths.Err(); err != nil {
		return nil, fmt.Errorf("list veths: %w", err)
	}
	f["veths"] = int64(strings.Count(veths.Stdout, "\n"))
	leases, err := ipLeases(filepath.Join(c.DataDir(0), "network", "ipam"))
	if err != nil {
		return nil, err
	}
	f["ip_leases"] = int64(len(leases))
	nft := c.Exec(0, 10*time.Second, "nft", "list", "ruleset")
	if err := nft.Err(); err != nil {
		return nil, fmt.Errorf("nft list ruleset: %w", err)
	}
	f["nft_lines"] = int64(strings.Count(nft.Stdout, "\n"))
	ipt := c.Exec(0, 10*time.Second, "iptables-save")
	if err := ipt.Err(); err != nil {
		return nil, fmt.Errorf("iptables-save: %w", err)
	}
	for _, l := range strings.Split(ipt.Stdout, "\n") {
		if strings.HasPrefix(l, "-A ") || strings.HasPrefix(l, ":") {
			f["iptables_rules"]++ // rules and chains
		}
	}

	raftDir := filepath.Join(c.DataDir(0), "raft")
	size, snap, err := raftDirFigures(raftDir)
	if err != nil {
		return nil, err
	}
	f["raft_dir_bytes"], f["raft_snapshot_index"] = size, snap
	f["raft_log_index"] = metrics["gossipod_raft_applied_index"]
	return f, nil
}

// agentMetrics reads host i's /metrics and returns its unlabelled samples.
func (c *Cluster) agentMetrics(i int) (map[string]int64, error) {
	resp, err := c.client.Get(c.APIAddr(i) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = int64(v)
		}
	}
	return out, sc.Err()
}

// podCgroups lists the cgroup directories of the pods with these uids and below them
// (their containers'), in every hierarchy (v1 controllers, or the v2 root). The cgroup
// root is the machine's, shared with other tests' agents, whose pods are not counted.
func podCgroups(uids []string) []string {
	var dirs []string
	for _, u := range uids {
		for _, pod := range podCgroupDirs(u) {
			filepath.WalkDir(pod, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
		}
	}
	return dirs
}

// ipLeases lists host-local's leases under dir: one file per address, named by it.
func ipLeases(dir string) ([]string, error) {
	var leases []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.Count(d.Name(), ".") == 3 && !strings.HasPrefix(d.Name(), "last_reserved_ip") {
			leases = append(leases, path)
		}
		return nil
	})
	return leases, err
}

// raftDirFigures returns the bytes under a Raft data dir and the index of its newest
// snapshot (hashicorp/raft's file snapshots are directories <term>-<index>-<ms>).
func raftDirFigures(dir string) (size, snapshotIndex int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // a snapshot being replaced
			}
			return err
		}
		if d.IsDir() && filepath.Base(filepath.Dir(path)) == "snapshots" {
			if parts := strings.Split(d.Name(), "-"); len(parts) == 3 {
				if idx, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
					snapshotIndex = max(snapshotIndex, idx)
				}
			}
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			size += info.Size()
		}
		return nil
	})
	return size, snapshotIndex, err
}
