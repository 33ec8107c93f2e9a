package network

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultConfigNeedsOnlyRoot(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "Root") {
		t.Fatalf("default config without Root: %v, want an error naming Root", err)
	}
	cfg.Root = "/var/lib/gossipod/network"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	cfg := Config{
		Root:        "relative",
		PluginDirs:  []string{"lib/cni"},
		BridgeName:  "a-name-much-too-long",
		MTU:         20,
		ClusterCIDR: "10.88.0.1/16",
		AgentPorts:  AgentPorts{Gossip: 0, Raft: 70000, API: 7948},
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
	}
	for _, field := range []string{"Root", "PluginDirs", "BridgeName", "MTU", "ClusterCIDR", "did you mean 10.88.0.0/16", "AgentPorts.Gossip", "AgentPorts.Raft"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not mention %s:\n%v", field, err)
		}
	}
	for _, c := range []string{"", "fd00::/8", "10.88.0.0/31", "nonsense"} {
		cfg := DefaultConfig()
		cfg.Root, cfg.ClusterCIDR = "/x", c
		if err := cfg.Validate(); err == nil {
			t.Errorf("ClusterCIDR %q accepted", c)
		}
	}
}
