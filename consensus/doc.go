// Package consensus replicates gossipod's state with hashicorp/raft.
//
// It owns the FSM (the State every agent holds, changed only by committed
// commands), the command envelope those changes travel in, snapshots, and the
// Raft server itself: bootstrap, voter and non-voter membership, leadership
// transfer. It knows nothing of HTTP, gossip or containers: the agent decides
// who joins and forwards writes to the leader; this package makes them durable.
//
// The FSM is the one validation gate: every object a command would store
// (pods, Deployments, nodes) is checked again with the api package's
// validation, and every update against the committed object, so that no
// path to the log (a forwarded write, an older agent, a raw command) puts
// an object in the State that the API would refuse. The checks read only
// the command and the State, so a refused command is refused identically,
// with the same 422 Invalid Status, on every replica.
package consensus
