//go:build !chaos_broken_overcommit && !chaos_broken_rebind

package consensus

// The checks a deliberately broken build turns off, to prove the fault-run
// checker (e2e/chaos) catches what they prevent. In every normal build
// both are false and the constants fold away. Build with the tag
// chaos_broken_overcommit and the FSM binds pods whatever the node's
// allocatable (overcommit); with chaos_broken_rebind it binds a pod that is
// bound already, moving it (pod-moved). Never ship such a build.
const (
	brokenOvercommit = false
	brokenRebind     = false
)
