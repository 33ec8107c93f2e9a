package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// chaosFootprint is a host's network state as the leak check compares it: the
// network test's netFootprint (leases, sandbox records, CNI cache, veths, iptables
// rules) plus the namespace's nftables ruleset.
type chaosFootprint struct {
	netFootprint
	NFT []string
}

// nftCounters matches the counters nftables prints in rules.
var nftCounters = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// footprint reads host i's chaosFootprint.
func (r *chaosRun) footprint(i int) (chaosFootprint, error) {
	nf, err := networkFootprint(r.c, i)
	if err != nil {
		return chaosFootprint{}, err
	}
	fp := chaosFootprint{netFootprint: nf}
	res := r.c.Exec(i, 10*time.Second, "nft", "list", "ruleset")
	if err := res.Err(); err != nil {
		return fp, err
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			fp.NFT = append(fp.NFT, nftCounters.ReplaceAllString(line, "counter"))
		}
	}
	return fp, nil
}

// diff describes how fp differs from before, or is "" when it does not.
func (fp chaosFootprint) diff(before chaosFootprint) string {
	d := fp.netFootprint.diff(before.netFootprint)
	if len(fp.NFT) != len(before.NFT) {
		d = strings.TrimLeft(d+"\n", "\n") + fmt.Sprintf("  nftables lines: %d, was %d; added %q, gone %q",
			len(fp.NFT), len(before.NFT), multisetMinus(fp.NFT, before.NFT), multisetMinus(before.NFT, fp.NFT))
	}
	return d
}

// hostChecks compares, on every host, what the runtime runs with what the API
// binds to it, in the settled final state: every Running pod bound to a host has its
// pod directory there and nowhere else, and exactly one live process per container
// (the workload's `sleep`); every pod directory on a host is of a pod bound to that
// host; a finished pod has no process left; and the host holds one address lease,
// one sandbox record and one veth per running pod, no more. It returns, by node,
// the pods (namespace/name, sorted) Running there, which the log check compares
// with what the Raft log binds.
func (r *chaosRun) hostChecks() map[string][]string {
	c := r.c
	s := r.finalState
	dirs := make([][]string, c.N()) // host -> pod UIDs of its runtime
	for i := range c.N() {
		dirs[i] = runtimePodUIDs(c.DataDir(i))
	}
	byUID := map[string]chaosListedPod{}
	running := make([]int, c.N())
	holding := map[string][]string{}
	for _, p := range s.pods {
		byUID[p.Metadata.UID] = p
		host := c.Index(p.Spec.NodeName)
		var on []string
		for i := range c.N() {
			if slices.Contains(dirs[i], p.Metadata.UID) {
				on = append(on, c.Name(i))
			}
		}
		procs := processesInPodCgroup(p.Metadata.UID)
		var sleeps []string
		for _, pr := range procs {
			if strings.HasPrefix(pr.cmdline, "sleep ") {
				sleeps = append(sleeps, fmt.Sprint(pr.pid))
			}
		}
		switch {
		case p.Status.Phase == "Running":
			if host < 0 {
				r.violate("host-matches-bindings", "pod %s (%s) is Running on unknown node %q", p.Metadata.Name, p.Metadata.UID, p.Spec.NodeName)
				continue
			}
			running[host]++
			holding[c.Name(host)] = append(holding[c.Name(host)], chaosNamespace+"/"+p.Metadata.Name)
			if len(on) != 1 || on[0] != c.Name(host) {
				r.violate("host-matches-bindings", "pod %s (%s) is bound to %s but its runtime directory is on %v", p.Metadata.Name, p.Metadata.UID, c.Name(host), on)
			}
			if len(sleeps) != 1 {
				r.violate("host-matches-bindings", "pod %s (%s), Running on %s, has %d container processes (pids %v), want 1", p.Metadata.Name, p.Metadata.UID, c.Name(host), len(sleeps), sleeps)
			}
		case p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed":
			if len(procs) > 0 {
				r.violate("host-matches-bindings", "pod %s (%s) is %s on %q but still has processes %v", p.Metadata.Name, p.Metadata.UID, p.Status.Phase, p.Spec.NodeName, procs)
			}
		}
	}
	for i := range c.N() {
		for _, u := range dirs[i] {
			p, ok := byUID[u]
			if !ok {
				r.violate("host-matches-bindings", "%s's runtime holds pod %s, which the API no longer has (processes %v)", c.Name(i), u, processesInPodCgroup(u))
			} else if p.Spec.NodeName != c.Name(i) {
				r.violate("host-matches-bindings", "%s's runtime holds pod %s (%s), which the API binds to %q", c.Name(i), p.Metadata.Name, u, p.Spec.NodeName)
			}
		}
		fp, err := r.footprint(i)
		if err != nil {
			r.t.Fatal(err)
		}
		base := r.baseline[i]
		if fp.leases() != running[i] || fp.records() != running[i] || fp.veths()-base.veths() != running[i] {
			r.violate("host-matches-bindings", "%s runs %d pods but holds %d address leases, %d sandbox records and %d pod veths (leases %v)",
				c.Name(i), running[i], fp.leases(), fp.records(), fp.veths()-base.veths(), fp.Leases)
		}
	}
	for _, names := range holding {
		slices.Sort(names)
	}
	return holding
}
