package consensus

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gossipod/gossipod/pki"
)

const (
	testClusterToken  = "0123456789abcdef0123456789abcdef-consensus-test"
	otherClusterToken = "fedcba9876543210fedcba9876543210-another-cluster"
)

// tlsFor returns the transport TLS of server id in the cluster of token, as
// the agent builds it.
func tlsFor(tb testing.TB, token, id string) *TransportTLS {
	tb.Helper()
	ca, err := pki.NewCA(token)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := ca.IssueAgent(id, nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return &TransportTLS{
		Server: pki.PeerServerTLS(ca, leaf),
		Client: func(peer string) *tls.Config { return pki.PeerClientTLS(ca, leaf, peer) },
	}
}

// TestTLSTransport runs a cluster over mutual TLS and shows that whoever
// lacks an agent certificate of the cluster cannot make a follower append:
// neither a plain TCP raft client nor a TLS client of another cluster.
func TestTLSTransport(t *testing.T) {
	var stores []*Store
	for i := range 3 {
		cfg := testConfig(fmt.Sprintf("s%d", i+1), "")
		cfg.TLS = tlsFor(t, testClusterToken, cfg.ServerID)
		stores = append(stores, startStore(t, cfg))
	}
	bootstrapAll(t, stores)
	leader := waitLeader(t, stores)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	index, err := leader.Apply(ctx, registerCmd(t, testNode("n1", "uid-1", "10.0.0.1", "1", "1Gi"), time.Time{}))
	if err != nil {
		t.Fatalf("apply through the TLS cluster: %v", err)
	}
	follower := followersOf(stores, leader)[0]
	waitFor(t, "the follower to apply the entry", func() bool { return follower.AppliedIndex() >= index })

	attack := func(trans raft.Transport) error {
		last := follower.raft.LastIndex()
		term := follower.raft.CurrentTerm()
		req := &raft.AppendEntriesRequest{
			RPCHeader:    raft.RPCHeader{ID: []byte(leader.ID()), Addr: []byte(leader.Addr())},
			Term:         term,
			PrevLogEntry: last,
			PrevLogTerm:  term,
			Entries:      []*raft.Log{{Index: last + 1, Term: term, Type: raft.LogCommand, Data: []byte(`{"type":"bogus"}`)}},
		}
		var resp raft.AppendEntriesResponse
		err := trans.AppendEntries(raft.ServerID(follower.ID()), raft.ServerAddress(follower.Addr()), req, &resp)
		if err == nil && resp.Success {
			return nil
		}
		if got := follower.raft.LastIndex(); got != last {
			t.Errorf("the follower's log grew from %d to %d", last, got)
		}
		return fmt.Errorf("refused: %v", err)
	}

	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := attack(plain); err == nil {
		t.Fatal("a plain TCP client made a follower append")
	}

	ids := &addrIDs{}
	stream, err := newTLSStreamLayer("127.0.0.1:0", nil, tlsFor(t, otherClusterToken, leader.ID()), ids)
	if err != nil {
		t.Fatal(err)
	}
	foreign := raft.NewNetworkTransport(stream, 1, 2*time.Second, nil)
	defer foreign.Close()
	if err := attack(&idTransport{NetworkTransport: foreign, ids: ids}); err == nil {
		t.Fatal("an agent of another cluster made a follower append")
	}
}

// TestTLSDialChecksTheServerID: a server that answers at an address with
// another server's certificate is refused, so a Raft peer cannot be
// impersonated by whoever takes over its address.
func TestTLSDialChecksTheServerID(t *testing.T) {
	impostor := tlsFor(t, testClusterToken, "s9")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", impostor.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	ids := &addrIDs{}
	addr := raft.ServerAddress(ln.Addr().String())
	ids.set(addr, "s2")
	stream, err := newTLSStreamLayer("127.0.0.1:0", nil, tlsFor(t, testClusterToken, "s1"), ids)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if c, err := stream.Dial(addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatal("dialled s2 and accepted a server whose certificate names s9")
	}
	if _, err := stream.Dial(raft.ServerAddress(net.JoinHostPort("127.0.0.1", "1")), time.Second); err == nil {
		t.Fatal("dialled an address with no known server ID")
	}
}
