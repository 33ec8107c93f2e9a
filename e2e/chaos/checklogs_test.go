package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// The FSM checks a deliberately broken build turned off (broken_*_test.go
// sets them under the same build tags as consensus/broken_*.go): the tests
// then require the checker to catch what got through.
var (
	wantBrokenOvercommit bool
	wantBrokenRebind     bool
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// testNode is a node with cpu and memory allocatable.
func testNode(name, cpu, mem string) api.Node {
	rl := api.ResourceList{
		api.ResourceCPU:    resource.MustParse(cpu),
		api.ResourceMemory: resource.MustParse(mem),
		api.ResourcePods:   resource.MustParse("110"),
	}
	return api.Node{
		ObjectMeta: api.ObjectMeta{Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{api.LabelHostname: name, api.LabelOS: "linux"}},
		Status: api.NodeStatus{Capacity: rl, Allocatable: rl,
			Addresses: []api.NodeAddress{{Type: api.NodeHostName, Address: name}},
			NodeInfo:  api.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64"}},
	}
}

// testPod is a pod in default requesting mem of memory, and hostPort when
// not 0, defaulted as the API defaults it.
func testPod(name, mem string, hostPort ...int32) api.Pod {
	p := api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)}}
	p.Spec.Containers = []api.Container{{Name: "c", Image: "busybox",
		Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceMemory: resource.MustParse(mem)}}}}
	for _, hp := range hostPort {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, api.ContainerPort{ContainerPort: 80, HostPort: hp, Protocol: api.ProtocolTCP})
	}
	api.SetPodDefaults(&p)
	return p
}

func bind(pod, node string) consensus.BindPods {
	return consensus.BindPods{Bindings: []consensus.PodBinding{{Namespace: "default", Name: pod, UID: types.UID("uid-" + pod), Node: node}}}
}

// scenario is the commands of the broken-build tests: p2 does not fit
// beside p1 on n1 (600Mi each, 1Gi allocatable), p4 wants the host port p3
// holds on n2, and p1 is bound a second time, to n2.
var scenario = []struct {
	typ     consensus.CommandType
	payload any
}{
	{consensus.CmdRegisterNode, consensus.RegisterNode{Node: testNode("n1", "2", "1Gi")}},
	{consensus.CmdRegisterNode, consensus.RegisterNode{Node: testNode("n2", "2", "1Gi")}},
	{consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod("p1", "600Mi")}},
	{consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod("p2", "600Mi")}},
	{consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod("p3", "10Mi", 8080)}},
	{consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod("p4", "10Mi", 8080)}},
	{consensus.CmdBindPods, bind("p1", "n1")}, // index 7
	{consensus.CmdBindPods, bind("p2", "n1")}, // overcommits n1
	{consensus.CmdBindPods, bind("p3", "n2")},
	{consensus.CmdBindPods, bind("p4", "n2")}, // a second pod on n2's port 8080
	{consensus.CmdBindPods, bind("p1", "n2")}, // moves p1
}

// brokenOutcome is what the scenario leaves in this build: the violations
// the checker must find, the bindings the FSM rejects, the pods bound, and
// those holding each node at the end.
func brokenOutcome() (violations []string, rejected, bindings int, holding map[string][]string) {
	rejected, bindings = 3, 2
	n1, n2 := []string{"default/p1"}, []string{"default/p3"}
	if wantBrokenOvercommit {
		violations = append(violations, InvOvercommit, InvHostPortConflict)
		rejected -= 2
		bindings += 2
		n1, n2 = append(n1, "default/p2"), append(n2, "default/p4")
	}
	if wantBrokenRebind {
		violations = append(violations, InvPodMoved)
		rejected--
		n1, n2 = n1[1:], append([]string{"default/p1"}, n2...)
	}
	holding = map[string][]string{}
	if len(n1) > 0 {
		holding["n1"] = n1
	}
	holding["n2"] = n2
	return violations, rejected, bindings, holding
}

// openStore opens a real Raft store on disk at dir, listening on addr.
func openStore(t *testing.T, id, addr, dir string) *consensus.Store {
	t.Helper()
	cfg := consensus.DefaultConfig()
	cfg.ServerID = id
	cfg.BindAddr = addr
	cfg.DataDir = dir
	cfg.SecretsKey = testKey
	cfg.Logger = slog.New(slog.DiscardHandler)
	// A lease long enough that a leader whose followers just stopped
	// still appends what it is given before it steps down.
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	cfg.ApplyTimeout = 2 * time.Second
	s, err := consensus.NewStore(cfg)
	if err != nil {
		t.Fatalf("NewStore(%s): %v", id, err)
	}
	t.Cleanup(func() { _ = s.Shutdown() })
	return s
}

// freeAddrs returns n loopback addresses with free ports, so that stores
// can be restarted on the address the others know them by.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out
}

// waitLeader waits for one of stores to lead.
func waitLeader(t *testing.T, stores ...*consensus.Store) *consensus.Store {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range stores {
			if s.IsLeader() {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader within 10s")
	return nil
}

// startCluster runs len(dirs) real Raft stores on loopback with their data
// in dirs, bootstrapped together, and returns them and the leader.
func startCluster(t *testing.T, dirs []string) ([]*consensus.Store, *consensus.Store) {
	t.Helper()
	addrs := freeAddrs(t, len(dirs))
	var stores []*consensus.Store
	var servers []consensus.Server
	for i, dir := range dirs {
		s := openStore(t, fmt.Sprintf("s%d", i+1), addrs[i], dir)
		stores = append(stores, s)
		servers = append(servers, consensus.Server{ID: s.ID(), Address: s.Addr(), Suffrage: consensus.Voter})
	}
	for _, s := range stores {
		if err := s.Bootstrap(servers); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
	}
	return stores, waitLeader(t, stores...)
}

// commit commits a command through the leader.
func commit(t *testing.T, leader *consensus.Store, typ consensus.CommandType, payload any) consensus.Result {
	t.Helper()
	cmd, err := consensus.NewCommand(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	res, err := leader.Commit(context.Background(), cmd)
	if err != nil {
		t.Fatalf("commit %s: %v", typ, err)
	}
	return res
}

// TestCheckLogsRaft commits the scenario through a real three-server Raft
// cluster on disk, stops it, and checks its logs. In a normal build the
// FSM refuses the overcommitting and the moving binding and the logs are
// clean; in a broken build (chaos_broken_overcommit, chaos_broken_rebind)
// the bindings get through and the checker must name the invariant.
func TestCheckLogsRaft(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "h1"), filepath.Join(root, "h2"), filepath.Join(root, "h3")}
	stores, leader := startCluster(t, dirs)
	var rejected int
	for _, c := range scenario {
		res := commit(t, leader, c.typ, c.payload)
		if c.typ == consensus.CmdBindPods {
			var br consensus.BindResult
			if err := json.Unmarshal(res.Response, &br); err != nil {
				t.Fatal(err)
			}
			rejected += len(br.Rejected)
		}
	}
	// Every server applies everything before it stops, so the logs agree.
	idx, err := leader.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.WaitApplied(ctx, idx); err != nil {
			t.Fatalf("%s: %v", s.ID(), err)
		}
		cancel()
	}
	for _, s := range stores {
		if err := s.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}

	rep, violations, err := CheckLogsWith(dirs, LogOptions{SecretsKey: testKey})
	if err != nil {
		t.Fatalf("CheckLogs: %v", err)
	}
	t.Logf("report:\n%s", rep)
	for _, v := range violations {
		t.Logf("violation %s: %s %v", v.Invariant, v.Detail, v.Entries)
	}
	var got []string
	for _, v := range violations {
		got = append(got, v.Invariant)
	}
	want, wantRejected, wantBindings, wantHolding := brokenOutcome()
	if !slices.Equal(got, want) {
		t.Errorf("violations %v, want %v", got, want)
	}
	if rejected != wantRejected || rep.BindRejected != wantRejected {
		t.Errorf("the FSM rejected %d bindings, the replay %d, want %d", rejected, rep.BindRejected, wantRejected)
	}
	if !reflect.DeepEqual(rep.Holding, wantHolding) {
		t.Errorf("report: holding %v, want %v", rep.Holding, wantHolding)
	}
	if rep.Bindings != wantBindings {
		t.Errorf("report: %d bindings, want %d", rep.Bindings, wantBindings)
	}
	if rep.ByType[string(consensus.CmdBindPods)] != 5 || rep.ByType[string(consensus.CmdCreatePod)] != 4 {
		t.Errorf("report by type %v: want 5 BindPods, 4 CreatePod", rep.ByType)
	}
	if rep.Committed != rep.Hosts[0].Last || rep.Base != 0 {
		t.Errorf("report: committed %d (last %d), base %d: want the whole log replayed from empty", rep.Committed, rep.Hosts[0].Last, rep.Base)
	}
	for _, v := range violations {
		for _, e := range v.Entries {
			if !strings.Contains(e, "BindPods") {
				t.Errorf("%s names entry %q, want the BindPods", v.Invariant, e)
			}
		}
	}
}

// entry is a hand-made log entry: a node registration (name tells the
// entries apart) at a term.
type entry struct {
	term uint64
	node string
}

// writeLog writes entries, from index first on, as a raft.db under dir.
func writeLog(t *testing.T, dir string, first uint64, entries []entry) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs []*raft.Log
	for i, e := range entries {
		cmd, err := consensus.NewCommand(consensus.CmdRegisterNode, consensus.RegisterNode{Node: testNode(e.node, "1", "1Gi")})
		if err != nil {
			t.Fatal(err)
		}
		cmd.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		data, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: first + uint64(i), Term: e.term, Type: raft.LogCommand, Data: data})
	}
	if err := store.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

// writeSnapshot writes a raft file snapshot of state at index and term.
func writeSnapshot(t *testing.T, dir string, index, term uint64, state []byte) {
	t.Helper()
	fs, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	sink, err := fs.Create(raft.SnapshotVersionMax, index, term, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(state); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

func ents(spec string) []entry {
	// "1a 1b 2c": term then node name per entry.
	var out []entry
	for _, f := range strings.Fields(spec) {
		var term uint64
		fmt.Sscanf(f[:1], "%d", &term)
		out = append(out, entry{term: term, node: "n-" + f[1:]})
	}
	return out
}

func TestCheckLogsAgreement(t *testing.T) {
	for _, tc := range []struct {
		name string
		logs []string // one per host, from index 1
		// snap is a snapshot (index, term) of the last host, if any.
		snapIndex, snapTerm uint64
		want                []string
		committed           uint64
	}{
		{name: "identical", logs: []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b 2c 2d"}, committed: 4},
		{name: "a follower behind", logs: []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b"}, committed: 4},
		{name: "uncommitted tail on the old leader", logs: []string{"1a 1b 1x 1y", "1a 1b 2c", "1a 1b 2c"}, committed: 3},
		{name: "a stale follower's suffix of an older term, never applied",
			logs: []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b 1x 1y"}, committed: 4},
		{name: "same index and term, another entry",
			logs: []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b 2x 2d"}, committed: 4,
			want: []string{InvLogDivergence, InvLogDivergence}},
		{name: "differ, then agree again",
			logs: []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b 1x 2d"}, committed: 4,
			want: []string{InvLogDivergence, InvLogDivergence}},
		{name: "a stale follower snapshotted its uncommitted entry",
			logs:      []string{"1a 1b 2c 2d", "1a 1b 2c 2d", "1a 1b 1x 1y"},
			snapIndex: 3, snapTerm: 1, committed: 4,
			want: []string{InvLogDivergence, InvLogDivergence}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for i, l := range tc.logs {
				dir := filepath.Join(root, fmt.Sprintf("h%d", i+1))
				writeLog(t, dir, 1, ents(l))
				dirs = append(dirs, dir)
			}
			if tc.snapIndex > 0 {
				writeSnapshot(t, dirs[len(dirs)-1], tc.snapIndex, tc.snapTerm, []byte(`{"index":3}`))
			}
			rep, violations, err := CheckLogs(dirs)
			if err != nil {
				t.Fatalf("CheckLogs: %v", err)
			}
			var got []string
			for _, v := range violations {
				got = append(got, v.Invariant)
				t.Logf("%s: %s %v", v.Invariant, v.Detail, v.Entries)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %v, want %v", got, tc.want)
			}
			if rep.Committed != tc.committed {
				t.Errorf("committed %d, want %d", rep.Committed, tc.committed)
			}
			if rep.Entries != int(tc.committed) {
				t.Errorf("replayed %d entries, want %d", rep.Entries, tc.committed)
			}
		})
	}
}

// TestCheckLogsFromSnapshot: logs compacted on every host are replayed from
// the oldest snapshot the committed log continues, and what the snapshot
// holds counts (a pod bound in it cannot move afterwards unnoticed).
func TestCheckLogsFromSnapshot(t *testing.T) {
	r, err := consensus.NewReplayer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i, c := range scenario {
		cmd, err := consensus.NewCommand(c.typ, c.payload)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Time = time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		data, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
	}
	// The snapshot holds the first seven entries: both nodes, the pods, p1
	// bound to n1. The hosts keep a few entries before it (raft's trailing
	// logs), not the same number.
	const snapAt = 7
	for _, l := range logs[:snapAt] {
		if _, err := r.Apply(l); err != nil {
			t.Fatal(err)
		}
	}
	state, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	var dirs []string
	for i := range 3 {
		dir := filepath.Join(root, fmt.Sprintf("h%d", i+1))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.StoreLogs(logs[snapAt-1-i:]); err != nil {
			t.Fatal(err)
		}
		store.Close()
		writeSnapshot(t, dir, snapAt, 1, state)
		dirs = append(dirs, dir)
	}
	rep, violations, err := CheckLogsWith(dirs, LogOptions{SecretsKey: testKey})
	if err != nil {
		t.Fatalf("CheckLogs: %v", err)
	}
	t.Logf("report:\n%s", rep)
	var got []string
	for _, v := range violations {
		got = append(got, v.Invariant)
		t.Logf("violation %s: %s %v", v.Invariant, v.Detail, v.Entries)
	}
	want, wantRejected, _, wantHolding := brokenOutcome()
	if !slices.Equal(got, want) {
		t.Errorf("violations %v, want %v", got, want)
	}
	if rep.BindRejected != wantRejected || !reflect.DeepEqual(rep.Holding, wantHolding) {
		t.Errorf("report: %d bindings rejected, holding %v; want %d, %v", rep.BindRejected, rep.Holding, wantRejected, wantHolding)
	}
	if rep.Base != snapAt || rep.Entries != len(scenario)-snapAt || rep.Committed != uint64(len(scenario)) {
		t.Errorf("base %d, %d entries replayed, committed %d: want the snapshot at %d and the %d entries after it",
			rep.Base, rep.Entries, rep.Committed, snapAt, len(scenario)-snapAt)
	}
}

func TestHostNames(t *testing.T) {
	for _, tc := range []struct{ dirs, want []string }{
		{[]string{"/tmp/r/h1", "/tmp/r/h2"}, []string{"h1", "h2"}},
		{[]string{"/tmp/r/h1/raft", "/tmp/r/h2/raft"}, []string{"h1/raft", "h2/raft"}},
		{[]string{"/tmp/h1/data/raft", "/tmp/h2/data/raft"}, []string{"h1/data/raft", "h2/data/raft"}},
		{[]string{"raft", "x/raft"}, []string{"raft", "x/raft"}},
		{[]string{"/a/raft", "/a/raft"}, []string{"/a/raft", "/a/raft"}},
	} {
		if got := hostNames(tc.dirs); !slices.Equal(got, tc.want) {
			t.Errorf("hostNames(%q) = %q, want %q", tc.dirs, got, tc.want)
		}
	}
}

// TestCheckLogsRaftFailover: real logs after a failover are judged clean
// (in a broken build, only the scenario's violations are found).
// The leader is cut off from its followers (they stop) and appends an entry
// it cannot commit; the followers come back, elect a leader of a new term
// and commit other entries at the same indexes. The old leader's log then
// holds an uncommitted suffix of an older term at a committed index, which
// Raft allows; once it is back and caught up, its log is the others'.
func TestCheckLogsRaftFailover(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "h1"), filepath.Join(root, "h2"), filepath.Join(root, "h3")}
	stores, leader := startCluster(t, dirs)
	var cut uint64
	for _, c := range scenario[:4] {
		cut = commit(t, leader, c.typ, c.payload).Index
	}
	var followers []int
	old := -1
	for i, s := range stores {
		if s == leader {
			old = i
		} else {
			followers = append(followers, i)
		}
	}
	addrs := map[int]string{}
	for _, i := range followers {
		addrs[i] = stores[i].Addr()
		if err := stores[i].Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	// The leader appends it, then steps down: it hears from no quorum.
	cmd, _ := consensus.NewCommand(consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod("lost", "1Mi")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if _, err := leader.Commit(ctx, cmd); err == nil {
		t.Fatal("a leader without followers committed")
	}
	cancel()
	oldAddr := leader.Addr()
	if err := leader.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for _, i := range followers {
		stores[i] = openStore(t, fmt.Sprintf("s%d", i+1), addrs[i], dirs[i])
	}
	leader = waitLeader(t, stores[followers[0]], stores[followers[1]])
	for _, c := range scenario[4:] {
		commit(t, leader, c.typ, c.payload)
	}
	for _, i := range followers {
		if err := stores[i].Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	rep, violations, err := CheckLogsWith(dirs, LogOptions{SecretsKey: testKey})
	if err != nil {
		t.Fatalf("CheckLogs: %v", err)
	}
	t.Logf("report with %s cut off:\n%s", rep.Hosts[old].Name, rep)
	want, _, _, wantHolding := brokenOutcome() // none in a normal build
	expect := func(violations []Violation) {
		t.Helper()
		var got []string
		for _, v := range violations {
			got = append(got, v.Invariant)
			t.Logf("violation %s: %s %v", v.Invariant, v.Detail, v.Entries)
		}
		if !slices.Equal(got, want) {
			t.Errorf("violations %v, want %v", got, want)
		}
	}
	expect(violations)
	if rep.Hosts[old].Last != cut+1 {
		t.Errorf("the old leader's log ends at %d, want its uncommitted entry after %d", rep.Hosts[old].Last, cut)
	}
	if rep.Hosts[old].Last >= rep.Committed || rep.Committed != rep.Hosts[followers[0]].Last {
		t.Errorf("committed %d, hosts %+v: want the new leader's log, longer than the old leader's", rep.Committed, rep.Hosts)
	}

	// All three back: the old leader's suffix is replaced.
	for _, i := range followers {
		stores[i] = openStore(t, fmt.Sprintf("s%d", i+1), addrs[i], dirs[i])
	}
	stores[old] = openStore(t, fmt.Sprintf("s%d", old+1), oldAddr, dirs[old])
	leader = waitLeader(t, stores...)
	res := commit(t, leader, consensus.CmdRegisterNode, consensus.RegisterNode{Node: testNode("n3", "2", "1Gi")})
	for _, s := range stores {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.WaitApplied(ctx, res.Index); err != nil {
			t.Fatalf("%s: %v", s.ID(), err)
		}
		cancel()
	}
	for _, s := range stores {
		if err := s.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	rep, violations, err = CheckLogsWith(dirs, LogOptions{SecretsKey: testKey})
	if err != nil {
		t.Fatalf("CheckLogs: %v", err)
	}
	t.Logf("report after the heal:\n%s", rep)
	expect(violations)
	for _, h := range rep.Hosts {
		if h.Last != rep.Committed {
			t.Errorf("%s: log up to %d, committed %d: want every log caught up", h.Name, h.Last, rep.Committed)
		}
	}
	if !reflect.DeepEqual(rep.Holding, wantHolding) {
		t.Errorf("holding %v, want %v", rep.Holding, wantHolding)
	}
}

// BenchmarkCheckLogs checks five hosts' logs of entries pod creations,
// bindings, status reports and deletions (b.N is ignored for the size: one
// check per iteration of a log of benchEntries), to show what judging a long
// run costs.
func BenchmarkCheckLogs(b *testing.B) {
	const benchEntries = 40000
	var logs []*raft.Log
	add := func(typ consensus.CommandType, payload any) {
		cmd, err := consensus.NewCommand(typ, payload)
		if err != nil {
			b.Fatal(err)
		}
		cmd.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(logs)) * time.Second)
		data, err := json.Marshal(cmd)
		if err != nil {
			b.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Term: 1, Type: raft.LogCommand, Data: data})
	}
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	for _, n := range nodes {
		add(consensus.CmdRegisterNode, consensus.RegisterNode{Node: testNode(n, "8", "16Gi")})
	}
	// Pods live for 200 entries, so about 50 are bound at any time.
	for i := 0; len(logs) < benchEntries; i++ {
		name := fmt.Sprintf("p%d", i)
		add(consensus.CmdCreatePod, consensus.CreatePod{Pod: testPod(name, "100Mi")})
		add(consensus.CmdBindPods, bind(name, nodes[i%len(nodes)]))
		p := testPod(name, "100Mi")
		add(consensus.CmdSetPodStatuses, consensus.SetPodStatuses{Node: nodes[i%len(nodes)], Updates: []consensus.PodStatusUpdate{{
			Namespace: "default", Name: name, UID: p.UID, Status: api.PodStatus{Phase: api.PodRunning}}}})
		if i >= 50 {
			old := fmt.Sprintf("p%d", i-50)
			zero := int64(0)
			add(consensus.CmdDeletePod, consensus.DeletePod{Namespace: "default", Name: old, GracePeriodSeconds: &zero})
		}
	}
	root := b.TempDir()
	var dirs []string
	for i := range 5 {
		dir := filepath.Join(root, fmt.Sprintf("h%d", i+1))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		for start := 0; start < len(logs); start += 1000 {
			if err := store.StoreLogs(logs[start:min(start+1000, len(logs))]); err != nil {
				b.Fatal(err)
			}
		}
		store.Close()
		dirs = append(dirs, dir)
	}
	b.ResetTimer()
	for range b.N {
		rep, violations, err := CheckLogs(dirs)
		if err != nil {
			b.Fatal(err)
		}
		if len(violations) > 0 || rep.Entries != len(logs) || rep.Refused > 0 {
			b.Fatalf("%d violations, %d of %d entries replayed, %d refused", len(violations), rep.Entries, len(logs), rep.Refused)
		}
		b.ReportMetric(float64(rep.Entries), "entries")
	}
}
