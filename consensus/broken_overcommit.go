//go:build chaos_broken_overcommit && !chaos_broken_rebind

package consensus

// A deliberately broken build (see broken.go): no overcommit check.
const (
	brokenOvercommit = true
	brokenRebind     = false
)
