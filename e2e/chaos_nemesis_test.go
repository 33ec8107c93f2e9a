package e2e

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gossipod/gossipod/e2e/chaos"
)

// The nemesis's pace: a step every 0.5–3 s, each fault held 2–12 s, at most two at
// once (on different hosts), and the leader the target of a kill or pause more often
// than not, since leader loss is what exercises elections and stale views.
const (
	nemesisMaxActive  = 2
	nemesisMinStep    = 500 * time.Millisecond
	nemesisMaxStep    = 3 * time.Second
	nemesisMinHold    = 2 * time.Second
	nemesisMaxHold    = 12 * time.Second
	nemesisLeaderBias = 0.6
	// partitionTable and lossTable are the nftables tables of the nemesis's drop
	// rules inside a host's network namespace (a partition's, a degraded link's);
	// deleting one heals its rules.
	partitionTable = "chaos"
	lossTable      = "chaosloss"
)

// clockSkewNote says why the nemesis injects no clock skew: the run's hosts share
// one kernel, and a time namespace (unshare --time) offsets only CLOCK_MONOTONIC and
// CLOCK_BOOTTIME, never CLOCK_REALTIME, which is what leases, creation timestamps and
// certificates read; setting the real clock would skew every host and the test
// itself at once, and faketime's LD_PRELOAD does not reach a static Go binary.
const clockSkewNote = "clock skew not injected: hosts share one kernel clock; time namespaces offset only CLOCK_MONOTONIC/BOOTTIME, not CLOCK_REALTIME, and the agent is a static Go binary (no LD_PRELOAD faketime)"

// nemesis injects faults into a Cluster. Its methods run on the test goroutine (the
// Cluster's methods fail the test). Every random choice comes from rnd, seeded with
// the run's seed, in a fixed number of draws per step, so the schedule of intended
// faults is the seed's alone.
type nemesis struct {
	c       *Cluster
	rnd     *rand.Rand
	active  []*activeFault
	done    []chaos.Fault
	netemOK *bool // whether the kernel has sch_netem, probed on first use
	logf    func(format string, args ...any)
}

// activeFault is a fault in place, with when it is due to heal and how.
type activeFault struct {
	f     chaos.Fault
	until time.Time
	heal  func()
}

// run injects and heals faults until end, then heals everything.
func (n *nemesis) run(end time.Time) {
	for time.Now().Before(end) {
		step := nemesisMinStep + time.Duration(n.rnd.Int63n(int64(nemesisMaxStep-nemesisMinStep)))
		time.Sleep(min(step, time.Until(end)))
		n.healDue(time.Now())
		// The draws of a step, always all of them.
		kind := n.rnd.Intn(100)
		host := n.rnd.Intn(n.c.N())
		leader := n.rnd.Float64() < nemesisLeaderBias
		hold := nemesisMinHold + time.Duration(n.rnd.Int63n(int64(nemesisMaxHold-nemesisMinHold)))
		perm := n.rnd.Perm(n.c.N())
		variant := n.rnd.Intn(3)
		if len(n.active) >= nemesisMaxActive || !time.Now().Before(end) {
			continue
		}
		switch {
		case kind < 30:
			n.kill(n.target(host, leader), hold)
		case kind < 45:
			n.pause(n.target(host, leader), hold)
		case kind < 70:
			n.partition(perm, variant, hold)
		case kind < 85:
			n.degrade(n.target(host, false), variant, hold)
		default:
			n.restartPods(n.target(host, false))
		}
	}
	n.healAll()
}

// busy reports whether host i is already the subject of an active fault.
func (n *nemesis) busy(i int) bool {
	for _, a := range n.active {
		if a.f.Kind != "partition" && slices.Contains(a.f.Hosts, i) {
			return true
		}
	}
	return false
}

// target picks the host of a fault: the leader when asked and it is free, else the
// drawn host or the next free one after it; -1 when every host is busy.
func (n *nemesis) target(drawn int, leader bool) int {
	if leader {
		if l := n.leader(); l >= 0 && !n.busy(l) {
			return l
		}
	}
	for k := range n.c.N() {
		if i := (drawn + k) % n.c.N(); !n.busy(i) {
			return i
		}
	}
	return -1
}

// leader asks the agents, in order, for the Raft leader, and returns its host index,
// or -1 when none answers with one (an election under way, or all faulted).
func (n *nemesis) leader() int {
	for i := range n.c.N() {
		if !n.c.Running(i) || n.busy(i) {
			continue
		}
		var peers []RaftPeer
		if err := n.c.apiGet(i, "/v1/raft/peers", &peers); err != nil {
			continue
		}
		for _, p := range peers {
			if p.Leader {
				return n.c.Index(p.ID)
			}
		}
	}
	return -1
}

// start records a fault as active.
func (n *nemesis) start(f chaos.Fault, hold time.Duration, heal func()) {
	f.Start = time.Now()
	n.active = append(n.active, &activeFault{f: f, until: f.Start.Add(hold), heal: heal})
	n.logf("chaos: fault %s on %v for %v: %s", f.Kind, f.Hosts, hold.Round(time.Millisecond), f.Detail)
}

// healDue heals the active faults whose time is up.
func (n *nemesis) healDue(now time.Time) {
	kept := n.active[:0]
	for _, a := range n.active {
		if now.Before(a.until) {
			kept = append(kept, a)
			continue
		}
		n.finish(a)
	}
	n.active = kept
}

// healAll heals every active fault, at the end of the run (or of a failed test).
func (n *nemesis) healAll() {
	for _, a := range n.active {
		n.finish(a)
	}
	n.active = nil
}

func (n *nemesis) finish(a *activeFault) {
	a.heal()
	a.f.End = time.Now()
	n.done = append(n.done, a.f)
	n.logf("chaos: healed %s on %v after %v", a.f.Kind, a.f.Hosts, a.f.End.Sub(a.f.Start).Round(time.Millisecond))
}

// lastHeal is when the last fault was healed.
func (n *nemesis) lastHeal() time.Time {
	var last time.Time
	for _, f := range n.done {
		if f.End.After(last) {
			last = f.End
		}
	}
	return last
}

// kill SIGKILLs host i's agent; the heal starts it again on its data dir. The pods
// keep running meanwhile: the restarted agent adopts them.
func (n *nemesis) kill(i int, hold time.Duration) {
	if i < 0 || !n.c.Running(i) {
		return
	}
	n.c.Kill(i)
	n.start(chaos.Fault{Kind: "kill", Hosts: []int{i}, Detail: "SIGKILL " + n.c.Name(i)}, hold, func() {
		n.c.Start(i)
	})
}

// pause freezes host i's agent with SIGSTOP, as a long GC pause or a stalled VM
// would; the heal sends SIGCONT. Its peers see it silent, then back with stale views.
func (n *nemesis) pause(i int, hold time.Duration) {
	if i < 0 || !n.c.Running(i) {
		return
	}
	pid := n.c.AgentPid(i)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		n.c.t.Fatalf("SIGSTOP %s (pid %d): %v", n.c.Name(i), pid, err)
	}
	n.start(chaos.Fault{Kind: "pause", Hosts: []int{i}, Detail: fmt.Sprintf("SIGSTOP pid %d", pid)}, hold, func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			n.c.t.Fatalf("SIGCONT %s (pid %d): %v", n.c.Name(i), pid, err)
		}
	})
}

// partition cuts the hosts apart with nftables drop rules inside their namespaces,
// on traffic between hosts only: the test process (root namespace, the bridge's
// address) still reaches every API, so clients keep talking to both sides. The
// variants, from a permutation of the hosts:
//
//	0: majority/minority, the first one or two hosts of perm against the rest;
//	1: a bridge: perm[0], perm[1] | perm[2] | perm[3], perm[4], where perm[2] sees
//	   both sides and the sides do not see each other;
//	2: one-way: perm[0] receives nothing from the others but still sends.
func (n *nemesis) partition(perm []int, variant int, hold time.Duration) {
	for _, a := range n.active {
		if a.f.Kind == "partition" {
			return // one partition at a time: their rules share the table
		}
	}
	// in[i] and out[i]: the peers whose packets host i drops coming in / going out.
	in := map[int][]int{}
	out := map[int][]int{}
	cut := func(a, b []int) { // a and b no longer talk, both ways
		for _, x := range a {
			in[x] = append(in[x], b...)
			out[x] = append(out[x], b...)
		}
		for _, y := range b {
			in[y] = append(in[y], a...)
			out[y] = append(out[y], a...)
		}
	}
	var f chaos.Fault
	switch variant {
	case 0:
		k := 1 + int(perm[len(perm)-1]%2) // minority of 1 or 2, from the draws
		minority, majority := perm[:k], perm[k:]
		cut(minority, majority)
		f = chaos.Fault{Kind: "partition", Hosts: slices.Clone(minority),
			Detail: fmt.Sprintf("majority/minority: %v | %v", majority, minority)}
	case 1:
		a, bridge, b := perm[:2], perm[2], perm[3:]
		cut(a, b)
		f = chaos.Fault{Kind: "partition", Hosts: append(slices.Clone(a), b...),
			Detail: fmt.Sprintf("bridge: %v | %d | %v, %d sees both sides", a, bridge, b, bridge)}
	default:
		x := perm[0]
		in[x] = slices.DeleteFunc(slices.Clone(perm), func(i int) bool { return i == x })
		f = chaos.Fault{Kind: "partition", Hosts: []int{x},
			Detail: fmt.Sprintf("one-way: %d drops everything the others send it, its own packets still go out", x)}
	}
	var touched []int
	for i := range n.c.N() {
		if len(in[i]) == 0 && len(out[i]) == 0 {
			continue
		}
		var rules []string
		if len(in[i]) > 0 {
			rules = append(rules, fmt.Sprintf("add rule inet %s in ip saddr { %s } drop", partitionTable, n.addrs(in[i])))
		}
		if len(out[i]) > 0 {
			rules = append(rules, fmt.Sprintf("add rule inet %s out ip daddr { %s } drop", partitionTable, n.addrs(out[i])))
		}
		n.nft(i, partitionTable, rules...)
		touched = append(touched, i)
	}
	n.start(f, hold, func() {
		for _, i := range touched {
			n.unNft(i, partitionTable)
		}
	})
}

// addrs lists hosts' addresses for an nftables set.
func (n *nemesis) addrs(hosts []int) string {
	var s []string
	for _, i := range hosts {
		s = append(s, n.c.IP(i))
	}
	return strings.Join(s, ", ")
}

// nft creates table (input and output chains) in host i's namespace and adds the
// rules, in one nft transaction.
func (n *nemesis) nft(i int, table string, rules ...string) {
	script := []string{
		fmt.Sprintf("add table inet %s", table),
		fmt.Sprintf("add chain inet %s in { type filter hook input priority -10; policy accept; }", table),
		fmt.Sprintf("add chain inet %s out { type filter hook output priority -10; policy accept; }", table),
	}
	script = append(script, rules...)
	if res := n.c.Exec(i, 10*time.Second, "nft", strings.Join(script, "; ")); res.Err() != nil {
		n.c.t.Fatalf("nftables on %s: %v", n.c.Name(i), res.Err())
	}
}

// unNft deletes table from host i's namespace, if it is there.
func (n *nemesis) unNft(i int, table string) {
	res := n.c.Exec(i, 10*time.Second, "nft", "delete", "table", "inet", table)
	if res.Err() != nil && !strings.Contains(res.Stderr, "No such file") {
		n.c.t.Fatalf("remove nftables rules on %s: %v", n.c.Name(i), res.Err())
	}
}

// degrade slows host i's link: `tc netem` delay and loss on its eth0 where the
// kernel has sch_netem; where it does not, a tbf rate limit (whose queue delays
// packets, up to its latency) and nftables dropping a random share of packets both
// ways, which is as close as the kernel allows.
func (n *nemesis) degrade(i int, variant int, hold time.Duration) {
	if i < 0 {
		return
	}
	delay := []int{20, 100, 300}[variant]
	loss := []int{1, 5, 20}[variant]
	if n.netem() {
		res := n.c.Exec(i, 10*time.Second, "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
			"delay", fmt.Sprintf("%dms", delay), fmt.Sprintf("%dms", delay/2), "loss", fmt.Sprintf("%d%%", loss))
		if res.Err() != nil {
			n.c.t.Fatalf("netem on %s: %v", n.c.Name(i), res.Err())
		}
		n.start(chaos.Fault{Kind: "netem", Hosts: []int{i}, Detail: fmt.Sprintf("netem delay %dms ±%dms loss %d%%", delay, delay/2, loss)},
			hold, func() { n.untc(i) })
		return
	}
	rate := []string{"4mbit", "1mbit", "256kbit"}[variant]
	res := n.c.Exec(i, 10*time.Second, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
		"rate", rate, "burst", "16kb", "latency", fmt.Sprintf("%dms", delay))
	if res.Err() != nil {
		n.c.t.Fatalf("tbf on %s: %v", n.c.Name(i), res.Err())
	}
	n.nft(i, lossTable,
		fmt.Sprintf("add rule inet %s in iifname eth0 numgen random mod 100 < %d drop", lossTable, loss),
		fmt.Sprintf("add rule inet %s out oifname eth0 numgen random mod 100 < %d drop", lossTable, loss))
	n.start(chaos.Fault{Kind: "netem", Hosts: []int{i},
		Detail: fmt.Sprintf("no sch_netem in this kernel: tbf rate %s latency %dms, nftables random loss %d%% both ways", rate, delay, loss)},
		hold, func() {
			n.untc(i)
			n.unNft(i, lossTable)
		})
}

// netem reports whether the kernel has the netem qdisc, trying it once on a
// throw-away namespace's loopback.
func (n *nemesis) netem() bool {
	if n.netemOK != nil {
		return *n.netemOK
	}
	ns := fmt.Sprintf("gpechaosprobe%d", os.Getpid()%100000)
	ok := false
	if ip("netns", "add", ns) == nil {
		res := runCommand(n.c.t, 10*time.Second, []string{"nsenter", "--net=" + filepath.Join(netnsDir, ns), "--",
			"tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"})
		ok = res.Err() == nil
		ip("netns", "del", ns)
	}
	n.netemOK = &ok
	if !ok {
		n.logf("chaos: the kernel has no sch_netem; link faults use tbf and nftables random loss instead")
	}
	return ok
}

// untc removes host i's root qdisc.
func (n *nemesis) untc(i int) {
	res := n.c.Exec(i, 10*time.Second, "tc", "qdisc", "del", "dev", "eth0", "root")
	if res.Err() != nil && !strings.Contains(res.Stderr, "handle of zero") && !strings.Contains(res.Stderr, "No such file") {
		n.c.t.Fatalf("remove qdisc on %s: %v", n.c.Name(i), res.Err())
	}
}

// restartPods SIGKILLs the app processes of every pod host i runs (as its runtime
// has them: the pod directories in its data dir), leaving the sandboxes: a container
// crash. The agent restarts them per restartPolicy (Always), with back-off. The fault
// is instantaneous: it ends when the processes are dead.
func (n *nemesis) restartPods(i int) {
	if i < 0 {
		return
	}
	uids := runtimePodUIDs(n.c.DataDir(i))
	n.c.track(podsWithUIDs(uids)...)
	var killed []string
	for _, u := range uids {
		for _, pr := range processesInPodCgroup(u) {
			// The workload's containers run `sleep`; the sandbox's pause process
			// does not, and must live on.
			if strings.HasPrefix(pr.cmdline, "sleep ") && syscall.Kill(pr.pid, syscall.SIGKILL) == nil {
				killed = append(killed, fmt.Sprintf("%d", pr.pid))
			}
		}
	}
	f := chaos.Fault{Kind: "pod-restart", Hosts: []int{i},
		Detail: fmt.Sprintf("SIGKILL the containers of %d pods: pids %s", len(uids), strings.Join(killed, " ")), Start: time.Now()}
	f.End = time.Now()
	n.done = append(n.done, f)
	n.logf("chaos: fault pod-restart on [%d]: %s", i, f.Detail)
}

// runtimePodUIDs lists the pods a host's runtime holds: the directories under
// <data-dir>/runtime/pods, named by pod UID.
func runtimePodUIDs(dataDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(dataDir, "runtime", "pods"))
	var uids []string
	for _, e := range entries {
		if e.IsDir() {
			uids = append(uids, e.Name())
		}
	}
	return uids
}

// podsWithUIDs makes Pods with only their UIDs set, for the leftover bookkeeping.
func podsWithUIDs(uids []string) []Pod {
	var ps []Pod
	for _, u := range uids {
		var p Pod
		p.Metadata.UID = u
		ps = append(ps, p)
	}
	return ps
}
