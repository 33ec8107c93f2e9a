package consensus

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// configFields are the names Validate's errors may mention.
var configFields = []string{
	"ServerID", "BindAddr", "AdvertiseAddr", "DataDir", "HeartbeatTimeout", "ElectionTimeout",
	"LeaderLeaseTimeout", "ApplyTimeout", "SnapshotThreshold", "SnapshotInterval", "SnapshotsRetained", "WatchHistory", "Logger", "SecretsKey",
}

func validConfig() Config {
	c := DefaultConfig()
	c.ServerID = "node-1"
	c.BindAddr = "127.0.0.1:7947"
	c.DataDir = "/var/lib/gossipod/raft"
	c.SecretsKey = make([]byte, SecretsKeySize)
	return c
}

func TestConfigValidateAcceptsGoodConfigs(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
	}{
		{"defaults with identity and data dir", func(c *Config) {}},
		{"in memory without a data dir", func(c *Config) { c.InMemory = true; c.DataDir = "" }},
		{"wildcard bind with an advertise address", func(c *Config) {
			c.BindAddr = "0.0.0.0:7947"
			c.AdvertiseAddr = "10.0.0.1:7947"
		}},
		{"port 0", func(c *Config) { c.BindAddr = "127.0.0.1:0" }},
		{"IPv6", func(c *Config) { c.BindAddr = "[::1]:7947" }},
		{"equal timeouts", func(c *Config) {
			c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
		}},
		{"in memory keeps no snapshots on disk", func(c *Config) { c.InMemory = true; c.SnapshotsRetained = 0 }},
		{"snapshots often, no trailing logs", func(c *Config) { c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs = 1, time.Second, 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		fields []string // every field the error must name, and the only ones
	}{
		{"no server ID", func(c *Config) { c.ServerID = "" }, []string{"ServerID"}},
		{"no bind address", func(c *Config) { c.BindAddr = "" }, []string{"BindAddr"}},
		{"bind address without a port", func(c *Config) { c.BindAddr = "127.0.0.1" }, []string{"BindAddr"}},
		{"advertise address without a port", func(c *Config) { c.AdvertiseAddr = "10.0.0.1" }, []string{"AdvertiseAddr"}},
		{"no data dir on disk", func(c *Config) { c.DataDir = "" }, []string{"DataDir"}},
		{"no secrets key", func(c *Config) { c.SecretsKey = nil }, []string{"SecretsKey"}},
		{"no secrets key in memory", func(c *Config) { c.SecretsKey, c.InMemory = nil, true }, []string{"SecretsKey"}},
		{"secrets key of the wrong size", func(c *Config) { c.SecretsKey = make([]byte, 16) }, []string{"SecretsKey"}},
		{"zero heartbeat timeout", func(c *Config) { c.HeartbeatTimeout = 0 }, []string{"HeartbeatTimeout"}},
		{"negative election timeout", func(c *Config) { c.ElectionTimeout = -time.Second }, []string{"ElectionTimeout"}},
		{"zero leader lease", func(c *Config) { c.LeaderLeaseTimeout = 0 }, []string{"LeaderLeaseTimeout"}},
		{"heartbeat timeout below raft's minimum", func(c *Config) {
			c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Millisecond, time.Second, time.Millisecond
		}, []string{"HeartbeatTimeout", "LeaderLeaseTimeout"}},
		{"leader lease longer than heartbeat timeout", func(c *Config) { c.LeaderLeaseTimeout = time.Second },
			[]string{"LeaderLeaseTimeout", "HeartbeatTimeout"}},
		{"election timeout shorter than heartbeat timeout", func(c *Config) { c.ElectionTimeout = 300 * time.Millisecond },
			[]string{"ElectionTimeout", "HeartbeatTimeout"}},
		{"zero apply timeout", func(c *Config) { c.ApplyTimeout = 0 }, []string{"ApplyTimeout"}},
		{"no snapshots retained on disk", func(c *Config) { c.SnapshotsRetained = 0 }, []string{"SnapshotsRetained"}},
		{"zero snapshot threshold", func(c *Config) { c.SnapshotThreshold = 0 }, []string{"SnapshotThreshold"}},
		{"no watch history", func(c *Config) { c.WatchHistory = 0 }, []string{"WatchHistory"}},
		{"snapshot interval below raft's minimum", func(c *Config) { c.SnapshotInterval = time.Millisecond }, []string{"SnapshotInterval"}},
		{"no logger", func(c *Config) { c.Logger = nil }, []string{"Logger"}},
		{"several problems are reported together", func(c *Config) {
			c.ServerID, c.BindAddr, c.ApplyTimeout, c.Logger = "", "nope", 0, nil
		}, []string{"ServerID", "BindAddr", "ApplyTimeout", "Logger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			msg := err.Error()
			for _, f := range configFields {
				want := slices.Contains(tt.fields, f)
				if got := strings.Contains(msg, f); got != want {
					t.Errorf("error names %s: %v, want %v\nerror: %s", f, got, want, msg)
				}
			}
		})
	}
}

func TestConfigValidateZeroConfig(t *testing.T) {
	var c Config
	err := c.Validate()
	if err == nil {
		t.Fatal("the zero Config validated")
	}
	for _, f := range []string{"ServerID", "BindAddr", "DataDir", "HeartbeatTimeout", "ElectionTimeout", "LeaderLeaseTimeout", "ApplyTimeout", "Logger", "SecretsKey"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
}

func TestNewStoreRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // a word the error must contain
	}{
		{"invalid config", func(c *Config) { c.ServerID = "" }, "ServerID"},
		{"wildcard bind without an advertise address", func(c *Config) { c.BindAddr = "0.0.0.0:0" }, "0.0.0.0:0"},
		{"wildcard advertise address", func(c *Config) { c.AdvertiseAddr = "[::]:7947" }, "[::]:7947"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.BindAddr = "127.0.0.1:0"
			c.InMemory = true
			c.Logger = discardLogger()
			tt.modify(&c)
			s, err := NewStore(c)
			if err == nil {
				_ = s.Shutdown()
				t.Fatal("NewStore succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
