package consensus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// MemStore is the replicated state machine without Raft: each Commit is
// applied at the next log index by the code every replica runs, the
// command encoded and decoded as a log entry is, so what a MemStore
// refuses a cluster refuses too. It has no durability, no followers and
// no leader to lose; the controllers' and the API's tests run the real
// code over it instead of a hand-written fake.
type MemStore struct {
	// Now stamps each command's time, as the leader does; time.Now when
	// nil. Tests set it to make the state's timestamps predictable.
	Now func() time.Time

	mu    sync.Mutex // orders commits: one log
	state *State
	index uint64
}

// NewMemStore returns a MemStore with an empty state.
func NewMemStore() *MemStore {
	return &MemStore{state: NewState()}
}

// State is the state every committed command was applied to.
func (m *MemStore) State() *State { return m.state }

// Commit applies cmd at the next index and returns its Result, or the
// state machine's refusal. It is safe for concurrent use; commands apply
// one at a time in the order their callers take the lock.
func (m *MemStore) Commit(ctx context.Context, cmd Command) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	cmd.Time = now().UTC()
	cmd, err := m.state.sealCommand(cmd)
	if err != nil {
		return Result{}, err
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("encode %s command: %w", cmd.Type, err)
	}
	m.index++
	res, _ := (&fsm{state: m.state}).Apply(&raft.Log{Index: m.index, Data: data}).(applyResult)
	return resultOf(cmd, m.index, res.resp, res.err)
}

// ReadIndex is the index of the last command committed: a MemStore is its
// own leader, so every read is consistent at once. With WaitApplied it
// makes a MemStore an apiserver.Backend.
func (m *MemStore) ReadIndex(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.index, nil
}

// WaitApplied returns at once: a MemStore applies each command as it
// commits it.
func (m *MemStore) WaitApplied(context.Context, uint64) error { return nil }

// CommitPayload commits a command of type t with payload p.
func (m *MemStore) CommitPayload(ctx context.Context, t CommandType, p any) (Result, error) {
	cmd, err := NewCommand(t, p)
	if err != nil {
		return Result{}, err
	}
	return m.Commit(ctx, cmd)
}
