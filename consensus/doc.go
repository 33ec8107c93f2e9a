// Package consensus replicates gossipod's state with hashicorp/raft.
//
// It owns the FSM (the State every agent holds, changed only by committed
// commands), the command envelope those changes travel in, snapshots, and the
// Raft server itself: bootstrap, voter and non-voter membership, leadership
// transfer. It knows nothing of HTTP, gossip or containers: the agent decides
// who joins and forwards writes to the leader; this package makes them durable.
package consensus
