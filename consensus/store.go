package consensus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/gossipod/gossipod/internal/logbridge"
)

// Suffrage says whether a server votes.
type Suffrage string

// The two kinds of Raft server gossipod uses.
const (
	Voter    Suffrage = "voter"
	Nonvoter Suffrage = "nonvoter"
)

// Server is one entry of the Raft configuration.
type Server struct {
	ID       string   `json:"id"`
	Address  string   `json:"address"`
	Suffrage Suffrage `json:"suffrage"`
}

// Store is a Raft server with gossipod's FSM. All methods are safe for
// concurrent use.
type Store struct {
	cfg       Config
	raft      *raft.Raft
	state     *State
	transport *raft.NetworkTransport
	boltStore *raftboltdb.BoltStore // nil when InMemory
	// logs is the Raft log, read by WaitApplied.
	logs raft.LogStore
	// shutDown is set by Shutdown before raft's own: raft's state can still
	// read Follower or Candidate for a moment after its Shutdown (its run
	// loop may change it while stopping), and a write must then fail as
	// ErrShutdown, not only as ErrNotLeader.
	shutDown atomic.Bool
}

// NewStore validates cfg, opens (or creates) the Raft data under DataDir and
// starts the Raft server. The server does nothing until it is bootstrapped or
// added to a cluster by a leader. On error, everything opened is closed again.
func NewStore(cfg Config) (_ *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sealer, err := newSealer(secretsKeyName, cfg.SecretsKey)
	if err != nil {
		return nil, fmt.Errorf("consensus: SecretsKey: %w", err)
	}
	s := &Store{cfg: cfg, state: newState(sealer)}
	s.state.watch = newWatchLog(cfg.WatchHistory)

	advertise := cfg.AdvertiseAddr
	if advertise == "" {
		advertise = cfg.BindAddr
	}
	advAddr, err := net.ResolveTCPAddr("tcp", advertise)
	if err != nil {
		return nil, fmt.Errorf("resolve raft advertise address %q: %w", advertise, err)
	}
	if advAddr.IP.IsUnspecified() {
		return nil, fmt.Errorf("raft advertise address %q is unspecified: set an address other agents can reach", advertise)
	}
	// Without an AdvertiseAddr the transport advertises its listener's own
	// address: the same host as BindAddr, but the port actually bound when
	// BindAddr asks for port 0. (Passing advAddr would advertise port 0.)
	var advertiseAddr net.Addr
	if cfg.AdvertiseAddr != "" {
		advertiseAddr = advAddr
	}
	rlog := logbridge.HCLogger("raft", cfg.Logger)
	var trans raft.Transport
	if cfg.TLS != nil {
		ids := &addrIDs{}
		stream, err := newTLSStreamLayer(cfg.BindAddr, advertiseAddr, cfg.TLS, ids)
		if err != nil {
			return nil, fmt.Errorf("listen for raft on %s: %w", cfg.BindAddr, err)
		}
		s.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: rlog,
		})
		trans = &idTransport{NetworkTransport: s.transport, ids: ids}
	} else {
		s.transport, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, advertiseAddr, 3, 10*time.Second, rlog)
		if err != nil {
			return nil, fmt.Errorf("listen for raft on %s: %w", cfg.BindAddr, err)
		}
		trans = s.transport
	}
	defer func() {
		if err != nil {
			s.transport.Close()
		}
	}()

	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		logs, stable, snaps = mem, mem, raft.NewInmemSnapshotStore()
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create raft data dir: %w", err)
		}
		s.boltStore, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
		if err != nil {
			return nil, fmt.Errorf("open raft log %s: %w", filepath.Join(cfg.DataDir, "raft.db"), err)
		}
		defer func() {
			if err != nil {
				s.boltStore.Close()
			}
		}()
		logs, stable = s.boltStore, s.boltStore
		snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotsRetained, rlog)
		if err != nil {
			return nil, fmt.Errorf("open raft snapshots in %s: %w", cfg.DataDir, err)
		}
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ServerID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.Logger = rlog
	s.logs = logs
	s.raft, err = raft.NewRaft(rc, &fsm{state: s.state}, logs, stable, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	return s, nil
}

// State is the replicated state as applied on this server.
func (s *Store) State() *State { return s.state }

// ID is this server's Raft ID.
func (s *Store) ID() string { return s.cfg.ServerID }

// Addr is the address other servers reach this one at.
func (s *Store) Addr() string { return string(s.transport.LocalAddr()) }

// HasState reports whether this server already belongs to a cluster (it was
// bootstrapped or has received a configuration from a leader). A server with
// state must never be bootstrapped again.
func (s *Store) HasState() bool {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return false
	}
	return len(future.Configuration().Servers) > 0
}

// Bootstrap starts a new cluster whose configuration is servers, all voters.
// Every server of the initial set may call it with the same list, which is
// what makes bootstrap from gossip safe.
func (s *Store) Bootstrap(servers []Server) error {
	var conf raft.Configuration
	for _, srv := range servers {
		conf.Servers = append(conf.Servers, raft.Server{
			ID: raft.ServerID(srv.ID), Address: raft.ServerAddress(srv.Address), Suffrage: raft.Voter,
		})
	}
	err := s.raft.BootstrapCluster(conf).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		return ErrAlreadyBootstrapped
	}
	if err != nil {
		return fmt.Errorf("bootstrap raft cluster: %w", err)
	}
	return nil
}

// IsLeader reports whether this server is the leader now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the ID and address of the leader this server knows of, or
// empty strings.
func (s *Store) Leader() (id, addr string) {
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderCh delivers true when this server becomes leader and false when it
// stops being leader. raft drops a value when the reader is slow, so readers
// should re-check IsLeader.
func (s *Store) LeaderCh() <-chan bool { return s.raft.LeaderCh() }

// RaftState is this server's Raft role: Follower, Candidate, Leader or Shutdown.
func (s *Store) RaftState() string { return s.raft.State().String() }

// Stats returns raft's own statistics (term, indexes, last contact…).
func (s *Store) Stats() map[string]string { return s.raft.Stats() }

// Apply commits cmd through Raft and returns the index it was applied at. It
// stamps the command's time, so it must be called on the leader; elsewhere
// it returns ErrNotLeader (once the store is shut down, an error that is both
// ErrShutdown and ErrNotLeader). A context that is already done is refused
// before anything is appended; its deadline also bounds the wait to enqueue.
// The error of a command the FSM rejected is returned as is (often an
// *api.Status).
func (s *Store) Apply(ctx context.Context, cmd Command) (uint64, error) {
	res, err := s.Commit(ctx, cmd)
	return res.Index, err
}

// Result is what a committed command gave back: the index it was applied
// at and its response (e.g. the stored object), encoded as JSON so it can
// travel to a follower that forwarded the write.
type Result struct {
	Index    uint64          `json:"index"`
	Response json.RawMessage `json:"response,omitempty"`
}

// Commit is Apply returning the command's response as well.
func (s *Store) Commit(ctx context.Context, cmd Command) (Result, error) {
	index, resp, err := s.commit(ctx, cmd)
	return resultOf(cmd, index, resp, err)
}

// resultOf makes the Result of a command applied at index with response
// resp and error err, the response encoded as JSON.
func resultOf(cmd Command, index uint64, resp any, err error) (Result, error) {
	if err != nil || resp == nil {
		return Result{Index: index}, err
	}
	raw, merr := json.Marshal(resp)
	if merr != nil {
		return Result{Index: index}, fmt.Errorf("encode %s response: %w", cmd.Type, merr)
	}
	return Result{Index: index, Response: raw}, nil
}

func (s *Store) commit(ctx context.Context, cmd Command) (uint64, any, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	switch state := s.raft.State(); {
	case s.shutDown.Load() || state == raft.Shutdown:
		// Still ErrNotLeader too, so a forwarding caller retries elsewhere.
		return 0, nil, fmt.Errorf("%w (%w)", ErrShutdown, ErrNotLeader)
	case state != raft.Leader:
		return 0, nil, ErrNotLeader
	}
	cmd.Time = time.Now().UTC()
	cmd, err := s.state.sealCommand(cmd)
	if err != nil {
		return 0, nil, err
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return 0, nil, fmt.Errorf("encode %s command: %w", cmd.Type, err)
	}
	timeout := s.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		// raft takes a timeout <= 0 as "wait forever", never as "expired".
		if timeout = time.Until(dl); timeout <= 0 {
			return 0, nil, context.DeadlineExceeded
		}
	}
	future := s.raft.Apply(data, timeout)
	if err := future.Error(); err != nil {
		return 0, nil, mapRaftError(err)
	}
	res, _ := future.Response().(applyResult)
	return future.Index(), res.resp, res.err
}

// ReadIndex returns the commit index after confirming with a quorum that
// this server still leads (Raft's read-index): a follower whose applied
// index reaches it has seen every write acknowledged before the call.
func (s *Store) ReadIndex() (uint64, error) {
	index := s.raft.CommitIndex()
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return 0, mapRaftError(err)
	}
	return index, nil
}

// AppliedIndex is the index of the last log entry raft applied on this
// server, FSM commands and raft's own entries (no-ops, configuration
// changes) alike: what to compare with a ReadIndex.
func (s *Store) AppliedIndex() uint64 { return s.raft.AppliedIndex() }

// WaitApplied blocks until the State reflects every log entry up to index,
// or ctx ends. Raft's applied index alone is not enough: raft counts an
// entry applied when it hands it to the FSM's goroutine, before the FSM has
// run it, so a State read just after AppliedIndex reached index may still
// lack the last commands (a restarted agent would then stop pods that are
// bound to it). The State's own index cannot be compared with index either:
// raft's no-op and configuration entries never reach it. So WaitApplied
// waits for raft, then for the State to reach the last command entry at or
// before index.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.raft.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	target := s.lastCommandAtOrBefore(index)
	for {
		changed := s.state.Changed()
		if s.state.Index() >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}

// maxLogScan bounds lastCommandAtOrBefore's walk back over raft's own
// entries (a few per election or membership change).
const maxLogScan = 1024

// lastCommandAtOrBefore is the index of the last FSM command in the log at
// or before index; 0 when there is none in the log (raft's own entries
// only, or everything compacted into the snapshot the State was restored
// from).
func (s *Store) lastCommandAtOrBefore(index uint64) uint64 {
	first, err := s.logs.FirstIndex()
	if err != nil {
		return 0
	}
	var l raft.Log
	for i := index; i >= first && i > 0 && index-i < maxLogScan; i-- {
		if err := s.logs.GetLog(i, &l); err != nil {
			return 0
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return 0
}

// Barrier waits until every entry committed before it is applied locally;
// a new leader calls it before acting on its State.
func (s *Store) Barrier(timeout time.Duration) error {
	return mapRaftError(s.raft.Barrier(timeout).Error())
}

// Servers returns the latest Raft configuration this server knows, sorted by ID.
func (s *Store) Servers() ([]Server, error) {
	future := s.raft.GetConfiguration()
	if err := future.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", mapRaftError(err))
	}
	var out []Server
	for _, srv := range future.Configuration().Servers {
		suf := Nonvoter
		if srv.Suffrage == raft.Voter {
			suf = Voter
		}
		out = append(out, Server{ID: string(srv.ID), Address: string(srv.Address), Suffrage: suf})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// AddVoter adds a server as a voter, or promotes an existing non-voter.
func (s *Store) AddVoter(id, addr string) error {
	err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, s.cfg.ApplyTimeout).Error()
	if err != nil {
		return fmt.Errorf("add voter %s (%s): %w", id, addr, mapRaftError(err))
	}
	return nil
}

// AddNonvoter adds a server that replicates the log but does not vote.
func (s *Store) AddNonvoter(id, addr string) error {
	err := s.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, s.cfg.ApplyTimeout).Error()
	if err != nil {
		return fmt.Errorf("add non-voter %s (%s): %w", id, addr, mapRaftError(err))
	}
	return nil
}

// RemoveServer removes a server from the configuration.
func (s *Store) RemoveServer(id string) error {
	err := s.raft.RemoveServer(raft.ServerID(id), 0, s.cfg.ApplyTimeout).Error()
	if err != nil {
		return fmt.Errorf("remove server %s: %w", id, mapRaftError(err))
	}
	return nil
}

// TransferLeadership hands leadership to another voter and waits for it; a
// leader calls it before a clean shutdown so the cluster does not wait for
// an election timeout.
func (s *Store) TransferLeadership() error {
	if err := s.raft.LeadershipTransfer().Error(); err != nil {
		return fmt.Errorf("transfer leadership: %w", mapRaftError(err))
	}
	return nil
}

// Shutdown stops the Raft server and closes its stores. It does not leave
// the cluster: the server stays in the configuration and can come back with
// its data.
func (s *Store) Shutdown() error {
	s.shutDown.Store(true)
	err := s.raft.Shutdown().Error()
	if s.boltStore != nil {
		if cerr := s.boltStore.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("shut down raft: %w", err)
	}
	return nil
}

// mapRaftError turns raft's errors into this package's sentinels.
func mapRaftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	default:
		return err
	}
}
