package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/raft"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// replay runs the committed log through the FSM and checks the state after
// every entry.
func replay(hosts []*hostData, ref []refEntry, committed uint64, key []byte, rep *LogReport) ([]Violation, error) {
	r, err := consensus.NewReplayer(key)
	if err != nil {
		return nil, err
	}
	base, baseHost, err := chooseBase(hosts, ref, committed)
	if err != nil {
		return nil, err
	}
	ck := newStateChecker(r.State())
	if base.index > 0 {
		data, err := readSnapshot(base)
		if err != nil {
			return nil, fmt.Errorf("check logs: %s: %w", baseHost, err)
		}
		if err := r.Restore(data); err != nil {
			return nil, fmt.Errorf("check logs: %s: snapshot at %d: %w", baseHost, base.index, err)
		}
		rep.Base, rep.BaseHost = base.index, baseHost
		ck.rescan(entryLabel(baseHost, base.index, "snapshot"))
	}
	ck.lastIndex = r.State().Index()
	var l raft.Log
	for i := base.index + 1; i <= committed; i++ {
		h := ref[i-1].host
		if err := h.store.GetLog(i, &l); err != nil {
			return ck.violations, fmt.Errorf("check logs: %s: read entry %d: %w", h.name, i, err)
		}
		rep.Entries++
		if l.Type != raft.LogCommand {
			rep.ByType[l.Type.String()]++
			continue
		}
		var cmd consensus.Command
		if json.Unmarshal(l.Data, &cmd) == nil {
			rep.ByType[string(cmd.Type)]++
		} else {
			rep.ByType["undecodable"]++
		}
		resp, aerr := r.Apply(&l)
		if aerr != nil {
			rep.Refused++
		}
		if br, ok := resp.(consensus.BindResult); ok {
			rep.BindRejected += len(br.Rejected)
		}
		ck.check(func() string { return entryLabel(h.name, i, describeLog(&l)) })
	}
	rep.Bindings = ck.bindings
	rep.Holding = map[string][]string{}
	for key, h := range ck.held {
		rep.Holding[h.node] = append(rep.Holding[h.node], key)
	}
	for _, keys := range rep.Holding {
		sort.Strings(keys)
	}
	return ck.violations, nil
}

// chooseBase picks where the replay starts: an empty state when the
// committed log is there from index 1, else the oldest retained snapshot
// the committed log continues without a gap.
func chooseBase(hosts []*hostData, ref []refEntry, committed uint64) (snapshotInfo, string, error) {
	covered := func(from uint64) bool {
		for i := from; i <= committed; i++ {
			if !ref[i-1].ok {
				return false
			}
		}
		return true
	}
	if covered(1) {
		return snapshotInfo{}, "", nil
	}
	type cand struct {
		s    snapshotInfo
		host string
	}
	var cands []cand
	for _, h := range hosts {
		for _, s := range h.snaps {
			cands = append(cands, cand{s, h.name})
		}
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].s.index < cands[b].s.index })
	for _, c := range cands {
		if c.s.index <= committed && covered(c.s.index+1) {
			return c.s, c.host, nil
		}
	}
	return snapshotInfo{}, "", fmt.Errorf("check logs: no snapshot is followed by the committed log up to %d without a gap: the logs were compacted past every snapshot", committed)
}

// holding is what one pod holds on its node.
type holding struct {
	node  string
	req   api.Resources
	ports []api.HostPort
}

// stateChecker follows the pods of the replayed State entry by entry.
type stateChecker struct {
	st        *consensus.State
	lastIndex uint64
	// boundTo is the node each pod uid was first bound to; it outlives
	// the pod, so a pod coming back elsewhere is seen.
	boundTo map[types.UID]string
	held    map[string]holding // by namespace/name
	sum     map[string]api.Resources
	ports   map[string]map[api.HostPort]int
	// bindings counts the pods seen going from unbound to bound.
	bindings   int
	violations []Violation
	// reported keeps one violation per invariant and pod uid, node, or
	// node and host port: the first entry that broke it.
	reported map[string]bool
}

func newStateChecker(st *consensus.State) *stateChecker {
	return &stateChecker{st: st, boundTo: map[types.UID]string{}, held: map[string]holding{},
		sum: map[string]api.Resources{}, ports: map[string]map[api.HostPort]int{}, reported: map[string]bool{}}
}

// touched is the nodes an entry changed, with their sums before it.
type touched map[string]nodeBefore

type nodeBefore struct {
	sum   api.Resources
	ports map[api.HostPort]int
}

// check follows the pods the last entry changed (its watch events; all
// pods when they are no longer retained) and checks the invariants.
func (c *stateChecker) check(label func() string) {
	idx := c.st.Index()
	if idx == c.lastIndex {
		return
	}
	events, _, ok := c.st.WatchSince(c.lastIndex, "Pod")
	c.lastIndex = idx
	if !ok {
		c.rescan(label())
		return
	}
	t := touched{}
	for _, e := range events {
		p, isPod := e.Object.(*api.Pod)
		if !isPod {
			continue
		}
		c.observe(p, e.Type == consensus.WatchDeleted, t, label)
	}
	c.judge(t, label)
}

// rescan follows every pod of the State: at the replay's base, and after
// an entry whose changes the watch log no longer holds.
func (c *stateChecker) rescan(label string) {
	lf := func() string { return label }
	t := touched{}
	pods, _ := c.st.Pods(nil)
	seen := map[string]bool{}
	for _, p := range pods {
		seen[p.Namespace+"/"+p.Name] = true
		c.observe(p, false, t, lf)
	}
	for key, h := range c.held {
		if !seen[key] {
			c.release(key, h, t)
		}
	}
	c.judge(t, lf)
}

func (c *stateChecker) touch(t touched, node string) {
	if _, ok := t[node]; ok {
		return
	}
	before := nodeBefore{sum: c.sum[node], ports: map[api.HostPort]int{}}
	for hp, n := range c.ports[node] {
		before.ports[hp] = n
	}
	t[node] = before
}

func (c *stateChecker) release(key string, h holding, t touched) {
	c.touch(t, h.node)
	c.sum[h.node] = c.sum[h.node].Sub(h.req)
	for _, hp := range h.ports {
		c.ports[h.node][hp]--
	}
	delete(c.held, key)
}

// observe takes in one pod's new version (or its deletion).
func (c *stateChecker) observe(p *api.Pod, deleted bool, t touched, label func() string) {
	key := p.Namespace + "/" + p.Name
	node := p.Spec.NodeName
	uid := p.UID
	if uid == "" {
		uid = types.UID("name:" + key) // the FSM requires uids; never merge pods without
	}
	if first, ok := c.boundTo[uid]; ok && node != first {
		rk := InvPodMoved + "/" + string(uid)
		if !c.reported[rk] {
			c.reported[rk] = true
			to := "unbound"
			if node != "" {
				to = "moved to " + node
			}
			c.violations = append(c.violations, Violation{Invariant: InvPodMoved,
				Detail:  fmt.Sprintf("pod %s (uid %s) was bound to %s, then %s", key, p.UID, first, to),
				Entries: []string{label()}})
		}
	} else if !ok && node != "" {
		c.boundTo[uid] = node
		c.bindings++
	}
	if h, ok := c.held[key]; ok {
		c.release(key, h, t)
	}
	// A pod holds its node's resources while bound and not finished, as
	// the FSM and placement count them.
	if deleted || node == "" || api.IsTerminal(p) {
		return
	}
	h := holding{node: node, req: api.PodRequests(p), ports: api.PodHostPorts(p)}
	c.touch(t, node)
	c.held[key] = h
	c.sum[node] = c.sum[node].Add(h.req)
	if c.ports[node] == nil {
		c.ports[node] = map[api.HostPort]int{}
	}
	for _, hp := range h.ports {
		c.ports[node][hp]++
	}
}

// judge checks the nodes an entry touched: a resource the entry added to
// must still fit in the node's allocatable (one that was over already,
// because the node came back with less to offer, is not the entry's
// doing), and no host port may be held twice.
func (c *stateChecker) judge(t touched, label func() string) {
	nodes := make([]string, 0, len(t))
	for n := range t {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, name := range nodes {
		before, after := t[name], c.sum[name]
		if n, ok := c.st.Node(name); ok {
			alloc := api.ResourcesOf(n.Status.Allocatable)
			var over []string
			for _, d := range []struct {
				name                 string
				before, after, alloc int64
			}{
				{"pods", before.sum.Pods, after.Pods, alloc.Pods},
				{"cpu", before.sum.MilliCPU, after.MilliCPU, alloc.MilliCPU},
				{"memory", before.sum.Memory, after.Memory, alloc.Memory},
				{"ephemeral-storage", before.sum.EphemeralStorage, after.EphemeralStorage, alloc.EphemeralStorage},
			} {
				if d.after > d.before && d.after > d.alloc {
					over = append(over, fmt.Sprintf("%s requested %d > allocatable %d", d.name, d.after, d.alloc))
				}
			}
			if len(over) > 0 && !c.reported[InvOvercommit+"/"+name] {
				c.reported[InvOvercommit+"/"+name] = true // its first time tells; the rest would flood
				c.violations = append(c.violations, Violation{Invariant: InvOvercommit,
					Detail:  fmt.Sprintf("node %s: %s (pods bound: %s)", name, strings.Join(over, ", "), c.podsOn(name)),
					Entries: []string{label()}})
			}
		}
		for hp, n := range c.ports[name] {
			rk := fmt.Sprintf("%s/%s/%s/%d", InvHostPortConflict, name, hp.Protocol, hp.Port)
			if n > 1 && n > before.ports[hp] && !c.reported[rk] {
				c.reported[rk] = true
				c.violations = append(c.violations, Violation{Invariant: InvHostPortConflict,
					Detail:  fmt.Sprintf("node %s: host port %s/%d held by %d pods (%s)", name, hp.Protocol, hp.Port, n, c.podsOn(name)),
					Entries: []string{label()}})
			}
		}
	}
}

// podsOn lists the pods holding a node, for a violation's detail.
func (c *stateChecker) podsOn(node string) string {
	var keys []string
	for k, h := range c.held {
		if h.node == node {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], fmt.Sprintf("and %d more", len(keys)-8))
	}
	return strings.Join(keys, ", ")
}
