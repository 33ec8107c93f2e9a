package consensus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// TransportTLS makes the Raft transport mutual TLS: only servers holding a
// certificate of the cluster may connect, and a server dialled as ID x must
// prove it is x, so that no one on the network can append to a follower's
// log, install a snapshot or vote.
type TransportTLS struct {
	// Server configures the listener; it must require and verify client
	// certificates.
	Server *tls.Config
	// Client returns the configuration for dialling the server with the given
	// Raft ID; it must verify that the peer's certificate names that ID.
	Client func(serverID string) *tls.Config
}

// tlsStreamLayer is a raft.StreamLayer over TLS. raft's Dial gets only an
// address, so the server ID it is meant for comes from addrIDs, which the
// transport wrapper fills in before every RPC.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	cfg       *TransportTLS
	ids       *addrIDs
}

func newTLSStreamLayer(bind string, advertise net.Addr, cfg *TransportTLS, ids *addrIDs) (*tlsStreamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	return &tlsStreamLayer{Listener: tls.NewListener(ln, cfg.Server), advertise: advertise, cfg: cfg, ids: ids}, nil
}

// Addr is the address other servers dial.
func (l *tlsStreamLayer) Addr() net.Addr { return l.advertise }

// Dial connects to the server at address and completes the handshake, which
// checks that the server is the one the Raft configuration names there.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, ok := l.ids.get(address)
	if !ok {
		return nil, fmt.Errorf("dial raft server at %s: no server ID is known for this address", address)
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: l.cfg.Client(id)}
	conn, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, fmt.Errorf("dial raft server %s at %s: %w", id, address, err)
	}
	return conn, nil
}

// addrIDs remembers which server ID each Raft address was last used for.
type addrIDs struct {
	mu  sync.Mutex
	ids map[raft.ServerAddress]raft.ServerID
}

func (a *addrIDs) set(addr raft.ServerAddress, id raft.ServerID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ids == nil {
		a.ids = map[raft.ServerAddress]raft.ServerID{}
	}
	a.ids[addr] = id
}

func (a *addrIDs) get(addr raft.ServerAddress) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.ids[addr]
	return string(id), ok
}

// idTransport is raft's NetworkTransport, recording for each outgoing RPC
// which server ID its address belongs to, so that the TLS stream layer can
// check the peer's certificate against that ID.
type idTransport struct {
	*raft.NetworkTransport
	ids *addrIDs
}

// AppendEntriesPipeline implements raft.Transport.
func (t *idTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	t.ids.set(target, id)
	return t.NetworkTransport.AppendEntriesPipeline(id, target)
}

// AppendEntries implements raft.Transport.
func (t *idTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	t.ids.set(target, id)
	return t.NetworkTransport.AppendEntries(id, target, args, resp)
}

// RequestVote implements raft.Transport.
func (t *idTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	t.ids.set(target, id)
	return t.NetworkTransport.RequestVote(id, target, args, resp)
}

// RequestPreVote implements raft.WithPreVote.
func (t *idTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	t.ids.set(target, id)
	return t.NetworkTransport.RequestPreVote(id, target, args, resp)
}

// InstallSnapshot implements raft.Transport.
func (t *idTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	t.ids.set(target, id)
	return t.NetworkTransport.InstallSnapshot(id, target, args, resp, data)
}

// TimeoutNow implements raft.Transport.
func (t *idTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	t.ids.set(target, id)
	return t.NetworkTransport.TimeoutNow(id, target, args, resp)
}

// errNoTLS is returned for a TransportTLS missing one of its parts.
var errNoTLS = errors.New("consensus: TLS needs both a Server configuration and a Client function")
