//go:build chaos_broken_overcommit

package chaos

// This build's FSM is deliberately broken (consensus/broken_overcommit.go).
func init() { wantBrokenOvercommit = true }
