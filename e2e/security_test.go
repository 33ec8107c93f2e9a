package e2e

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// memberNames lists the members host i sees alive.
func memberNames(c *Cluster, i int) ([]string, error) {
	ms, err := c.Members(i)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range ms {
		if m.Status == "alive" {
			names = append(names, m.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// TestOnlyTokenHoldersJoin: three agents with one token form a cluster; a fourth with
// another token, told to join them, never becomes a gossip member, a Node or a Raft
// server, and a plain TCP client on the Raft port cannot make a follower append.
func TestOnlyTokenHoldersJoin(t *testing.T) {
	stranger, err := newCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCluster(t, Options{Hosts: 4, AgentArgs: func(c *Cluster, i int) []string {
		args := BootstrapExpect(3)(c, i)
		if i == 3 {
			// The last --token-file wins: host 3 holds another cluster's token.
			args = append(args, "--token-file", stranger.tokenFile)
		}
		return args
	}})
	want := []string{"host0", "host1", "host2"}
	leader := ""
	Eventually(t, 60*time.Second, func() error {
		peers, err := c.RaftPeers(0)
		if err != nil {
			return err
		}
		var ids []string
		for _, p := range peers {
			ids = append(ids, p.ID)
			if p.Leader {
				leader = p.ID
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) || leader == "" {
			return fmt.Errorf("raft peers %v, leader %q; want %v with a leader", ids, leader, want)
		}
		return nil
	})

	// Watch for a while: the stranger keeps retrying its join, and must never get in.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i := range 3 {
			names, err := memberNames(c, i)
			if err != nil {
				t.Fatalf("members on host%d: %v", i, err)
			}
			if !slices.Equal(names, want) {
				t.Fatalf("host%d sees members %v, want exactly %v", i, names, want)
			}
		}
		nodes, err := c.Nodes(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Items {
			if n.Metadata.Name == "host3" {
				t.Fatal("host3, holding another token, was registered as a Node")
			}
		}
		peers, err := c.RaftPeers(1)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			if p.ID == "host3" {
				t.Fatal("host3, holding another token, was added to Raft")
			}
		}
		time.Sleep(time.Second)
	}
	if !c.Running(3) {
		t.Fatalf("the stranger agent exited instead of retrying its join:\n%s", tailLines(c.Log(3), 30))
	}

	// A plain TCP Raft client, speaking hashicorp/raft's protocol, asks a follower to
	// append an entry: the TLS listener refuses it before any RPC is read.
	follower := slices.IndexFunc([]int{0, 1, 2}, func(i int) bool { return c.Name(i) != leader })
	plain, err := raft.NewTCPTransport("0.0.0.0:0", &net.TCPAddr{IP: net.ParseIP(c.net.gateway()), Port: 1}, 1, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	target := raft.ServerAddress(net.JoinHostPort(c.IP(follower), strconv.Itoa(RaftPort)))
	var resp raft.AppendEntriesResponse
	err = plain.AppendEntries(raft.ServerID(c.Name(follower)), target, &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte(leader), Addr: []byte(leader)},
		Term:      1 << 40, // a term far ahead: a follower that read it would follow us
		Entries:   []*raft.Log{{Index: 1 << 40, Term: 1 << 40, Type: raft.LogCommand, Data: []byte("{}")}},
	}, &resp)
	if err == nil {
		t.Fatalf("a plain TCP client's AppendEntries to %s was answered: %+v", c.Name(follower), resp)
	}
	t.Logf("plain TCP AppendEntries to %s refused: %v", c.Name(follower), err)
	// The cluster still has its leader and term: nothing of the request took effect.
	Eventually(t, 10*time.Second, func() error {
		peers, err := c.RaftPeers(follower)
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.Leader && p.ID == leader {
				return nil
			}
		}
		return fmt.Errorf("%s no longer follows %s: %+v", c.Name(follower), leader, peers)
	})
}
