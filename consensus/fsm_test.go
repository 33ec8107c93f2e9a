package consensus

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gossipod/gossipod/api"
)

// bufferSink is a raft.SnapshotSink that keeps the snapshot in memory and
// records how it was finished.
type bufferSink struct {
	bytes.Buffer
	closed, cancelled bool
	failWrite         bool
}

func (s *bufferSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *bufferSink) ID() string    { return "test-snapshot" }
func (s *bufferSink) Close() error  { s.closed = true; return nil }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }

var _ raft.SnapshotSink = (*bufferSink)(nil)

// snapshotOf runs Snapshot and Persist on f and returns the bytes written.
func snapshotOf(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v, want closed and not cancelled", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func TestSnapshotRestore(t *testing.T) {
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"empty state", nil},
		{"one node", []step{{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), at(0))}}},
		{"nodes with conditions, a deletion and a rejected entry", []step{
			{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), at(0))},
			{cmd: registerCmd(t, testNode("b", "uid-b", "10.0.0.2", "2", "4Gi"), at(1))},
			{cmd: registerCmd(t, testNode("c", "uid-c", "10.0.0.3", "500m", "512Mi"), at(2))},
			{cmd: readyCmd(t, at(3), api.ConditionTrue, "a", "b", "c")},
			{cmd: readyCmd(t, at(7), api.ConditionFalse, "b")},
			{cmd: command(t, CmdDeleteNode, DeleteNode{Name: "c"}, at(8))},
			{cmd: command(t, CmdDeleteNode, DeleteNode{Name: "zz"}, at(9)), wantErr: true, wantCode: 404},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fsm{state: applySteps(t, tt.steps)}
			data := snapshotOf(t, src)

			// Restore into a fresh FSM, and into one that already holds
			// other state, which the snapshot must replace entirely.
			stale := &fsm{state: NewState()}
			if err := applyEntry(t, stale, 1, registerCmd(t, testNode("stale", "uid-s", "10.9.9.9", "1", "1Gi"), t0)); err != nil {
				t.Fatal(err)
			}
			for name, dst := range map[string]*fsm{"fresh": {state: NewState()}, "stale": stale} {
				changed := dst.state.Changed()
				if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
					t.Fatalf("%s: Restore: %v", name, err)
				}
				if !isClosed(changed) {
					t.Errorf("%s: Changed() not closed by Restore", name)
				}
				wantNodes, wantIndex := src.state.Nodes()
				gotNodes, gotIndex := dst.state.Nodes()
				if gotIndex != wantIndex {
					t.Errorf("%s: index = %d, want %d", name, gotIndex, wantIndex)
				}
				if !jsonEqual(t, gotNodes, wantNodes) {
					t.Errorf("%s: nodes differ after restore:\nwant %s\ngot  %s", name, mustJSON(t, wantNodes), mustJSON(t, gotNodes))
				}
				// The restored State goes on applying like the original.
				next := readyCmd(t, at(20), api.ConditionTrue, "b")
				errSrc := applyEntry(t, &fsm{state: cloneState(t, src.state)}, wantIndex+1, next)
				errDst := applyEntry(t, dst, wantIndex+1, next)
				if (errSrc == nil) != (errDst == nil) {
					t.Errorf("%s: next apply err = %v on the restored state, %v on the original", name, errDst, errSrc)
				}
			}
		})
	}
}

// cloneState copies s through a snapshot.
func cloneState(t *testing.T, s *State) *State {
	t.Helper()
	f := &fsm{state: NewState()}
	if err := f.Restore(io.NopCloser(bytes.NewReader(snapshotOf(t, &fsm{state: s})))); err != nil {
		t.Fatal(err)
	}
	return f.state
}

func TestSnapshotIsAPointInTimeCopy(t *testing.T) {
	f := &fsm{state: applySteps(t, []step{
		{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), t0)},
	})}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// raft keeps applying between Snapshot and Persist.
	if err := applyEntry(t, f, 2, registerCmd(t, testNode("b", "uid-b", "10.0.0.2", "1", "1Gi"), t0)); err != nil {
		t.Fatal(err)
	}
	if err := applyEntry(t, f, 3, readyCmd(t, t0, api.ConditionTrue, "a")); err != nil {
		t.Fatal(err)
	}
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	dst := &fsm{state: NewState()}
	if err := dst.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	nodes, index := dst.state.Nodes()
	if index != 1 || len(nodes) != 1 || nodes[0].Name != "a" || len(nodes[0].Status.Conditions) != 0 {
		t.Errorf("restored index %d, nodes %s; want index 1 with node a as it was at Snapshot", index, mustJSON(t, nodes))
	}
}

func TestPersistFailureCancelsSink(t *testing.T) {
	f := &fsm{state: applySteps(t, []step{
		{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), t0)},
	})}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufferSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("sink cancelled=%v closed=%v, want cancelled and not closed", sink.cancelled, sink.closed)
	}
}

func TestRestoreRejectsCorruptSnapshot(t *testing.T) {
	f := &fsm{state: applySteps(t, []step{
		{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), t0)},
	})}
	before := mustJSON(t, f.state.export())
	for _, data := range []string{"", "{", `{"index": "one"}`, "\x00\x01"} {
		if err := f.Restore(io.NopCloser(bytes.NewReader([]byte(data)))); err == nil {
			t.Errorf("Restore(%q) succeeded, want an error", data)
		}
		if got := mustJSON(t, f.state.export()); !bytes.Equal(got, before) {
			t.Errorf("Restore(%q) failed but changed the state to %s", data, got)
		}
	}
}

// TestApplyUndecodableEntryAdvancesIndex: an entry that is not a command
// is refused with an error, changes nothing, and still moves the State's
// index and wakes its waiters, as a refused command does; otherwise
// Store.WaitApplied, waiting for the State to reach the last command
// entry, would wait on it until its caller gave up.
func TestApplyUndecodableEntryAdvancesIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"not JSON", "not json"},
		{"a list", `[1,2]`},
		{"a payload of the wrong type", `{"type":"RegisterNode","payload":[]}`},
		{"an unknown type", `{"type":"Nope","payload":null}`},
		{"a bad time", `{"type":"DeleteNode","time":"yesterday","payload":{"name":"a"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fsm{state: NewState()}
			mustApply(t, f, 1, registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), t0))
			before := stateJSON(t, f.state)
			changed := f.state.Changed()
			res, ok := f.Apply(&raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte(tc.data)}).(applyResult)
			if !ok || res.err == nil {
				t.Fatalf("Apply(%q) = %+v, want an applyResult with an error", tc.data, res)
			}
			if got := f.state.Index(); got != 2 {
				t.Errorf("index %d after the entry at 2", got)
			}
			select {
			case <-changed:
			default:
				t.Error("Changed was not signalled")
			}
			after := stateJSON(t, f.state)
			// Only the index may differ.
			if !bytes.Equal(bytes.Replace(before, []byte(`"index":1,`), []byte(`"index":2,`), 1), after) {
				t.Errorf("state changed:\n%s\n%s", before, after)
			}
		})
	}
}
