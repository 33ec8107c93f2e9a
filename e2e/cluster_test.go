package e2e

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Bounds on how long the cluster may take to converge. They are generous on purpose:
// they only tell a hang from slowness on a loaded 2-CPU machine; speed is measured by
// benchmarks, never asserted here.
const (
	formTimeout     = 45 * time.Second // bootstrap, election, membership upkeep
	electionTimeout = 30 * time.Second // a new leader after the old one is lost
	detectTimeout   = 30 * time.Second // memberlist marks a lost host suspect/dead
	repairTimeout   = 60 * time.Second // dead server removed, voter promoted, host back
	// rejoinTimeout bounds how long a restarted agent may take to see the other
	// members again: several of the agent's 2 s join retries, yet shorter than
	// memberlist's 30 s push-pull, which would otherwise mask a missing rejoin.
	rejoinTimeout = 20 * time.Second
)

// TestThreeAgentsFormOneCluster: three agents started with --bootstrap-expect 3
// bootstrap one Raft cluster together; every agent reports the same leader and the same
// three voters, and sees all three members alive.
func TestThreeAgentsFormOneCluster(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3)})
	waitFormed(t, c, 3, 0)
}

// TestFiveAgentsVotersAndNonVoters: with --bootstrap-expect 3 and the default
// --raft-voters 3, the two later agents join Raft as non-voters, so commits stay fast
// while every agent still holds the whole state.
func TestFiveAgentsVotersAndNonVoters(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 5, AgentArgs: BootstrapExpect(3)})
	waitFormed(t, c, 3, 2)
}

// TestLeaderKilled: when the leader crashes (SIGKILL, no goodbye), the others elect a
// different leader, which marks the lost node NotReady, removes the dead server from
// the Raft configuration after the dead-server timeout, and promotes a non-voter so
// there are three voters again.
func TestLeaderKilled(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 5, AgentArgs: BootstrapExpect(3)})
	oldLeader := waitFormed(t, c, 3, 2)
	dead := c.Index(oldLeader)
	c.Kill(dead)
	survivors := hostsExcept(c, dead)
	t.Logf("killed leader %s", oldLeader)

	Eventually(t, electionTimeout, func() error {
		leader, err := commonLeader(c, survivors)
		if err != nil {
			return err
		}
		if leader == oldLeader {
			return fmt.Errorf("survivors still report the killed %s as leader", oldLeader)
		}
		return nil
	})
	Eventually(t, repairTimeout, func() error {
		for _, i := range survivors {
			nodes, err := c.Nodes(i)
			if err != nil {
				return err
			}
			for _, n := range nodes.Items {
				if n.Metadata.Name == oldLeader && n.Ready() {
					return fmt.Errorf("%s: node %s of the killed agent is still Ready", c.Name(i), oldLeader)
				}
			}
		}
		if _, err := raftAgrees(c, survivors, names(c, survivors), 3, 1); err != nil {
			return err
		}
		return membersAgree(c, survivors, names(c, survivors), []string{oldLeader})
	})
}

// TestAgentRestartKeepsRaftData: an agent restarted on its data dir, after a clean stop
// or a crash, comes back as the same Raft server: its Raft files are still there (the
// same files, reopened), it is alive in every member list and in the Raft
// configuration, and its own replica of the state lists every node. Every host is a
// join seed here, so that rejoining gossip is not at stake (TestSeedRestartRejoins
// covers that).
func TestAgentRestartKeepsRaftData(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	all := hostsExcept(c, -1)
	cases := []struct {
		name string
		pick func(leader int) int
		down func(c *Cluster, i int)
	}{
		{"follower stopped with SIGTERM", func(leader int) int { return (leader + 1) % c.N() }, (*Cluster).Stop},
		{"leader killed with SIGKILL", func(leader int) int { return leader }, (*Cluster).Kill},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.WithT(t)
			i := tc.pick(c.Index(waitFormed(t, c, 3, 0)))
			before := raftFiles(t, c.DataDir(i))
			if len(before) == 0 {
				t.Fatalf("%s: no Raft files under its data dir %s before the restart", c.Name(i), c.DataDir(i))
			}
			tc.down(c, i)
			c.Start(i)

			waitFormed(t, c, 3, 0)
			for rel, was := range before {
				if strings.Contains(strings.ToLower(rel), "snapshot") {
					continue // snapshots are legitimately rotated
				}
				now, err := os.Stat(filepath.Join(c.DataDir(i), rel))
				if err != nil {
					t.Errorf("%s: Raft file %s gone after restart: %v", c.Name(i), rel, err)
				} else if !os.SameFile(was, now) {
					t.Errorf("%s: Raft file %s was replaced on restart, not reopened", c.Name(i), rel)
				}
			}
			Eventually(t, formTimeout, func() error {
				nodes, err := c.Nodes(i)
				if err != nil {
					return err
				}
				var got []string
				for _, n := range nodes.Items {
					got = append(got, n.Metadata.Name)
				}
				slices.Sort(got)
				if want := names(c, all); !slices.Equal(got, want) {
					return fmt.Errorf("get nodes on %s lists %v, want %v", c.Name(i), got, want)
				}
				return nil
			})
		})
	}
}

// TestSeedRestartRejoins: in the minimal setup where every agent, the seed included,
// is started with `--join <seed>`, a restarted seed has nobody to join but itself. It
// must still find the cluster again, through what it knew before (its Raft
// configuration or its previous members), within a few join-retry rounds, rather than
// stay alone until memberlist's periodic push-pull (every 30 s) happens to pick it, or
// forever when it had left cleanly.
func TestSeedRestartRejoins(t *testing.T) {
	cases := []struct {
		name string
		down func(c *Cluster, i int)
	}{
		{"killed with SIGKILL", (*Cluster).Kill},
		{"stopped with SIGTERM", (*Cluster).Stop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3)})
			waitFormed(t, c, 3, 0)
			tc.down(c, 0)
			c.Start(0)
			all := hostsExcept(c, -1)
			Eventually(t, rejoinTimeout, func() error {
				return membersAgree(c, all, names(c, all), nil)
			})
			waitFormed(t, c, 3, 0)
		})
	}
}

// TestPartitionedHost: a host cut off from the network is seen as suspect or dead by
// the others (and, if it led, replaced as leader); once healed, it is alive again
// everywhere and the cluster has one leader and three voters, even when the cut lasted
// long enough for the leader to remove it from the Raft configuration.
func TestPartitionedHost(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3)})
	cases := []struct {
		name string
		pick func(leader int) int
		// untilRemoved keeps the host cut off until the others have dropped it
		// from the Raft configuration (the dead-server timeout).
		untilRemoved bool
	}{
		{"follower", func(leader int) int { return (leader + 1) % c.N() }, false},
		{"leader", func(leader int) int { return leader }, false},
		{"follower past the dead-server timeout", func(leader int) int { return (leader + 1) % c.N() }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.WithT(t)
			leader := waitFormed(t, c, 3, 0)
			i := tc.pick(c.Index(leader))
			others := hostsExcept(c, i)
			c.Cut(i)
			healed := false
			defer func() {
				if !healed {
					c.Heal(i) // let the next case start from a whole cluster
				}
			}()

			Eventually(t, detectTimeout, func() error {
				for _, o := range others {
					ms, err := c.Members(o)
					if err != nil {
						return err
					}
					m, ok := findMember(ms, c.Name(i))
					if !ok {
						return fmt.Errorf("%s no longer lists cut-off %s at all: %+v", c.Name(o), c.Name(i), ms)
					}
					if m.Status != "suspect" && m.Status != "dead" {
						return fmt.Errorf("%s sees cut-off %s as %q, want suspect or dead", c.Name(o), c.Name(i), m.Status)
					}
				}
				return nil
			})
			if c.Name(i) == leader {
				Eventually(t, electionTimeout, func() error {
					l, err := commonLeader(c, others)
					if err == nil && l == leader {
						err = fmt.Errorf("majority still follows cut-off leader %s", leader)
					}
					return err
				})
			}

			if tc.untilRemoved {
				Eventually(t, repairTimeout, func() error {
					_, err := raftAgrees(c, others, names(c, others), 2, 0)
					return err
				})
			}

			c.Heal(i)
			healed = true
			waitFormed(t, c, 3, 0)
		})
	}
}

// TestAgentBadFlags: invalid flags make `gossipod agent` exit non-zero at once with an
// error naming the flag, never with a panic and never by starting anyway. No network
// namespace is needed: the agent must refuse before it binds anything.
func TestAgentBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		flag string // the error must name it
	}{
		{"port not a number", []string{"--raft-port", "notaport"}, "raft-port"},
		{"port out of range", []string{"--api-port", "70000"}, "api-port"},
		{"cpu not a quantity", []string{"--cpu", "abc"}, "cpu"},
		{"memory not a quantity", []string{"--memory", "lots"}, "memory"},
		{"negative bootstrap-expect", []string{"--bootstrap-expect", "-1"}, "bootstrap-expect"},
		{"bind not an IP", []string{"--bind", "not-an-ip"}, "bind"},
		{"unknown flag", []string{"--no-such-flag"}, "no-such-flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Valid everything else, on free loopback ports, so that an agent that
			// wrongly accepts the bad flag starts up and shows as a timeout.
			args := append(loopbackAgentArgs(t, "badflags"), tc.args...)
			res := RunTimeout(t, 15*time.Second, args...)
			out := res.Stdout + res.Stderr
			switch {
			case res.TimedOut:
				t.Fatalf("agent kept running despite %v:\n%s", tc.args, res)
			case res.ExitCode == 0:
				t.Fatalf("agent exited 0 despite %v:\n%s", tc.args, res)
			case strings.Contains(out, "panic") || strings.Contains(out, "goroutine "):
				t.Fatalf("agent panicked on %v:\n%s", tc.args, res)
			case !strings.Contains(out, tc.flag):
				t.Fatalf("error for %v does not name %q:\n%s", tc.args, tc.flag, res)
			}
		})
	}
}

// TestAgentRetriesBadJoin: an agent whose --join address has nobody listening keeps
// running, logs that it will retry, and keeps serving its API: seeds may come up later,
// as in Consul's retry-join.
func TestAgentRetriesBadJoin(t *testing.T) {
	nobody := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePorts(t, 1)[0]))
	args := append(loopbackAgentArgs(t, "lonely"), "--join", nobody)
	apiPort := args[slices.Index(args, "--api-port")+1]
	agent := StartProcess(t, filepath.Join(t.TempDir(), "agent.log"), append([]string{BuildBinary(t)}, args...)...)

	Eventually(t, 20*time.Second, func() error {
		if agent.Exited() {
			t.Fatalf("agent exited (%v) instead of retrying the join:\n%s", agent.ExitError(), tailLines(agent.Log(), 40))
		}
		if !strings.Contains(strings.ToLower(agent.Log()), "retry") {
			return errors.New("no retry logged yet")
		}
		return nil
	})
	// Outlive at least one more retry round, then the agent must still be up.
	time.Sleep(3 * time.Second)
	if agent.Exited() {
		t.Fatalf("agent exited (%v) while retrying the join:\n%s", agent.ExitError(), tailLines(agent.Log(), 40))
	}
	// /healthz is open to anyone; the agent's certificate is not what this test checks.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	Eventually(t, 10*time.Second, func() error {
		resp, err := client.Get("https://127.0.0.1:" + apiPort + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz: %s", resp.Status)
		}
		return nil
	})
}

// waitFormed waits until every running, connected agent agrees on one leader, on a
// configuration of all of them with the given numbers of voters and non-voters, and
// sees them all alive with matching roles. It returns the leader's name.
func waitFormed(t testing.TB, c *Cluster, voters, nonvoters int) string {
	t.Helper()
	all := hostsExcept(c, -1)
	var leader string
	Eventually(t, formTimeout, func() error {
		var err error
		if leader, err = raftAgrees(c, all, names(c, all), voters, nonvoters); err != nil {
			return err
		}
		return membersAgree(c, all, names(c, all), nil)
	})
	return leader
}

// raftAgrees checks `raft peers` on each host in on: exactly the servers want, with
// the given numbers of voters and non-voters, and the same single leader everywhere.
// It returns that leader.
func raftAgrees(c *Cluster, on []int, want []string, voters, nonvoters int) (string, error) {
	var leader string
	for _, i := range on {
		peers, err := c.RaftPeers(i)
		if err != nil {
			return "", err
		}
		var ids, leaders []string
		v, nv := 0, 0
		for _, p := range peers {
			ids = append(ids, p.ID)
			if p.Leader {
				leaders = append(leaders, p.ID)
			}
			switch p.Suffrage {
			case "voter":
				v++
			case "nonvoter":
				nv++
			default:
				return "", fmt.Errorf("%s: peer %s has suffrage %q", c.Name(i), p.ID, p.Suffrage)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			return "", fmt.Errorf("%s: raft peers %v, want %v", c.Name(i), ids, want)
		}
		if v != voters || nv != nonvoters {
			return "", fmt.Errorf("%s: %d voters and %d non-voters, want %d and %d: %+v", c.Name(i), v, nv, voters, nonvoters, peers)
		}
		if len(leaders) != 1 {
			return "", fmt.Errorf("%s: leaders %v, want exactly one", c.Name(i), leaders)
		}
		if leader != "" && leaders[0] != leader {
			return "", fmt.Errorf("%s reports leader %s, %s reports %s", c.Name(on[0]), leader, c.Name(i), leaders[0])
		}
		leader = leaders[0]
	}
	return leader, nil
}

// commonLeader returns the leader that every host in on reports, ignoring the rest of
// the configuration (which lags behind an election).
func commonLeader(c *Cluster, on []int) (string, error) {
	var leader string
	for _, i := range on {
		peers, err := c.RaftPeers(i)
		if err != nil {
			return "", err
		}
		var l string
		for _, p := range peers {
			if p.Leader {
				l = p.ID
			}
		}
		if l == "" {
			return "", fmt.Errorf("%s knows no leader: %+v", c.Name(i), peers)
		}
		if leader != "" && l != leader {
			return "", fmt.Errorf("%s follows %s, %s follows %s", c.Name(on[0]), leader, c.Name(i), l)
		}
		leader = l
	}
	return leader, nil
}

// membersAgree checks `members` on each host in on: every name in alive is alive with
// the role `raft peers` gives it, and every name in notAlive is absent or not alive.
func membersAgree(c *Cluster, on []int, alive, notAlive []string) error {
	for _, i := range on {
		roles, err := raftRoles(c, i)
		if err != nil {
			return err
		}
		ms, err := c.Members(i)
		if err != nil {
			return err
		}
		for _, name := range alive {
			m, ok := findMember(ms, name)
			if !ok || m.Status != "alive" {
				return fmt.Errorf("%s: member %s is %+v (listed: %t), want alive: %+v", c.Name(i), name, m, ok, ms)
			}
			if m.Role != roles[name] {
				return fmt.Errorf("%s: member %s has role %q, raft peers says %q", c.Name(i), name, m.Role, roles[name])
			}
		}
		for _, name := range notAlive {
			if m, ok := findMember(ms, name); ok && m.Status == "alive" {
				return fmt.Errorf("%s: lost member %s still alive: %+v", c.Name(i), name, ms)
			}
		}
	}
	return nil
}

// raftRoles maps server IDs to the member role the contract derives from host i's
// Raft configuration: "leader", "voter" or "nonvoter".
func raftRoles(c *Cluster, i int) (map[string]string, error) {
	peers, err := c.RaftPeers(i)
	if err != nil {
		return nil, err
	}
	roles := map[string]string{}
	for _, p := range peers {
		roles[p.ID] = p.Suffrage
		if p.Leader {
			roles[p.ID] = "leader"
		}
	}
	return roles, nil
}

// findMember returns the member called name.
func findMember(ms []Member, name string) (Member, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// hostsExcept lists the host indexes other than skip (-1 for all).
func hostsExcept(c *Cluster, skip int) []int {
	var hs []int
	for i := range c.N() {
		if i != skip {
			hs = append(hs, i)
		}
	}
	return hs
}

// names returns the sorted agent names of the given hosts.
func names(c *Cluster, hosts []int) []string {
	var ns []string
	for _, i := range hosts {
		ns = append(ns, c.Name(i))
	}
	slices.Sort(ns)
	return ns
}

// raftFiles returns the non-empty files under dir whose path mentions raft (the Raft
// log, stable store and snapshots, whatever their exact layout), by path relative to
// dir, with their FileInfo so a restart can be checked to reopen rather than recreate
// them.
func raftFiles(t testing.TB, dir string) map[string]os.FileInfo {
	t.Helper()
	files := map[string]os.FileInfo{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.Size() > 0 && strings.Contains(strings.ToLower(rel), "raft") {
			files[rel] = info
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list Raft files in %s: %v", dir, err)
	}
	return files
}

// loopbackAgentArgs returns a complete, valid agent command line on 127.0.0.1 with free
// ports and a fresh data dir, for tests that run an agent without a network namespace.
// Such an agent runs in the machine's own namespace, so it must not install its
// firewall table there (--allow-pod-access-to-agent): a test leaves the host as it was.
func loopbackAgentArgs(t testing.TB, name string) []string {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	creds, err := newCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return []string{"agent",
		"--token-file", creds.tokenFile,
		"--allow-pod-access-to-agent",
		"--name", name,
		"--bind", "127.0.0.1",
		"--gossip-port", strconv.Itoa(ports[0]),
		"--raft-port", strconv.Itoa(ports[1]),
		"--api-port", strconv.Itoa(ports[2]),
		"--data-dir", dataDir,
		"--log-level", "debug",
	}
}

// freePorts returns n distinct loopback ports that are currently free for both TCP
// and UDP (memberlist uses both on its port). All n are held until all are found, so
// the kernel cannot hand out the same one twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var held []io.Closer
	defer func() {
		for _, h := range held {
			h.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries == 50 {
			t.Fatal("no free loopback ports for TCP and UDP")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		held = append(held, pc)
		ports = append(ports, port)
	}
	return ports
}
