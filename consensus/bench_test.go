package consensus

import (
	"fmt"
	"testing"
	"time"
)

// The benchmarks run in-memory stores on loopback with DefaultConfig's
// timeouts, the ones agents run with, so their figures say what a real
// cluster does (minus the network and the disk). Run them with
//
//	go test -run '^$' -bench . -benchtime 3x ./consensus/

// benchConfig is an in-memory store on a free loopback port with the
// production timeouts.
func benchConfig(id string) Config {
	c := DefaultConfig()
	c.ServerID = id
	c.BindAddr = "127.0.0.1:0"
	c.InMemory = true
	c.Logger = discardLogger()
	c.SecretsKey = testSecretsKey
	return c
}

// benchPoll is how often the benchmarks look for a leader: fine enough not
// to blur election times of a few hundred milliseconds.
const benchPoll = time.Millisecond

// startBenchCluster starts n bootstrapped stores; it does not wait.
func startBenchCluster(b *testing.B, n int) []*Store {
	b.Helper()
	stores := make([]*Store, 0, n)
	for i := range n {
		stores = append(stores, startStore(b, benchConfig(fmt.Sprintf("s%d", i+1))))
	}
	bootstrapAll(b, stores)
	return stores
}

// awaitLeader polls every benchPoll until stores agree on a leader.
func awaitLeader(b *testing.B, stores []*Store) *Store {
	b.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if l := leaderOf(stores); l != nil {
			return l
		}
		if time.Now().After(deadline) {
			b.Fatalf("no leader among %d stores after %s", len(stores), waitTimeout)
		}
		time.Sleep(benchPoll)
	}
}

func shutdownAll(b *testing.B, stores []*Store) {
	b.Helper()
	for _, s := range stores {
		if err := s.Shutdown(); err != nil {
			b.Fatalf("shutdown %s: %v", s.ID(), err)
		}
	}
}

// BenchmarkApplyRegisterNode measures committed writes on the leader of a
// 3-server cluster, one at a time: each Apply waits for a quorum and for
// the leader's FSM, as an API write does.
func BenchmarkApplyRegisterNode(b *testing.B) {
	stores := startBenchCluster(b, 3)
	leader := awaitLeader(b, stores)
	var cmds []Command
	for i := range 64 {
		cmds = append(cmds, registerCmd(b, testNode(fmt.Sprintf("node-%d", i), fmt.Sprintf("uid-%d", i), "10.0.0.1", "4", "8Gi"), time.Time{}))
	}
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := leader.Apply(ctx, cmds[i%len(cmds)]); err != nil {
			b.Fatalf("Apply %d: %v", i, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "applies/s")
}

// benchmarkElection measures the time from starting n fresh servers to a
// leader all of them follow: NewStore, Bootstrap with the shared list, one
// election.
func benchmarkElection(b *testing.B, n int) {
	var total time.Duration
	for range b.N {
		start := time.Now()
		stores := startBenchCluster(b, n)
		awaitLeader(b, stores)
		total += time.Since(start)

		b.StopTimer()
		shutdownAll(b, stores)
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "ms/op")
}

func BenchmarkElection3(b *testing.B) { benchmarkElection(b, 3) }
func BenchmarkElection5(b *testing.B) { benchmarkElection(b, 5) }

// BenchmarkFailover3 measures, in a 3-server cluster that has committed a
// write, the time from shutting the leader down (no leadership transfer: a
// crash) to a new leader both survivors follow.
func BenchmarkFailover3(b *testing.B) {
	var total time.Duration
	ctx := b.Context()
	for range b.N {
		b.StopTimer()
		stores := startBenchCluster(b, 3)
		leader := awaitLeader(b, stores)
		if _, err := leader.Apply(ctx, registerCmd(b, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), time.Time{})); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		if err := leader.Shutdown(); err != nil {
			b.Fatal(err)
		}
		survivors := followersOf(stores, leader)
		next := awaitLeader(b, survivors)
		total += time.Since(start)

		b.StopTimer()
		// The new leader has the write in its log but may not have applied
		// it yet: a Barrier waits for that, as the agent does on gaining
		// leadership.
		if err := next.Barrier(waitTimeout); err != nil {
			b.Fatalf("barrier on the new leader: %v", err)
		}
		if _, ok := next.State().Node("a"); !ok {
			b.Fatal("the new leader lost the committed write")
		}
		shutdownAll(b, survivors)
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "ms/op")
}
