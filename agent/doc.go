// Package agent is one node's life in a gossipod cluster: gossip membership
// (hashicorp/memberlist), bootstrap of the Raft cluster from gossip, the
// leader-only duties (Raft membership upkeep, node registration and health),
// forwarding writes to the leader, and the HTTP API.
//
// The agent never talks to the kernel itself and never decides placement;
// it wires the consensus, placement and runtime packages together.
package agent
