package consensus

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// Replayer runs a saved Raft log through the FSM outside of raft: from an
// empty State or from a snapshot, one committed entry at a time, with the
// very code every replica applies. The fault-run checker (e2e/chaos) uses it
// to rebuild every state the cluster went through and check the invariants
// after each entry, which the live agents, holding only their latest state,
// cannot show. A Replayer is not safe for concurrent use.
type Replayer struct {
	f *fsm
}

// NewReplayer returns a Replayer over an empty State. secretsKey is the
// cluster's (pki.SecretsKey of its token): without it (nil) the Secret
// commands of the log are refused as undecryptable, as on an agent with
// the wrong token, and a snapshot holding Secrets cannot be restored.
func NewReplayer(secretsKey []byte) (*Replayer, error) {
	sl := randomSealer()
	if secretsKey != nil {
		var err error
		if sl, err = newSealer(secretsKeyName, secretsKey); err != nil {
			return nil, fmt.Errorf("replay: secrets key: %w", err)
		}
	}
	return &Replayer{f: &fsm{state: newState(sl)}}, nil
}

// Restore replaces the State with a snapshot's contents (the state.bin of
// a raft file snapshot), as a replica restoring it does.
func (r *Replayer) Restore(snapshot []byte) error {
	return r.f.Restore(io.NopCloser(bytes.NewReader(snapshot)))
}

// Apply applies one log entry as raft hands it to the FSM and returns the
// command's response and error (a refusal, e.g. a binding the FSM
// rejected, is not an error of the replay). Entries that are not commands
// (raft's no-ops, configurations, barriers) never reach the FSM: Apply
// skips them and returns nil, nil.
func (r *Replayer) Apply(l *raft.Log) (resp any, err error) {
	if l.Type != raft.LogCommand {
		return nil, nil
	}
	res, _ := r.f.Apply(l).(applyResult)
	return res.resp, res.err
}

// State is the State the entries were applied to; read it between Apply
// calls.
func (r *Replayer) State() *State { return r.f.state }

// Snapshot encodes the State as raft's file snapshot holds it (state.bin),
// exactly as a replica persists it: what Restore reads back. Tests use it
// to build compacted logs.
func (r *Replayer) Snapshot() ([]byte, error) {
	snap, err := r.f.Snapshot()
	if err != nil {
		return nil, err
	}
	sink := &memorySink{}
	if err := snap.Persist(sink); err != nil {
		return nil, err
	}
	return sink.Bytes(), nil
}

// memorySink is a raft.SnapshotSink into memory.
type memorySink struct {
	bytes.Buffer
}

func (*memorySink) ID() string    { return "replay" }
func (*memorySink) Cancel() error { return nil }
func (*memorySink) Close() error  { return nil }
