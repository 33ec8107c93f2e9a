//go:build !chaos_broken_overcommit && !chaos_broken_rebind

package consensus

// The checks a deliberately broken build turns off, to prove the fault-run
// checker (e2e/chaos) catches what they prevent. In every normal build
// both are false and the constants fold away. Built with the tag
// chaos_broken_overcommit, the FSM binds pods whatever room the node has
// left, in allocatable and host ports (overcommit, hostport-conflict);
// with chaos_broken_rebind, it binds a pod that is bound already, moving
// it (pod-moved). Never ship such a build.
const (
	brokenOvercommit = false
	brokenRebind     = false
)
