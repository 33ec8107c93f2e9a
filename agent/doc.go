// Package agent is one node's life in a gossipod cluster: gossip membership
// (hashicorp/memberlist), bootstrap of the Raft cluster from gossip, the
// leader-only duties it owns (Raft membership upkeep, node registration and
// health from gossip) and the start and stop of the leader's controllers
// (package controllers) with leadership, forwarding writes to the leader,
// the node's own loop and the HTTPS listener, which mounts the API server
// (package apiserver) beside the agent's own endpoints.
//
// The agent never talks to the kernel itself and never decides placement;
// it wires the consensus, controllers and runtime packages together.
package agent
