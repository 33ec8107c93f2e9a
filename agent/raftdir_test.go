package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/runtime"
)

// With --raft-dir the Raft log and snapshots live there, and nothing of
// Raft's under the data dir; a --raft-dir that cannot be created stops the
// agent with a message naming the flag.
func TestRaftDirHoldsTheLog(t *testing.T) {
	raftDir := filepath.Join(t.TempDir(), "other-disk", "raft")
	var dataDir string
	agents, stop := startAgentsWith(t, nextBlock(), 1, 1, func(_ int, cfg *Config) {
		cfg.RaftDir = raftDir
		dataDir = cfg.DataDir
	})
	waitForLeader(t, agents, 30*time.Second)
	stop()
	if _, err := os.Stat(filepath.Join(raftDir, "raft.db")); err != nil {
		t.Errorf("no Raft log in --raft-dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "raft")); !os.IsNotExist(err) {
		t.Errorf("%s/raft exists beside --raft-dir (%v)", dataDir, err)
	}

	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "n1", "127.0.0.1", t.TempDir(), 1)
	cfg.RaftDir = filepath.Join(file, "raft")
	_, err := New(cfg, runtime.MachineInfo{OS: "linux", Arch: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "--raft-dir "+cfg.RaftDir) {
		t.Fatalf("New with an uncreatable --raft-dir: %v, want an error naming --raft-dir", err)
	}
}
