package consensus

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// discardLogger drops the store's and raft's logs; set GOSSIPOD_TEST_LOG=1
// to see them on stderr.
func discardLogger() *slog.Logger {
	if os.Getenv("GOSSIPOD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// t0 is the time the tests stamp on their first command; later commands add
// whole seconds, since api.Time keeps second precision.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// command builds an envelope as the leader would, stamped at time at.
func command(tb testing.TB, typ CommandType, payload any, at time.Time) Command {
	tb.Helper()
	cmd, err := NewCommand(typ, payload)
	if err != nil {
		tb.Fatalf("NewCommand(%s): %v", typ, err)
	}
	cmd.Time = at
	return cmd
}

// logEntry encodes cmd as the Raft log entry at index, exactly as
// Store.Apply does.
func logEntry(tb testing.TB, index uint64, cmd Command) *raft.Log {
	tb.Helper()
	data, err := json.Marshal(cmd)
	if err != nil {
		tb.Fatalf("encode command: %v", err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

// applyEntry runs one command through the FSM the way raft does and returns
// the command's error.
func applyEntry(tb testing.TB, f *fsm, index uint64, cmd Command) error {
	tb.Helper()
	res, ok := f.Apply(logEntry(tb, index, cmd)).(applyResult)
	if !ok {
		tb.Fatalf("fsm.Apply returned %T, want applyResult", res)
	}
	return res.err
}

// testNode is a node as its agent reports it in RegisterNode.
func testNode(name, uid, ip, cpu, mem string) api.Node {
	return api.Node{
		ObjectMeta: api.ObjectMeta{
			Name:   name,
			UID:    types.UID(uid),
			Labels: map[string]string{api.LabelHostname: name, api.LabelOS: "linux"},
		},
		Status: api.NodeStatus{
			Capacity: api.ResourceList{
				api.ResourceCPU:    resource.MustParse(cpu),
				api.ResourceMemory: resource.MustParse(mem),
				api.ResourcePods:   resource.MustParse("110"),
			},
			Allocatable: api.ResourceList{
				api.ResourceCPU:    resource.MustParse(cpu),
				api.ResourceMemory: resource.MustParse(mem),
				api.ResourcePods:   resource.MustParse("110"),
			},
			Addresses: []api.NodeAddress{
				{Type: api.NodeInternalIP, Address: ip},
				{Type: api.NodeHostName, Address: name},
			},
			NodeInfo: api.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
}

func registerCmd(tb testing.TB, n api.Node, at time.Time) Command {
	return command(tb, CmdRegisterNode, RegisterNode{Node: n}, at)
}

func readyCmd(tb testing.TB, at time.Time, status api.ConditionStatus, nodes ...string) Command {
	var p SetNodeConditions
	for _, n := range nodes {
		p.Updates = append(p.Updates, NodeConditionUpdate{
			Node:      n,
			Condition: api.NodeCondition{Type: api.NodeReady, Status: status, Reason: "Test"},
		})
	}
	return command(tb, CmdSetNodeConditions, p, at)
}

// mustJSON is v's JSON encoding: the form in which nodes are compared, since
// resource.Quantity and api.Time carry internal state (cached strings,
// locations) that reflect.DeepEqual would trip over.
func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal %T: %v", v, err)
	}
	return b
}

func jsonEqual(tb testing.TB, a, b any) bool {
	tb.Helper()
	return bytes.Equal(mustJSON(tb, a), mustJSON(tb, b))
}
