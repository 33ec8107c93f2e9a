//go:build chaos_broken_rebind

package chaos

// This build's FSM is deliberately broken (consensus/broken_rebind.go).
func init() { wantBrokenRebind = true }
