package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/e2e/chaos"
	"github.com/gossipod/gossipod/pki"
)

// writeRun saves a run directory as TestChaos does: three hosts' raft/
// directories holding logs (the third's entry 2 replaced by one of the
// same term when diverge), the token, history.jsonl and final.json.
func writeRun(t *testing.T, diverge bool, final map[string]chaos.FinalObject) string {
	t.Helper()
	dir := t.TempDir()
	token, err := pki.GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		raftDir := filepath.Join(dir, h, "raft")
		if err := os.MkdirAll(raftDir, 0o700); err != nil {
			t.Fatal(err)
		}
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"chaos", "other"} {
			if diverge && h == "h3" && i == 1 {
				name = "diverged"
			}
			cmd, err := consensus.NewCommand(consensus.CmdDeleteNode, consensus.DeleteNode{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(cmd)
			if err := store.StoreLog(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		store.Close()
	}
	op := chaos.Op{Verb: "create", Resource: "pods", Namespace: "chaos", Name: "p", Value: "v1",
		Start: time.Unix(100, 0), End: time.Unix(101, 0), Outcome: chaos.OK}
	line, _ := json.Marshal(op)
	if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), append(line, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(final)
	if err := os.WriteFile(filepath.Join(dir, "final.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRun(t *testing.T) {
	present := map[string]chaos.FinalObject{"pods/chaos/p": {Exists: true, Value: "v1"}}
	for _, tc := range []struct {
		name    string
		diverge bool
		final   map[string]chaos.FinalObject
		want    int
	}{
		{name: "clean", final: present},
		{name: "diverging logs", diverge: true, final: present, want: 2}, // h1-h3 and h2-h3
		{name: "lost write", final: map[string]chaos.FinalObject{}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRun(t, tc.diverge, tc.final)
			n, err := run([]string{dir}, "", 0, time.Minute)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if n != tc.want {
				t.Errorf("%d violations, want %d", n, tc.want)
			}
		})
	}
	if _, err := run([]string{t.TempDir()}, "", 0, time.Minute); err == nil || !strings.Contains(err.Error(), "no raft.db") {
		t.Errorf("an empty dir: error %v, want no raft.db", err)
	}
}
