package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Config configures a Store. Start from DefaultConfig and set the identity and
// addresses; NewStore validates it first.
type Config struct {
	// ServerID is this server's Raft ID: the agent's node name.
	ServerID string
	// BindAddr is the host:port the Raft TCP transport listens on.
	BindAddr string
	// AdvertiseAddr is the host:port other servers dial; defaults to BindAddr,
	// which must then not be a wildcard address.
	AdvertiseAddr string
	// DataDir holds raft.db (log and stable store) and snapshots/.
	DataDir string
	// InMemory keeps log, stable store and snapshots in memory, for tests
	// and benchmarks that do not exercise restarts.
	InMemory bool
	// HeartbeatTimeout and ElectionTimeout are Raft's failure detector: a
	// follower that hears nothing from the leader for HeartbeatTimeout starts
	// an election. Lower means faster failover but more spurious elections on
	// a slow machine.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without contact
	// with a quorum.
	LeaderLeaseTimeout time.Duration
	// ApplyTimeout bounds how long an Apply waits to be enqueued.
	ApplyTimeout time.Duration
	// SnapshotThreshold is how many log entries accumulate before a snapshot.
	SnapshotThreshold uint64
	// SnapshotInterval is how often raft checks whether SnapshotThreshold
	// is reached (with up to as much again of jitter).
	SnapshotInterval time.Duration
	// TrailingLogs is how many log entries a snapshot leaves in the log
	// store behind it, so that a follower a little behind catches up from
	// the log rather than from a whole snapshot. Together with
	// SnapshotThreshold it bounds the log store: at most about their sum
	// of entries are kept.
	TrailingLogs uint64
	// WatchHistory is how many of the latest changes the State keeps for
	// watches to resume from, as kube-apiserver's watch cache does; a
	// watch from an older resourceVersion gets 410 Gone and re-lists.
	// Each change holds its object, so the history costs memory up to its
	// bound: with pods of a few KiB, about 110 MiB at the default on a
	// node that keeps creating and deleting pods.
	WatchHistory int
	// SnapshotsRetained is how many snapshots are kept on disk.
	SnapshotsRetained int
	// SecretsKey is the AES-256 key Secrets' data is sealed with in the
	// log and snapshots (pki.SecretsKey derives it from the cluster
	// token). Required, in memory too: every server of a cluster must
	// have the same to apply the others' log entries.
	SecretsKey []byte
	// TLS, when set, makes the transport mutual TLS (TransportTLS says
	// what it guarantees); nil is plain TCP, for tests on loopback.
	TLS *TransportTLS
	// Logger receives the store's and raft's logs.
	Logger *slog.Logger
}

// DefaultConfig returns the settings gossipod runs with. The timeouts are
// those of hashicorp/raft's LAN defaults halved: a LAN cluster of a few
// agents elects a new leader in one to two seconds, while a loaded 2-core
// machine still does not see spurious elections.
func DefaultConfig() Config {
	return Config{
		HeartbeatTimeout:   500 * time.Millisecond,
		ElectionTimeout:    500 * time.Millisecond,
		LeaderLeaseTimeout: 250 * time.Millisecond,
		ApplyTimeout:       10 * time.Second,
		SnapshotThreshold:  8192,
		SnapshotInterval:   120 * time.Second, // raft's default
		TrailingLogs:       10240,             // raft's default
		WatchHistory:       watchLogSize,
		SnapshotsRetained:  2,
		Logger:             slog.Default(),
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ServerID == "" {
		errs = append(errs, errors.New("consensus: ServerID is required"))
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("consensus: BindAddr %q: %w", c.BindAddr, err))
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("consensus: AdvertiseAddr %q: %w", c.AdvertiseAddr, err))
		}
	}
	if !c.InMemory && c.DataDir == "" {
		errs = append(errs, errors.New("consensus: DataDir is required unless InMemory"))
	}
	if c.SecretsKey == nil {
		errs = append(errs, errors.New("consensus: SecretsKey is required: Secrets are sealed with it in the log and snapshots"))
	} else if len(c.SecretsKey) != SecretsKeySize {
		errs = append(errs, fmt.Errorf("consensus: SecretsKey has %d bytes, want %d", len(c.SecretsKey), SecretsKeySize))
	}
	if c.TLS != nil && (c.TLS.Server == nil || c.TLS.Client == nil) {
		errs = append(errs, errNoTLS)
	}
	errs = append(errs, c.validateTimeouts()...)
	if c.WatchHistory < 1 {
		errs = append(errs, fmt.Errorf("consensus: WatchHistory %d must be at least 1", c.WatchHistory))
	}
	if c.SnapshotThreshold < 1 {
		errs = append(errs, errors.New("consensus: SnapshotThreshold must be at least 1"))
	}
	if c.SnapshotInterval < minRaftTimeout {
		errs = append(errs, fmt.Errorf("consensus: SnapshotInterval %s must be at least %s", c.SnapshotInterval, minRaftTimeout))
	}
	if !c.InMemory && c.SnapshotsRetained < 1 {
		errs = append(errs, fmt.Errorf("consensus: SnapshotsRetained %d must be at least 1", c.SnapshotsRetained))
	}
	if c.ApplyTimeout <= 0 {
		errs = append(errs, errors.New("consensus: ApplyTimeout must be positive"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("consensus: Logger is required"))
	}
	return errors.Join(errs...)
}

// minRaftTimeout is the smallest timeout raft.ValidateConfig accepts.
const minRaftTimeout = 5 * time.Millisecond

// validateTimeouts checks the timeouts against raft's own rules, so that a
// config Validate accepts is one raft.NewRaft accepts too, and each error
// names the field at fault. The relations between timeouts are checked only
// once each timeout is valid on its own.
func (c *Config) validateTimeouts() []error {
	var errs []error
	for _, f := range []struct {
		name  string
		value time.Duration
	}{
		{"HeartbeatTimeout", c.HeartbeatTimeout},
		{"ElectionTimeout", c.ElectionTimeout},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout},
	} {
		if f.value < minRaftTimeout {
			errs = append(errs, fmt.Errorf("consensus: %s %s is below raft's minimum of %s", f.name, f.value, minRaftTimeout))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("consensus: LeaderLeaseTimeout %s must not exceed HeartbeatTimeout %s", c.LeaderLeaseTimeout, c.HeartbeatTimeout))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("consensus: ElectionTimeout %s must not be below HeartbeatTimeout %s", c.ElectionTimeout, c.HeartbeatTimeout))
	}
	return errs
}
