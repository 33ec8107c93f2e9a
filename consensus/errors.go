package consensus

import "errors"

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrNotLeader means this server cannot apply a write or change the
	// configuration because it is not the Raft leader; forward to the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader means no leader is known at the moment (election under way
	// or no quorum).
	ErrNoLeader = errors.New("no raft leader")
	// ErrAlreadyBootstrapped means the server already has Raft state, so
	// bootstrapping it again would be unsafe.
	ErrAlreadyBootstrapped = errors.New("raft cluster already bootstrapped")
	// ErrShutdown means the store has been shut down.
	ErrShutdown = errors.New("raft store shut down")
)
