package consensus

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

func TestStoreAddr(t *testing.T) {
	t.Run("port 0 advertises the port actually bound", func(t *testing.T) {
		s := startStore(t, testConfig("s1", ""))
		host, port, err := net.SplitHostPort(s.Addr())
		if err != nil {
			t.Fatalf("Addr() = %q: %v", s.Addr(), err)
		}
		if host != "127.0.0.1" || port == "0" {
			t.Fatalf("Addr() = %q, want 127.0.0.1 with the bound port", s.Addr())
		}
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			t.Fatalf("dial Addr(): %v", err)
		}
		conn.Close()
	})
	t.Run("an explicit advertise address is reported as is", func(t *testing.T) {
		cfg := testConfig("s1", "")
		cfg.AdvertiseAddr = "192.0.2.7:7947"
		s := startStore(t, cfg)
		if s.Addr() != "192.0.2.7:7947" {
			t.Fatalf("Addr() = %q, want the advertise address", s.Addr())
		}
	})
}

func TestBootstrap(t *testing.T) {
	tests := []struct {
		name string
		dir  bool
	}{{"in memory", false}, {"on disk", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := ""
			if tt.dir {
				dir = t.TempDir()
			}
			s := startStore(t, testConfig("solo", dir))
			if s.HasState() {
				t.Fatal("HasState() = true before bootstrap")
			}
			if err := s.Bootstrap(serversOf([]*Store{s})); err != nil {
				t.Fatalf("Bootstrap: %v", err)
			}
			if !s.HasState() {
				t.Fatal("HasState() = false after bootstrap")
			}
			waitLeader(t, []*Store{s})
			if err := s.Bootstrap(serversOf([]*Store{s})); !errors.Is(err, ErrAlreadyBootstrapped) {
				t.Fatalf("second Bootstrap: err = %v, want ErrAlreadyBootstrapped", err)
			}
			// Even with a different list: a server with state never
			// bootstraps again.
			other := []Server{{ID: "x", Address: "127.0.0.1:1", Suffrage: Voter}}
			if err := s.Bootstrap(other); !errors.Is(err, ErrAlreadyBootstrapped) {
				t.Fatalf("Bootstrap with another list: err = %v, want ErrAlreadyBootstrapped", err)
			}
			waitServers(t, s, "solo:voter")
		})
	}
}

func TestApplyReplicates(t *testing.T) {
	stores := newCluster(t, 3, nil)
	leader := waitLeader(t, stores)
	ctx := t.Context()

	for _, s := range stores {
		if err := s.Bootstrap(serversOf(stores)); !errors.Is(err, ErrAlreadyBootstrapped) {
			t.Errorf("%s: second Bootstrap: err = %v, want ErrAlreadyBootstrapped", s.ID(), err)
		}
		if !s.HasState() {
			t.Errorf("%s: HasState() = false in a running cluster", s.ID())
		}
	}

	cmds := []struct {
		name     string
		cmd      Command
		node     string // the node whose resourceVersion must be the entry's index
		wantCode int    // the *api.Status code Apply must return; 0 = success
	}{
		{"register a", registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), time.Time{}), "a", 0},
		{"register b", registerCmd(t, testNode("b", "uid-b", "10.0.0.2", "2", "4Gi"), time.Time{}), "b", 0},
		{"a and b ready", readyCmd(t, time.Time{}, api.ConditionTrue, "a", "b"), "b", 0},
		{"delete a missing node", command(t, CmdDeleteNode, DeleteNode{Name: "zz"}, time.Time{}), "", http.StatusNotFound},
		{"nameless node", registerCmd(t, testNode("", "", "10.0.0.9", "1", "1Gi"), time.Time{}), "", http.StatusBadRequest},
	}
	var last uint64
	for _, c := range cmds {
		before := time.Now()
		index, err := leader.Apply(ctx, c.cmd)
		if c.wantCode == 0 && err != nil {
			t.Fatalf("%s: Apply: %v", c.name, err)
		}
		if c.wantCode != 0 {
			var status *api.Status
			if !errors.As(err, &status) || status.Code != c.wantCode {
				t.Fatalf("%s: Apply err = %v, want *api.Status %d", c.name, err, c.wantCode)
			}
		}
		// A rejected command is still a committed entry with an index.
		if index <= last {
			t.Fatalf("%s: index %d, want > previous %d", c.name, index, last)
		}
		last = index
		if got := leader.State().Index(); got != index {
			t.Errorf("%s: leader's State().Index() = %d right after Apply, want %d", c.name, got, index)
		}
		if c.node != "" {
			n, ok := leader.State().Node(c.node)
			if !ok {
				t.Fatalf("%s: node %s missing on the leader after Apply", c.name, c.node)
			}
			if n.ResourceVersion != strconv.FormatUint(index, 10) {
				t.Errorf("%s: resourceVersion %s, want %d", c.name, n.ResourceVersion, index)
			}
			// The leader stamps the time: creationTimestamp is "now".
			if c.cmd.Type == CmdRegisterNode && n.CreationTimestamp.Time.Before(before.Add(-time.Second)) {
				t.Errorf("%s: creationTimestamp %v, want the time of Apply (~%v)", c.name, n.CreationTimestamp, before)
			}
		}
	}
	waitSameState(t, leader, followersOf(stores, leader)...)

	a, _ := leader.State().Node("a")
	for _, f := range followersOf(stores, leader) {
		got, _ := f.State().Node("a")
		if !got.CreationTimestamp.Time.Equal(a.CreationTimestamp.Time) || got.UID != "uid-a" {
			t.Errorf("%s: node a = %s, want the leader's %s", f.ID(), mustJSON(t, got), mustJSON(t, a))
		}
	}

	t.Run("followers refuse writes", func(t *testing.T) {
		for _, f := range followersOf(stores, leader) {
			before := f.State().Index()
			index, err := f.Apply(ctx, registerCmd(t, testNode("c", "uid-c", "10.0.0.3", "1", "1Gi"), time.Time{}))
			if !errors.Is(err, ErrNotLeader) {
				t.Errorf("%s: Apply err = %v, want ErrNotLeader", f.ID(), err)
			}
			if index != 0 {
				t.Errorf("%s: Apply index = %d, want 0", f.ID(), index)
			}
			if f.State().Index() != before {
				t.Errorf("%s: a refused write changed the state", f.ID())
			}
			if id, addr := f.Leader(); id != leader.ID() || addr != leader.Addr() {
				t.Errorf("%s: Leader() = %s %s, want %s %s", f.ID(), id, addr, leader.ID(), leader.Addr())
			}
			if f.RaftState() != "Follower" {
				t.Errorf("%s: RaftState() = %s, want Follower", f.ID(), f.RaftState())
			}
		}
	})

	t.Run("a cancelled context does not commit", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		before := leader.State().Index()
		_, err := leader.Apply(ctx, registerCmd(t, testNode("late", "uid-l", "10.0.0.4", "1", "1Gi"), time.Time{}))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Apply err = %v, want context.Canceled", err)
		}
		if _, ok := leader.State().Node("late"); ok || leader.State().Index() != before {
			t.Error("Apply with a cancelled context committed its command")
		}
	})

	t.Run("Barrier on the leader", func(t *testing.T) {
		if err := leader.Barrier(time.Second); err != nil {
			t.Errorf("Barrier: %v", err)
		}
		for _, f := range followersOf(stores, leader) {
			if err := f.Barrier(time.Second); !errors.Is(err, ErrNotLeader) {
				t.Errorf("%s: Barrier err = %v, want ErrNotLeader", f.ID(), err)
			}
		}
	})

	t.Run("a shut-down store says so", func(t *testing.T) {
		f := followersOf(stores, leader)[0]
		if err := f.Shutdown(); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := f.Shutdown(); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		// ErrShutdown, and ErrNotLeader too: the agent's forwarding
		// handler answers "not leader" and the caller tries elsewhere.
		_, err := f.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, "a"))
		if !errors.Is(err, ErrShutdown) || !errors.Is(err, ErrNotLeader) {
			t.Errorf("Apply after Shutdown: err = %v, want ErrShutdown and ErrNotLeader", err)
		}
		// The two others are a quorum: writes go on.
		if _, err := leader.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionFalse, "a")); err != nil {
			t.Errorf("Apply with one of three down: %v", err)
		}
	})
}

func TestMembership(t *testing.T) {
	stores := newCluster(t, 3, nil)
	leader := waitLeader(t, stores)
	ctx := t.Context()
	if _, err := leader.Apply(ctx, registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), time.Time{})); err != nil {
		t.Fatal(err)
	}

	s4 := startStore(t, testConfig("s4", ""))
	if s4.HasState() {
		t.Fatal("s4: HasState() = true before joining")
	}
	follower := followersOf(stores, leader)[0]

	steps := []struct {
		name string
		do   func() error
		// wantErr is the sentinel the step must fail with; nil = success.
		wantErr error
		// servers is the configuration every member must reach.
		servers []string
	}{
		{"a follower cannot add a server", func() error { return follower.AddNonvoter(s4.ID(), s4.Addr()) }, ErrNotLeader, nil},
		{"add s4 as a non-voter", func() error { return leader.AddNonvoter(s4.ID(), s4.Addr()) }, nil,
			[]string{"s1:voter", "s2:voter", "s3:voter", "s4:nonvoter"}},
		{"a follower cannot promote", func() error { return follower.AddVoter(s4.ID(), s4.Addr()) }, ErrNotLeader, nil},
		{"promote s4 to voter", func() error { return leader.AddVoter(s4.ID(), s4.Addr()) }, nil,
			[]string{"s1:voter", "s2:voter", "s3:voter", "s4:voter"}},
		{"a follower cannot remove", func() error { return follower.RemoveServer(s4.ID()) }, ErrNotLeader, nil},
		{"remove s4", func() error { return leader.RemoveServer(s4.ID()) }, nil,
			[]string{"s1:voter", "s2:voter", "s3:voter"}},
	}
	for _, st := range steps {
		err := st.do()
		if st.wantErr == nil && err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if st.wantErr != nil && !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		if st.servers == nil {
			continue
		}
		for _, s := range stores {
			waitServers(t, s, st.servers...)
		}

		switch st.name {
		case "add s4 as a non-voter":
			// The non-voter receives the state, and later writes.
			waitSameState(t, leader, s4)
			if !s4.HasState() {
				t.Error("s4: HasState() = false after joining")
			}
			if err := s4.Bootstrap(serversOf([]*Store{s4})); !errors.Is(err, ErrAlreadyBootstrapped) {
				t.Errorf("s4: Bootstrap after joining: err = %v, want ErrAlreadyBootstrapped", err)
			}
			if _, err := s4.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, "a")); !errors.Is(err, ErrNotLeader) {
				t.Errorf("s4: Apply err = %v, want ErrNotLeader", err)
			}
			if _, err := leader.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, "a")); err != nil {
				t.Fatal(err)
			}
			waitSameState(t, leader, s4)
			waitServers(t, s4, st.servers...)
		case "promote s4 to voter":
			waitServers(t, s4, st.servers...)
		case "remove s4":
			// The cluster goes on without s4.
			if _, err := leader.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionFalse, "a")); err != nil {
				t.Fatalf("Apply after removing s4: %v", err)
			}
			waitSameState(t, leader, stores...)
		}
	}
}

func TestTransferLeadership(t *testing.T) {
	stores := newCluster(t, 3, nil)
	old := waitLeader(t, stores)
	ctx := t.Context()
	if _, err := old.Apply(ctx, registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), time.Time{})); err != nil {
		t.Fatal(err)
	}
	for _, f := range followersOf(stores, old) {
		if err := f.TransferLeadership(); !errors.Is(err, ErrNotLeader) {
			t.Errorf("%s: TransferLeadership on a follower: err = %v, want ErrNotLeader", f.ID(), err)
		}
	}

	if err := old.TransferLeadership(); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	var next *Store
	waitFor(t, "a new leader", func() bool {
		next = leaderOf(stores)
		return next != nil && next != old
	})
	if old.IsLeader() {
		t.Error("old leader still leads")
	}
	if _, err := old.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, "a")); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Apply on the old leader: err = %v, want ErrNotLeader", err)
	}
	if _, err := next.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, "a")); err != nil {
		t.Fatalf("Apply on the new leader: %v", err)
	}
	waitSameState(t, next, stores...)
}

// restart shuts s down and opens a store on the same data dir and address.
func restart(t *testing.T, s *Store) *Store {
	t.Helper()
	cfg := s.cfg
	cfg.BindAddr = s.Addr()
	if err := s.Shutdown(); err != nil {
		t.Fatalf("shutdown %s: %v", s.ID(), err)
	}
	return startStore(t, cfg)
}

func TestRestartKeepsState(t *testing.T) {
	ctx := t.Context()
	populate := func(t *testing.T, leader *Store) {
		t.Helper()
		cmds := []Command{
			registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), time.Time{}),
			registerCmd(t, testNode("b", "uid-b", "10.0.0.2", "2", "4Gi"), time.Time{}),
			readyCmd(t, time.Time{}, api.ConditionTrue, "a", "b"),
			command(t, CmdDeleteNode, DeleteNode{Name: "b"}, time.Time{}),
		}
		for _, c := range cmds {
			if _, err := leader.Apply(ctx, c); err != nil {
				t.Fatalf("Apply %s: %v", c.Type, err)
			}
		}
	}
	dirs := func(t *testing.T, n int) []string {
		var out []string
		for range n {
			out = append(out, t.TempDir())
		}
		return out
	}

	t.Run("a follower restarts and catches up", func(t *testing.T) {
		stores := newCluster(t, 3, dirs(t, 3))
		leader := waitLeader(t, stores)
		populate(t, leader)
		waitSameState(t, leader, stores...)

		f := followersOf(stores, leader)[0]
		f2 := restart(t, f)
		if !f2.HasState() {
			t.Fatal("HasState() = false after restart")
		}
		if err := f2.Bootstrap(serversOf(stores)); !errors.Is(err, ErrAlreadyBootstrapped) {
			t.Fatalf("Bootstrap after restart: err = %v, want ErrAlreadyBootstrapped", err)
		}
		// Without a snapshot the FSM starts empty and is rebuilt from the
		// log once the leader tells the server what is committed.
		t.Logf("state index right after restart: %d (leader at %d)", f2.State().Index(), leader.State().Index())
		waitSameState(t, leader, f2)

		// And it keeps following.
		if _, err := leader.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionFalse, "a")); err != nil {
			t.Fatal(err)
		}
		waitSameState(t, leader, f2)
	})

	t.Run("the whole cluster restarts", func(t *testing.T) {
		stores := newCluster(t, 3, dirs(t, 3))
		leader := waitLeader(t, stores)
		populate(t, leader)
		waitSameState(t, leader, stores...)
		wantNodes, wantIndex := leader.State().Nodes()

		// Shut all down first, then start all: nobody keeps the state in
		// memory meanwhile.
		var cfgs []Config
		for _, s := range stores {
			cfg := s.cfg
			cfg.BindAddr = s.Addr()
			cfgs = append(cfgs, cfg)
			if err := s.Shutdown(); err != nil {
				t.Fatal(err)
			}
		}
		var again []*Store
		for _, cfg := range cfgs {
			s := startStore(t, cfg)
			if !s.HasState() {
				t.Fatalf("%s: HasState() = false after restart", s.ID())
			}
			again = append(again, s)
		}
		leader = waitLeader(t, again)
		for _, s := range again {
			waitFor(t, s.ID()+" to replay its log", func() bool {
				nodes, index := s.State().Nodes()
				return index == wantIndex && jsonEqual(t, nodes, wantNodes)
			})
		}
		if _, err := leader.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionFalse, "a")); err != nil {
			t.Fatalf("Apply after restart: %v", err)
		}
		waitSameState(t, leader, again...)
	})

	t.Run("a snapshot is restored on start", func(t *testing.T) {
		solo := startStore(t, testConfig("solo", t.TempDir()))
		bootstrapAll(t, []*Store{solo})
		waitLeader(t, []*Store{solo})
		populate(t, solo)
		if err := solo.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		snapNodes, snapIndex := solo.State().Nodes()
		if _, err := solo.Apply(ctx, registerCmd(t, testNode("c", "uid-c", "10.0.0.3", "1", "1Gi"), time.Time{})); err != nil {
			t.Fatal(err)
		}
		wantNodes, wantIndex := solo.State().Nodes()

		solo2 := restart(t, solo)
		// raft restores the snapshot before NewRaft returns: the state is
		// there at once, before any leader exists.
		nodes, index := solo2.State().Nodes()
		if index < snapIndex || (index == snapIndex && !jsonEqual(t, nodes, snapNodes)) {
			t.Errorf("right after restart: index %d nodes %s, want the snapshot's index %d nodes %s",
				index, mustJSON(t, nodes), snapIndex, mustJSON(t, snapNodes))
		}
		waitLeader(t, []*Store{solo2})
		waitFor(t, "the log after the snapshot to replay", func() bool {
			nodes, index := solo2.State().Nodes()
			return index == wantIndex && jsonEqual(t, nodes, wantNodes)
		})
	})
}

// TestLeaderLossKeepsAcknowledgedWrites is invariant 3 of DESIGN.md on a
// small scale: a write Apply acknowledged survives the loss of the leader.
func TestLeaderLossKeepsAcknowledgedWrites(t *testing.T) {
	stores := newCluster(t, 3, nil)
	old := waitLeader(t, stores)
	ctx := t.Context()
	var acked []string
	for i := range 5 {
		name := "n" + strconv.Itoa(i)
		if _, err := old.Apply(ctx, registerCmd(t, testNode(name, "uid-"+name, "10.0.0.1", "1", "1Gi"), time.Time{})); err != nil {
			t.Fatalf("Apply %s: %v", name, err)
		}
		acked = append(acked, name)
	}
	// No waiting for followers: the leader goes down right after the last
	// acknowledgement.
	if err := old.Shutdown(); err != nil {
		t.Fatal(err)
	}
	survivors := followersOf(stores, old)
	next := waitLeader(t, survivors)
	// Elected is not yet applied: Barrier first, as a new leader must.
	if err := next.Barrier(waitTimeout); err != nil {
		t.Fatalf("Barrier: %v", err)
	}
	for _, name := range acked {
		if _, ok := next.State().Node(name); !ok {
			t.Errorf("acknowledged node %s is missing on the new leader %s", name, next.ID())
		}
	}
	if _, err := next.Apply(ctx, readyCmd(t, time.Time{}, api.ConditionTrue, acked...)); err != nil {
		t.Fatalf("Apply on the new leader with two of three: %v", err)
	}
	waitSameState(t, next, survivors...)
}

// WaitApplied returns once the State holds every command up to the index
// asked, which need not be a command (the leader's no-op, a configuration
// change), and lastCommandAtOrBefore finds the command entry it waits for.
func TestWaitApplied(t *testing.T) {
	ctx := t.Context()
	solo := startStore(t, testConfig("solo", t.TempDir()))
	bootstrapAll(t, []*Store{solo})
	waitLeader(t, []*Store{solo})
	cmd, err := NewCommand(CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := solo.Commit(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	index, err := solo.ReadIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := solo.WaitApplied(ctx, index); err != nil {
		t.Fatal(err)
	}
	if _, ok := solo.State().Namespace("shop"); !ok {
		t.Fatal("WaitApplied returned before the State held the namespace")
	}
	last := solo.lastCommandAtOrBefore(index)
	if last == 0 || last != solo.State().Index() {
		t.Fatalf("last command at or before %d: %d, State index %d", index, last, solo.State().Index())
	}
	// Past the last command (a no-op written now), the target is still it.
	if err := solo.Barrier(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := solo.lastCommandAtOrBefore(solo.AppliedIndex()); got != last {
		t.Fatalf("after a barrier: last command %d, want %d", got, last)
	}
	// A context that ends stops the wait for an index never reached.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := solo.WaitApplied(short, solo.AppliedIndex()+100); err == nil {
		t.Fatal("WaitApplied of a future index returned without error")
	}
}
