//go:build chaos_broken_overcommit && chaos_broken_rebind

package consensus

// A deliberately broken build (see broken.go) with both checks off.
const (
	brokenOvercommit = true
	brokenRebind     = true
)
