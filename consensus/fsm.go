package consensus

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// fsm is the thin adapter between raft and the State: it decodes each log
// entry and hands it to State.apply. raft calls Apply, Snapshot and Restore
// from one goroutine, never concurrently; Apply must be deterministic.
type fsm struct {
	state *State
}

// applyResult is what fsm.Apply returns through raft's ApplyFuture.
type applyResult struct {
	resp any
	err  error
}

// Apply applies one committed entry. A malformed entry is reported as the
// command's error rather than panicking, so one bad entry cannot stop every
// replica, and it still advances the State's index, so that reads waiting
// for the log position do not wait on it.
func (f *fsm) Apply(l *raft.Log) any {
	var cmd Command
	if err := json.Unmarshal(l.Data, &cmd); err != nil {
		f.state.skip(l.Index)
		return applyResult{err: fmt.Errorf("decode log entry %d: %w", l.Index, err)}
	}
	resp, err := f.state.apply(l.Index, cmd)
	return applyResult{resp: resp, err: err}
}

// Snapshot captures a copy of the State; Persist writes it later, outside
// the apply path.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{data: f.state.export(), sealer: f.state.sealer}, nil
}

// Restore replaces the State with a snapshot.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var d snapshotData
	if err := json.NewDecoder(rc).Decode(&d); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	secrets, err := f.state.sealer.openSecrets(d.Secrets)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	d.secrets = secrets
	f.state.restore(d)
	return nil
}

type fsmSnapshot struct {
	data   snapshotData
	sealer *sealer
}

// Persist writes the snapshot as JSON, Secrets' data sealed.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	sealed, err := s.sealer.sealSecrets(s.data.secrets)
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	s.data.Secrets = sealed
	if err := json.NewEncoder(sink).Encode(s.data); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds only its own copy.
func (s *fsmSnapshot) Release() {}
