package consensus

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitTimeout bounds every wait for the cluster to converge. Elections with
// testTimeouts take well under a second; the margin is for -race on a
// loaded 2-core machine.
const waitTimeout = 10 * time.Second

// testConfig is a config for a store on a free loopback port, in memory
// when dir is empty. The Raft timeouts are shorter than DefaultConfig's so
// that the tests elect leaders quickly; the benchmarks use the defaults.
func testConfig(id, dir string) Config {
	c := DefaultConfig()
	c.ServerID = id
	c.BindAddr = "127.0.0.1:0"
	c.Logger = discardLogger()
	c.SecretsKey = testSecretsKey
	c.HeartbeatTimeout = 150 * time.Millisecond
	c.ElectionTimeout = 150 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.ApplyTimeout = 5 * time.Second
	if dir == "" {
		c.InMemory = true
	} else {
		c.DataDir = dir
	}
	return c
}

// startStore opens a store and shuts it down when the test ends (Shutdown
// is idempotent, so tests may shut it down earlier).
func startStore(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := NewStore(cfg)
	if err != nil {
		tb.Fatalf("NewStore(%s): %v", cfg.ServerID, err)
	}
	tb.Cleanup(func() {
		if err := s.Shutdown(); err != nil {
			tb.Errorf("shutdown %s: %v", s.ID(), err)
		}
	})
	return s
}

// serversOf is the voter list every member of an initial cluster
// bootstraps with.
func serversOf(stores []*Store) []Server {
	var out []Server
	for _, s := range stores {
		out = append(out, Server{ID: s.ID(), Address: s.Addr(), Suffrage: Voter})
	}
	return out
}

// bootstrapAll bootstraps every store with the same configuration, as the
// agents do after gossip.
func bootstrapAll(tb testing.TB, stores []*Store) {
	tb.Helper()
	servers := serversOf(stores)
	for _, s := range stores {
		if err := s.Bootstrap(servers); err != nil {
			tb.Fatalf("bootstrap %s: %v", s.ID(), err)
		}
	}
}

// newCluster starts n bootstrapped stores named s1…sn (on disk under dirs
// when given) and waits for a leader.
func newCluster(tb testing.TB, n int, dirs []string) []*Store {
	tb.Helper()
	var stores []*Store
	for i := range n {
		dir := ""
		if dirs != nil {
			dir = dirs[i]
		}
		stores = append(stores, startStore(tb, testConfig(fmt.Sprintf("s%d", i+1), dir)))
	}
	bootstrapAll(tb, stores)
	waitLeader(tb, stores)
	return stores
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leaderOf returns the one store that is leader and that every other store
// follows, or nil while the stores do not agree.
func leaderOf(stores []*Store) *Store {
	var leader *Store
	for _, s := range stores {
		if s.IsLeader() {
			if leader != nil {
				return nil
			}
			leader = s
		}
	}
	if leader == nil {
		return nil
	}
	for _, s := range stores {
		if id, addr := s.Leader(); id != leader.ID() || addr != leader.Addr() {
			return nil
		}
	}
	return leader
}

// waitLeader waits until stores agree on a leader and returns it.
func waitLeader(tb testing.TB, stores []*Store) *Store {
	tb.Helper()
	var leader *Store
	waitFor(tb, "a leader all stores agree on", func() bool {
		leader = leaderOf(stores)
		return leader != nil
	})
	return leader
}

func followersOf(stores []*Store, leader *Store) []*Store {
	return slices.DeleteFunc(slices.Clone(stores), func(s *Store) bool { return s == leader })
}

// waitSameState waits until every store's State holds exactly want's nodes
// at want's index.
func waitSameState(tb testing.TB, want *Store, stores ...*Store) {
	tb.Helper()
	for _, s := range stores {
		waitFor(tb, s.ID()+" to catch up with "+want.ID(), func() bool {
			wn, wi := want.State().Nodes()
			gn, gi := s.State().Nodes()
			return wi == gi && jsonEqual(tb, wn, gn)
		})
	}
}

// waitServers waits until s's configuration is want, written as
// "id:suffrage" sorted by ID.
func waitServers(tb testing.TB, s *Store, want ...string) {
	tb.Helper()
	var got []string
	waitFor(tb, fmt.Sprintf("%s's configuration to be %v", s.ID(), want), func() bool {
		servers, err := s.Servers()
		if err != nil {
			return false
		}
		got = got[:0]
		for _, srv := range servers {
			got = append(got, srv.ID+":"+string(srv.Suffrage))
		}
		return strings.Join(got, ",") == strings.Join(want, ",")
	})
}

// testSecretsKey is the stores' SecretsKey in the tests that keep their
// data on disk: the same for every store and restart, as the cluster
// token's derivation is.
var testSecretsKey = []byte("0123456789abcdef0123456789abcdef")
