package api

// Member is one agent as this agent's gossip sees it: the row of
// `gossipod members` and an element of GET /v1/agent/members.
type Member struct {
	// Name is the agent's node name, unique in the cluster.
	Name string `json:"name"`
	// Addr is the gossip address, host:port.
	Addr string `json:"addr"`
	// Status is the gossip state: alive, suspect, dead or left.
	Status MemberStatus `json:"status"`
	// Role is the agent's place in the Raft configuration: leader, voter,
	// nonvoter, or "" when it is not (yet) a server of the cluster.
	Role string `json:"role"`
	// APIAddr is the agent's HTTP API, http://host:port.
	APIAddr string `json:"apiAddr,omitempty"`
	// RaftAddr is the agent's Raft transport, host:port.
	RaftAddr string `json:"raftAddr,omitempty"`
	// InCluster is what the agent gossips about itself: it holds Raft state.
	InCluster bool `json:"inCluster"`
	// Allocatable and Free are the resources the agent offers in all and
	// has not yet given to pods, as it last gossiped them.
	Allocatable ResourceList `json:"allocatable,omitempty"`
	Free        ResourceList `json:"free,omitempty"`
	// Labels are the node labels the agent was started with.
	Labels map[string]string `json:"labels,omitempty"`
}

// MemberStatus is a member's gossip state.
type MemberStatus string

// The gossip states, as Serf and Consul name them for users.
const (
	MemberAlive   MemberStatus = "alive"
	MemberSuspect MemberStatus = "suspect"
	MemberDead    MemberStatus = "dead"
	MemberLeft    MemberStatus = "left"
)

// Raft roles as shown in Member.Role.
const (
	RoleLeader   = "leader"
	RoleVoter    = "voter"
	RoleNonvoter = "nonvoter"
)

// RaftPeer is one server of the Raft configuration as an agent sees it: the
// row of `gossipod raft peers` and an element of GET /v1/raft/peers.
type RaftPeer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}
