package consensus

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gossipod/gossipod/api"
)

// CommandType names what a Command does to the State.
type CommandType string

// The commands the FSM applies. Each payload type below documents its own.
const (
	CmdRegisterNode      CommandType = "RegisterNode"
	CmdSetNodeConditions CommandType = "SetNodeConditions"
	CmdDeleteNode        CommandType = "DeleteNode"
)

// Command is the one envelope every change to the State travels in, through
// the Raft log and between agents when a follower forwards a write to the
// leader. Time is stamped once by the leader before the entry is appended, so
// every replica applies the same timestamps and Apply stays deterministic.
type Command struct {
	Type    CommandType     `json:"type"`
	Time    time.Time       `json:"time"`
	Payload json.RawMessage `json:"payload"`
}

// NewCommand wraps payload in an envelope of type t.
func NewCommand(t CommandType, payload any) (Command, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return Command{}, fmt.Errorf("encode %s command: %w", t, err)
	}
	return Command{Type: t, Payload: raw}, nil
}

// RegisterNode creates a node or updates what its agent reports about itself:
// labels, addresses, capacity, allocatable and system info. Fields the cluster
// owns (uid, creation time, conditions, spec) are kept when the node exists;
// for a new node uid comes from the command and the creation time is the
// command's time.
type RegisterNode struct {
	Node api.Node `json:"node"`
}

// SetNodeConditions sets conditions on several nodes in one log entry.
// Updates for nodes that do not exist are skipped: the node may have been
// deleted after the leader decided. A condition's lastTransitionTime changes
// only when its status does.
type SetNodeConditions struct {
	Updates []NodeConditionUpdate `json:"updates"`
}

// NodeConditionUpdate is one condition for one node.
type NodeConditionUpdate struct {
	Node      string            `json:"node"`
	Condition api.NodeCondition `json:"condition"`
}

// DeleteNode removes a node object.
type DeleteNode struct {
	Name string `json:"name"`
}
