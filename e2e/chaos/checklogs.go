package chaos

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/gossipod/gossipod/consensus"
)

// The invariants CheckLogs checks, as Violation names them.
const (
	// InvLogDivergence: the hosts' Raft logs disagree where Raft forbids it
	// (two entries with the same index and term differ, logs that differed
	// agree again further on, or a host applied an entry the cluster did
	// not commit).
	InvLogDivergence = "log-divergence"
	// InvPodMoved: a pod (by uid) bound to one node was later bound to
	// another, or unbound.
	InvPodMoved = "pod-moved"
	// InvOvercommit: after a log entry, the pods bound to a node request
	// more cpu, memory, ephemeral-storage or pod slots than its
	// allocatable.
	InvOvercommit = "overcommit"
	// InvHostPortConflict: after a log entry, two pods bound to one node
	// hold the same host port.
	InvHostPortConflict = "hostport-conflict"
)

// LogOptions tunes CheckLogsWith.
type LogOptions struct {
	// SecretsKey is the cluster's (pki.SecretsKey of its token), so the
	// replay can open Secrets as the agents did; without it Secret
	// commands are refused in the replay and a snapshot holding Secrets
	// cannot be restored.
	SecretsKey []byte
	// Quorum is how many hosts must hold an entry for the checker to take
	// it as committed; 0 is a majority of the hosts given. (The checker
	// does not know which hosts were voters: with non-voters, a majority
	// of all hosts may lag the real commit index by the entries in flight
	// when the agents stopped, which are then not replayed.)
	Quorum int
	// Names names the hosts in violations ("name/index: entry"), one per
	// data dir; by default, the fewest trailing path elements of the data
	// dirs that tell them apart.
	Names []string
}

// HostLog is what CheckLogs found in one agent's data dir.
type HostLog struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	// First and Last are the log's first and last index (0, 0: empty).
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Snapshots lists the retained snapshots' indexes, newest first.
	Snapshots []uint64 `json:"snapshots,omitempty"`
}

// LogReport is what CheckLogs read and replayed, for the run's report.
type LogReport struct {
	Hosts []HostLog `json:"hosts"`
	// Committed is the last index the checker takes as committed: held by
	// a quorum of hosts, or covered by a snapshot.
	Committed uint64 `json:"committed"`
	// Base is the index of the snapshot the replay started from (0: an
	// empty state, the whole log replayed), BaseHost the host it is from.
	Base     uint64 `json:"base"`
	BaseHost string `json:"baseHost,omitempty"`
	// Entries is how many entries were replayed, ByType how many of each
	// command type (raft's own entries as LogNoop, LogConfiguration...).
	Entries int            `json:"entries"`
	ByType  map[string]int `json:"byType"`
	// Refused is how many commands the FSM refused (409s, rejected
	// bindings' entries are not counted: a BindPods applies in part).
	Refused int `json:"refused"`
	// Bindings is how many pods were bound (by BindPods or created bound),
	// BindRejected how many bindings the FSM refused.
	Bindings     int `json:"bindings"`
	BindRejected int `json:"bindRejected"`
	// Snapshots is how many snapshots the hosts retained in all.
	Snapshots int `json:"snapshots"`
	// Holding lists, by node, the pods (namespace/name) bound to it and
	// not finished at the last committed index, sorted: what should run
	// there, for the harness to compare with each host's containers.
	Holding map[string][]string `json:"holding,omitempty"`
	// Took is how long the check took.
	Took time.Duration `json:"took"`
}

// String is the report in a few lines, for the run's output.
func (r LogReport) String() string {
	var b strings.Builder
	for _, h := range r.Hosts {
		fmt.Fprintf(&b, "%s: log %d..%d, snapshots %v\n", h.Name, h.First, h.Last, h.Snapshots)
	}
	fmt.Fprintf(&b, "committed %d, replayed %d entries from %s, %d refused, %d bindings (%d rejected), %d snapshots, in %s\n",
		r.Committed, r.Entries, r.baseString(), r.Refused, r.Bindings, r.BindRejected, r.Snapshots, r.Took.Round(time.Millisecond))
	types := make([]string, 0, len(r.ByType))
	for t := range r.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	for i, t := range types {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", t, r.ByType[t])
	}
	return b.String()
}

func (r LogReport) baseString() string {
	if r.Base == 0 {
		return "an empty state"
	}
	return fmt.Sprintf("%s's snapshot at %d", r.BaseHost, r.Base)
}

// CheckLogs is CheckLogsWith without a secrets key: for logs without
// Secrets.
func CheckLogs(dataDirs []string) (LogReport, []Violation, error) {
	return CheckLogsWith(dataDirs, LogOptions{})
}

// CheckLogsWith judges the Raft logs of the agents whose data dirs are
// given (each holding raft.db and snapshots/), after the agents stopped:
// it opens them read-only and never changes them.
//
// (a) The logs must agree as Raft says they do: two entries with the same
// index and term are identical, and two logs that differ at an index
// differ at every later index they share (Log Matching); a host may hold,
// at an index the cluster committed, another entry than the committed one
// only as an uncommitted suffix it never applied (not in its snapshot). An
// index is taken as committed when a quorum of hosts hold the same entry
// there (hosts that compacted it away count for it), or a snapshot covers
// it: raft-boltdb keeps no commit index.
//
// (b) The committed log is replayed through the FSM (consensus.Replayer),
// from an empty state when a host still has the whole log, else from the
// oldest snapshot the committed log continues, and after every entry: a
// pod (by uid) is bound once and never moved to another node or unbound
// (pod-moved); the requests of the pods bound to a node (api.PodRequests,
// as placement and the FSM count them) never exceed its allocatable in a
// resource the entry added to (overcommit); no host port is held twice on
// a node (hostport-conflict). A violation names the entry as
// "host/index: type summary".
//
// The error is for logs that could not be read or replayed at all.
func CheckLogsWith(dataDirs []string, opts LogOptions) (LogReport, []Violation, error) {
	start := time.Now()
	rep := LogReport{ByType: map[string]int{}}
	if len(dataDirs) == 0 {
		return rep, nil, errors.New("check logs: no data dirs")
	}
	names := opts.Names
	if len(names) != len(dataDirs) {
		if len(names) > 0 {
			return rep, nil, fmt.Errorf("check logs: %d names for %d data dirs", len(names), len(dataDirs))
		}
		names = hostNames(dataDirs)
	}
	hosts := make([]*hostData, 0, len(dataDirs))
	defer func() {
		for _, h := range hosts {
			h.close()
		}
	}()
	for i, dir := range dataDirs {
		h, err := openHost(names[i], dir)
		if err != nil {
			return rep, nil, err
		}
		hosts = append(hosts, h)
		rep.Hosts = append(rep.Hosts, h.summary())
		rep.Snapshots += len(h.snaps)
	}
	quorum := opts.Quorum
	if quorum <= 0 {
		quorum = len(hosts)/2 + 1
	}
	var out []Violation
	out = append(out, checkLogMatching(hosts)...)
	ref, committed := committedLog(hosts, quorum)
	rep.Committed = committed
	out = append(out, checkApplied(hosts, ref, committed)...)

	rv, err := replay(hosts, ref, committed, opts.SecretsKey, &rep)
	out = append(out, rv...)
	rep.Took = time.Since(start)
	return rep, out, err
}

// hostNames names each data dir by the fewest trailing path elements that
// tell them apart (…/h1/data/raft and …/h2/data/raft: h1/data/raft and
// h2/data/raft; …/h1 and …/h2: h1 and h2).
func hostNames(dirs []string) []string {
	names := make([]string, len(dirs))
	for k := 1; ; k++ {
		seen := map[string]bool{}
		unique, exhausted := true, true
		for i, d := range dirs {
			elems := strings.Split(filepath.ToSlash(filepath.Clean(d)), "/")
			if k < len(elems) {
				exhausted = false
			}
			names[i] = strings.Join(elems[max(0, len(elems)-k):], "/")
			if seen[names[i]] {
				unique = false
			}
			seen[names[i]] = true
		}
		if unique || exhausted {
			return names
		}
	}
}

// entrySum is what the agreement check compares of an entry.
type entrySum struct {
	term uint64
	typ  raft.LogType
	hash [32]byte
}

// snapshotInfo is one retained snapshot of a host.
type snapshotInfo struct {
	index, term uint64
	dir         string
}

// hostData is one agent's log, opened read-only, and its snapshots.
type hostData struct {
	name, dir   string
	store       *raftboltdb.BoltStore
	first, last uint64
	sums        []entrySum // sums[i] is the entry at first+i
	snaps       []snapshotInfo
}

func (h *hostData) close() {
	if h.store != nil {
		_ = h.store.Close()
	}
}

func (h *hostData) summary() HostLog {
	hl := HostLog{Name: h.name, Dir: h.dir, First: h.first, Last: h.last}
	for _, s := range h.snaps {
		hl.Snapshots = append(hl.Snapshots, s.index)
	}
	return hl
}

// has reports whether the host's log holds index i.
func (h *hostData) has(i uint64) bool { return h.last > 0 && i >= h.first && i <= h.last }

func (h *hostData) sum(i uint64) entrySum { return h.sums[i-h.first] }

// snapIndex is the index of the host's newest snapshot, 0 with none.
func (h *hostData) snapIndex() uint64 {
	if len(h.snaps) == 0 {
		return 0
	}
	return h.snaps[0].index
}

// openHost opens a data dir's raft.db read-only (bolt's shared lock, so a
// still running agent makes it wait, then fail) and lists its snapshots.
func openHost(name, dir string) (*hostData, error) {
	h := &hostData{name: name, dir: dir}
	path := filepath.Join(dir, "raft.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("check logs: %s: %w", name, err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: 10 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("check logs: open %s read-only (is its agent still running?): %w", path, err)
	}
	h.store = store
	if h.first, err = store.FirstIndex(); err == nil {
		h.last, err = store.LastIndex()
	}
	if err != nil {
		h.close()
		return nil, fmt.Errorf("check logs: %s: read log bounds: %w", name, err)
	}
	if h.last > 0 {
		h.sums = make([]entrySum, 0, h.last-h.first+1)
		var l raft.Log
		for i := h.first; i <= h.last; i++ {
			if err := store.GetLog(i, &l); err != nil {
				h.close()
				return nil, fmt.Errorf("check logs: %s: read entry %d of %d..%d: %w", name, i, h.first, h.last, err)
			}
			h.sums = append(h.sums, entrySum{term: l.Term, typ: l.Type, hash: sha256.Sum256(l.Data)})
		}
	}
	if h.snaps, err = listSnapshots(filepath.Join(dir, "snapshots")); err != nil {
		h.close()
		return nil, fmt.Errorf("check logs: %s: %w", name, err)
	}
	return h, nil
}

// snapshotMeta is raft's file snapshot meta.json.
type snapshotMeta struct {
	raft.SnapshotMeta
	CRC []byte
}

// listSnapshots reads the meta of the snapshots raft's file store keeps
// under dir, newest first (as raft orders them: term, index, id), skipping
// unfinished ones (.tmp).
func listSnapshots(dir string) ([]snapshotInfo, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []snapshotInfo
	var ids []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			return nil, fmt.Errorf("read snapshot meta: %w", err)
		}
		var m snapshotMeta
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("decode snapshot meta %s: %w", e.Name(), err)
		}
		out = append(out, snapshotInfo{index: m.Index, term: m.Term, dir: filepath.Join(dir, e.Name())})
		ids = append(ids, m.ID)
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		x, y := out[idx[a]], out[idx[b]]
		if x.term != y.term {
			return x.term > y.term
		}
		if x.index != y.index {
			return x.index > y.index
		}
		return ids[idx[a]] > ids[idx[b]]
	})
	sorted := make([]snapshotInfo, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted, nil
}

// readSnapshot reads a snapshot's state and checks it against the CRC its
// meta records.
func readSnapshot(s snapshotInfo) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(s.dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("read snapshot meta: %w", err)
	}
	var m snapshotMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode snapshot meta %s: %w", s.dir, err)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, "state.bin"))
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	_, _ = h.Write(data)
	if len(m.CRC) > 0 && !bytes.Equal(h.Sum(nil), m.CRC) {
		return nil, fmt.Errorf("snapshot %s: state.bin does not match its CRC", s.dir)
	}
	return data, nil
}

// entryLabel names an entry as violations show it.
func entryLabel(host string, index uint64, text string) string {
	return fmt.Sprintf("%s/%d: %s", host, index, text)
}

// describeEntry reads an entry back for a violation: "type summary".
func (h *hostData) describeEntry(i uint64) string {
	var l raft.Log
	if err := h.store.GetLog(i, &l); err != nil {
		return fmt.Sprintf("unreadable: %v", err)
	}
	return describeLog(&l)
}

func describeLog(l *raft.Log) string {
	if l.Type != raft.LogCommand {
		return fmt.Sprintf("%s (term %d)", l.Type, l.Term)
	}
	var cmd consensus.Command
	if err := json.Unmarshal(l.Data, &cmd); err != nil {
		return fmt.Sprintf("undecodable command (term %d): %v", l.Term, err)
	}
	return fmt.Sprintf("%s %s (term %d)", cmd.Type, summarize(cmd), l.Term)
}

// summarize says briefly what a command is about: the objects it names.
func summarize(cmd consensus.Command) string {
	const most = 4
	switch cmd.Type {
	case consensus.CmdBindPods:
		var p consensus.BindPods
		if json.Unmarshal(cmd.Payload, &p) == nil {
			var parts []string
			for i, b := range p.Bindings {
				if i == most {
					parts = append(parts, fmt.Sprintf("and %d more", len(p.Bindings)-most))
					break
				}
				parts = append(parts, fmt.Sprintf("%s/%s(%s)->%s", b.Namespace, b.Name, b.UID, b.Node))
			}
			return strings.Join(parts, ", ")
		}
	case consensus.CmdCreatePod, consensus.CmdUpdatePod:
		var p consensus.CreatePod
		if json.Unmarshal(cmd.Payload, &p) == nil {
			s := fmt.Sprintf("%s/%s(%s)", p.Pod.Namespace, p.Pod.Name, p.Pod.UID)
			if p.Pod.Spec.NodeName != "" {
				s += " on " + p.Pod.Spec.NodeName
			}
			return s
		}
	}
	// Every other payload: the objects it names.
	var v any
	if json.Unmarshal(cmd.Payload, &v) != nil {
		return fmt.Sprintf("(%d bytes)", len(cmd.Payload))
	}
	var names []string
	objectNames(v, true, &names)
	if len(names) > most {
		names = append(names[:most], fmt.Sprintf("and %d more", len(names)-most))
	}
	return strings.Join(names, ", ")
}

// objectNames collects the "namespace/name" of the objects a decoded
// payload holds: those with metadata, the payload's own name, and
// references carrying a namespace (DeletePods' deletes).
func objectNames(v any, top bool, out *[]string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			objectNames(e, false, out)
		}
	case map[string]any:
		meta, _ := x["metadata"].(map[string]any)
		if meta == nil {
			if _, namespaced := x["namespace"]; namespaced || top {
				meta = x
			}
		}
		if name, ok := meta["name"].(string); ok {
			if ns, _ := meta["namespace"].(string); ns != "" {
				name = ns + "/" + name
			}
			*out = append(*out, name)
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			objectNames(x[k], false, out)
		}
	}
}

// checkLogMatching compares every pair of hosts over the indexes they both
// hold: the same index and term must be the same entry, and once the logs
// differ they must differ at every later shared index. One violation per
// pair at most.
func checkLogMatching(hosts []*hostData) []Violation {
	var out []Violation
	for a := 0; a < len(hosts); a++ {
		for b := a + 1; b < len(hosts); b++ {
			ha, hb := hosts[a], hosts[b]
			if ha.last == 0 || hb.last == 0 {
				continue
			}
			lo, hi := max(ha.first, hb.first), min(ha.last, hb.last)
			var differ uint64
			for i := lo; i <= hi && hi >= lo; i++ {
				sa, sb := ha.sum(i), hb.sum(i)
				same := sa == sb
				var why string
				switch {
				case !same && sa.term == sb.term:
					why = fmt.Sprintf("different entries at index %d with the same term %d", i, sa.term)
				case same && differ != 0:
					why = fmt.Sprintf("the logs differ at index %d but agree again at %d", differ, i)
				}
				if why != "" {
					ents := []string{entryLabel(ha.name, i, ha.describeEntry(i)), entryLabel(hb.name, i, hb.describeEntry(i))}
					if differ != 0 && same {
						ents = append([]string{entryLabel(ha.name, differ, ha.describeEntry(differ)), entryLabel(hb.name, differ, hb.describeEntry(differ))}, ents...)
					}
					out = append(out, Violation{Invariant: InvLogDivergence,
						Detail:  fmt.Sprintf("%s and %s: %s (Raft's Log Matching)", ha.name, hb.name, why),
						Entries: ents})
					break
				}
				if !same && differ == 0 {
					differ = i
				}
			}
		}
	}
	return out
}

// refEntry is the committed entry at one index: its sum and a host whose
// log holds it.
type refEntry struct {
	sum  entrySum
	host *hostData
	ok   bool
}

// committedLog finds the committed entry at each index, by a quorum of
// hosts, and the last committed index. ref[i-1] is index i's.
func committedLog(hosts []*hostData, quorum int) ([]refEntry, uint64) {
	var maxLast, committed uint64
	for _, h := range hosts {
		maxLast = max(maxLast, h.last)
		committed = max(committed, h.snapIndex()) // only committed entries are snapshotted
	}
	ref := make([]refEntry, maxLast)
	for i := uint64(1); i <= maxLast; i++ {
		counts := map[entrySum]int{}
		holder := map[entrySum]*hostData{}
		compacted := 0
		for _, h := range hosts {
			switch {
			case h.has(i):
				s := h.sum(i)
				counts[s]++
				if holder[s] == nil {
					holder[s] = h
				}
			case i <= h.snapIndex():
				compacted++
			}
		}
		var best entrySum
		bestN := 0
		for s, n := range counts {
			if n > bestN || (n == bestN && s.term > best.term) {
				best, bestN = s, n
			}
		}
		if bestN == 0 {
			continue
		}
		ref[i-1] = refEntry{sum: best, host: holder[best], ok: true}
		if bestN+compacted >= quorum {
			committed = max(committed, i)
		}
	}
	return ref, min(committed, maxLast)
}

// checkApplied: a host whose entry at a committed index is not the
// committed one may only hold it as a suffix it never applied; one it
// snapshotted, it applied. A snapshot must also be of the committed entry.
func checkApplied(hosts []*hostData, ref []refEntry, committed uint64) []Violation {
	var out []Violation
	for _, h := range hosts {
		for _, s := range h.snaps {
			if s.index == 0 || s.index > uint64(len(ref)) || !ref[s.index-1].ok {
				continue
			}
			if r := ref[s.index-1]; r.sum.term != s.term {
				out = append(out, Violation{Invariant: InvLogDivergence,
					Detail:  fmt.Sprintf("%s's snapshot at index %d is of term %d, the committed entry there is of term %d", h.name, s.index, s.term, r.sum.term),
					Entries: []string{entryLabel(r.host.name, s.index, r.host.describeEntry(s.index))}})
			}
		}
		for i := h.first; h.last > 0 && i <= min(h.last, committed); i++ {
			r := ref[i-1]
			if !r.ok || h.sum(i) == r.sum {
				continue
			}
			if i <= h.snapIndex() {
				out = append(out, Violation{Invariant: InvLogDivergence,
					Detail:  fmt.Sprintf("%s applied (snapshotted up to %d) an entry at index %d that is not the committed one", h.name, h.snapIndex(), i),
					Entries: []string{entryLabel(h.name, i, h.describeEntry(i)), entryLabel(r.host.name, i, r.host.describeEntry(i))}})
			}
			break // the rest is its divergent suffix, which Log Matching checks
		}
	}
	return out
}
