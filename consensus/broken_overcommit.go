//go:build chaos_broken_overcommit && !chaos_broken_rebind

package consensus

// A deliberately broken build (see broken.go): no check that a pod fits
// on its node (resources, host ports).
const (
	brokenOvercommit = true
	brokenRebind     = false
)
