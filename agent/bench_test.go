package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/pki"
	"github.com/gossipod/gossipod/runtime"
)

// benchAddr returns a distinct loopback address per benchmark and agent, so
// agents in one process can all use the default ports.
func benchAddr(block, i int) string { return fmt.Sprintf("127.0.%d.%d", block, i+1) }

// blocks hands out a fresh 127.0.X.0/24 per cluster, so no cluster reuses
// the addresses of one shut down moments before (memberlist would still
// see its ghosts' traffic in flight).
var blocks atomic.Int32

func nextBlock() int { return 10 + int(blocks.Add(1))%240 }

// testConfig is an agent on addr with a data dir under dir, joining join.
func testConfig(tb testing.TB, name, addr, dir string, expect int, join ...string) Config {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = name
	cfg.BindAddr = addr
	cfg.DataDir = dir
	cfg.BootstrapExpect = expect
	cfg.Join = join
	cfg.BootstrapSettle = 200 * time.Millisecond
	cfg.OrphanedPodTimeout = time.Second
	cfg.Capacity = api.Resources{MilliCPU: 2000, Memory: 4 << 30, Pods: 110}
	cfg.Allocatable = cfg.Capacity
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Raft.Logger = cfg.Logger
	cfg.Token = testToken
	return cfg
}

// testToken is the cluster token of the in-process test clusters.
const testToken = "in-process-test-cluster-token-0123456789"

// adminHTTPClient is an HTTPS client of a's cluster presenting an admin
// client certificate, as the kubeconfig of `gossipod kubeconfig` does.
func adminHTTPClient(tb testing.TB, a *Agent) *http.Client {
	tb.Helper()
	leaf, err := a.tls.ca.Issue(pki.Request{CommonName: "admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.tls.ca.Pool(), Certificates: []tls.Certificate{leaf.TLS}}}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// adminClient is an API client of a as admin.
func adminClient(tb testing.TB, a *Agent) *client.Client {
	tb.Helper()
	cl, err := client.NewWithTransport("https://"+a.apiListener.Addr().String(), adminHTTPClient(tb, a).Transport)
	if err != nil {
		tb.Fatal(err)
	}
	return cl
}

// startAgents starts n agents that bootstrap with expect and join the first;
// stop shuts them all down.
func startAgents(tb testing.TB, block, n, expect int) (agents []*Agent, stop func()) {
	tb.Helper()
	return startAgentsWith(tb, block, n, expect, nil)
}

// startAgentsWith is startAgents with edit, when not nil, changing agent
// i's configuration before it starts.
func startAgentsWith(tb testing.TB, block, n, expect int, edit func(i int, cfg *Config)) (agents []*Agent, stop func()) {
	tb.Helper()
	machine := runtime.MachineInfo{OS: "linux", Arch: "amd64"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		cfg := testConfig(tb, fmt.Sprintf("agent-%02d", i), benchAddr(block, i), tb.TempDir(), expect, benchAddr(block, 0))
		cfg.RaftVoters = max(cfg.RaftVoters, expect)
		if edit != nil {
			edit(i, &cfg)
		}
		a, err := New(cfg, machine)
		if err != nil {
			cancel()
			tb.Fatalf("start agent %d: %v", i, err)
		}
		agents = append(agents, a)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.Run(ctx)
		}()
	}
	return agents, func() { cancel(); wg.Wait() }
}

// waitForLeader waits until every agent in agents reports the same leader
// and returns it.
func waitForLeader(tb testing.TB, agents []*Agent, timeout time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		leader, _ := agents[0].store.Leader()
		same := leader != ""
		for _, a := range agents[1:] {
			if l, _ := a.store.Leader(); l != leader {
				same = false
			}
		}
		if same {
			return leader
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("no common leader within %v", timeout)
	return ""
}

// BenchmarkLeaderElection measures the time from starting N fresh agents
// (bootstrap from gossip with --bootstrap-expect N) to every agent
// following one leader. It includes the bootstrap settle time (200 ms here,
// 1 s by default).
func BenchmarkLeaderElection(b *testing.B) {
	for _, n := range []int{3, 5} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				agents, stop := startAgents(b, nextBlock(), n, n)
				waitForLeader(b, agents, 30*time.Second)
				total += time.Since(start)
				stop()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-leader")
		})
	}
}

// BenchmarkGossipConvergence50 measures how long 50 gossip members in one
// process on loopback take until every member's table lists all 50 alive,
// each joining through the first. It uses the agent's own memberlist
// configuration and delegates, without Raft.
func BenchmarkGossipConvergence50(b *testing.B) {
	const n = 50
	var total time.Duration
	for i := 0; i < b.N; i++ {
		block := nextBlock()
		tables := make([]*memberTable, n)
		lists := make([]*memberlist.Memberlist, n)
		start := time.Now()
		for j := range n {
			cfg := testConfig(b, fmt.Sprintf("m-%02d", j), benchAddr(block, j), "", 0)
			meta := &localMeta{meta: nodeMeta{APIPort: 7948, RaftPort: 7947, OS: "linux", Arch: "amd64"}}
			tables[j] = newMemberTable(nil)
			ml, err := newMemberlist(&cfg, meta, tables[j])
			if err != nil {
				b.Fatal(err)
			}
			lists[j] = ml
			if j > 0 {
				if _, err := ml.Join([]string{benchAddr(block, 0) + ":7946"}); err != nil {
					b.Fatal(err)
				}
			}
		}
		for converged := false; !converged; {
			converged = true
			for _, t := range tables {
				alive := 0
				for _, m := range t.List() {
					if m.Status == api.MemberAlive {
						alive++
					}
				}
				if alive < n {
					converged = false
					break
				}
			}
			if !converged {
				time.Sleep(2 * time.Millisecond)
			}
			if time.Since(start) > time.Minute {
				counts := make([]int, 0, n)
				for _, t := range tables {
					counts = append(counts, len(t.List()))
				}
				b.Fatalf("gossip did not converge within a minute; members seen per agent: %v", counts)
			}
		}
		total += time.Since(start)
		for _, ml := range lists {
			_ = ml.Shutdown()
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-converge")
}
