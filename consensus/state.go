package consensus

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/gossipod/gossipod/api"
)

// State is the replicated state every agent holds: the objects of the cluster
// as of the last applied Raft index. It is changed only by the FSM applying
// committed commands; everything else reads it. Reads return deep copies, so
// callers may keep and modify what they get.
type State struct {
	mu      sync.RWMutex
	index   uint64
	nodes   map[string]*api.Node
	changed chan struct{}
}

// NewState returns an empty State.
func NewState() *State {
	return &State{nodes: map[string]*api.Node{}, changed: make(chan struct{})}
}

// Index is the Raft index of the last command applied to the State.
func (s *State) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

// Changed returns a channel that is closed at the next change of the State.
// Loops that react to state (placement, reconcile, watches) select on it
// instead of polling.
func (s *State) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Node returns a copy of the named node.
func (s *State) Node(name string) (*api.Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[name]
	if !ok {
		return nil, false
	}
	return copyNode(n), true
}

// Nodes returns copies of all nodes sorted by name, and the index they reflect.
func (s *State) Nodes() ([]api.Node, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]api.Node, 0, len(s.nodes))
	for _, name := range slices.Sorted(maps.Keys(s.nodes)) {
		out = append(out, *copyNode(s.nodes[name]))
	}
	return out, s.index
}

// apply changes the State by one committed command. It must be deterministic:
// the same command on the same State gives the same result on every replica,
// so it reads no clock and no randomness, only the command.
func (s *State) apply(index uint64, cmd Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	switch cmd.Type {
	case CmdRegisterNode:
		var p RegisterNode
		if err = json.Unmarshal(cmd.Payload, &p); err == nil {
			err = s.registerNode(index, cmd, p)
		}
	case CmdSetNodeConditions:
		var p SetNodeConditions
		if err = json.Unmarshal(cmd.Payload, &p); err == nil {
			s.setNodeConditions(index, cmd, p)
		}
	case CmdDeleteNode:
		var p DeleteNode
		if err = json.Unmarshal(cmd.Payload, &p); err == nil {
			err = s.deleteNode(p)
		}
	default:
		err = fmt.Errorf("unknown command type %q", cmd.Type)
	}
	// The index advances even for a rejected command, so reads report the
	// log position they reflect.
	s.index = index
	close(s.changed)
	s.changed = make(chan struct{})
	return err
}

func (s *State) registerNode(index uint64, cmd Command, p RegisterNode) error {
	in := p.Node
	if in.Name == "" {
		return api.NewBadRequest("node name is required")
	}
	n, ok := s.nodes[in.Name]
	if !ok {
		n = &api.Node{
			TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{
				Name:              in.Name,
				UID:               in.UID,
				CreationTimestamp: api.NewTime(cmd.Time),
			},
		}
		s.nodes[in.Name] = n
	}
	n.Labels = maps.Clone(in.Labels)
	n.Annotations = maps.Clone(in.Annotations)
	n.Status.Capacity = maps.Clone(in.Status.Capacity)
	n.Status.Allocatable = maps.Clone(in.Status.Allocatable)
	n.Status.Addresses = slices.Clone(in.Status.Addresses)
	n.Status.NodeInfo = in.Status.NodeInfo
	n.ResourceVersion = strconv.FormatUint(index, 10)
	return nil
}

func (s *State) setNodeConditions(index uint64, cmd Command, p SetNodeConditions) {
	for _, u := range p.Updates {
		n, ok := s.nodes[u.Node]
		if !ok {
			continue
		}
		c := u.Condition
		c.LastHeartbeatTime = api.NewTime(cmd.Time)
		c.LastTransitionTime = api.NewTime(cmd.Time)
		if old := n.Condition(c.Type); old != nil {
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			*old = c
		} else {
			n.Status.Conditions = append(n.Status.Conditions, c)
		}
		n.ResourceVersion = strconv.FormatUint(index, 10)
	}
}

func (s *State) deleteNode(p DeleteNode) error {
	if _, ok := s.nodes[p.Name]; !ok {
		return api.NewNotFound("nodes", p.Name)
	}
	delete(s.nodes, p.Name)
	return nil
}

// snapshotData is the serialised form of the State in a Raft snapshot.
type snapshotData struct {
	Index uint64     `json:"index"`
	Nodes []api.Node `json:"nodes"`
}

// export copies the State for a snapshot. It runs under the FSM's
// serialisation guarantee, so only the copy is made here; encoding and I/O
// happen later in Persist, off the apply path.
func (s *State) export() snapshotData {
	nodes, index := s.Nodes()
	return snapshotData{Index: index, Nodes: nodes}
}

// restore replaces the State with a snapshot's contents.
func (s *State) restore(d snapshotData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = make(map[string]*api.Node, len(d.Nodes))
	for i := range d.Nodes {
		n := d.Nodes[i]
		s.nodes[n.Name] = &n
	}
	s.index = d.Index
	close(s.changed)
	s.changed = make(chan struct{})
}

// copyNode deep-copies a node by a JSON round trip: simple and always in step
// with the type's fields, and nodes are small and rarely read in hot paths.
func copyNode(n *api.Node) *api.Node {
	b, err := json.Marshal(n)
	if err != nil {
		panic(fmt.Sprintf("copy node %s: %v", n.Name, err))
	}
	var out api.Node
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("copy node %s: %v", n.Name, err))
	}
	return &out
}
