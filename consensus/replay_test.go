package consensus

import (
	"encoding/json"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/gossipod/gossipod/api"
)

// sealedEntry is cmd sealed with key, as the leader of a cluster with that
// key appends it, as the log entry at index.
func sealedEntry(t *testing.T, key []byte, index uint64, cmd Command) *raft.Log {
	t.Helper()
	sl, err := newSealer(secretsKeyName, key)
	if err != nil {
		t.Fatal(err)
	}
	st := newState(sl)
	if cmd, err = st.sealCommand(cmd); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func TestReplayer(t *testing.T) {
	secret := testSecret("default", "s", api.SecretTypeOpaque, map[string]string{"k": "v"})
	entries := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("not a command")},
		logEntry(t, 2, registerCmd(t, testNode("node-1", "uid-n1", "10.0.0.1", "4", "3Gi"), t0)),
		{Index: 3, Term: 2, Type: raft.LogNoop},
		sealedEntry(t, testSecretsKey, 4, command(t, CmdCreateSecret, CreateSecret{Secret: secret}, t0)),
	}
	for _, tc := range []struct {
		name string
		key  []byte
		// wantSecret: the Secret command applies (the key opens it).
		wantSecret bool
	}{
		{"the cluster's key", testSecretsKey, true},
		{"no key", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReplayer(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			var errs int
			for _, l := range entries {
				if _, err := r.Apply(l); err != nil {
					errs++
				}
			}
			if _, ok := r.State().Node("node-1"); !ok {
				t.Error("node-1 not registered")
			}
			if got := r.State().Index(); got != 4 {
				t.Errorf("index %d, want 4 (raft's own entries skipped)", got)
			}
			if _, ok := r.State().secrets["default/s"]; ok != tc.wantSecret || (errs == 0) != tc.wantSecret {
				t.Errorf("secret stored %v with %d refusals, want stored %v", ok, errs, tc.wantSecret)
			}
			// What Snapshot encodes, Restore reads back, Secrets included.
			snap, err := r.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r2, err := NewReplayer(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if err := r2.Restore(snap); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if !jsonEqual(t, r.State().export(), r2.State().export()) {
				t.Error("the restored state differs from the snapshotted one")
			}
			if sec, ok := r2.State().secrets["default/s"]; ok != tc.wantSecret || ok && string(sec.Data["k"]) != "v" {
				t.Errorf("restored secret %v (present %v), want present %v with k=v", sec, ok, tc.wantSecret)
			}
		})
	}
	if _, err := NewReplayer([]byte("short")); err == nil {
		t.Error("NewReplayer with a 5-byte key: no error")
	}
}
