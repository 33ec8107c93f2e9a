//go:build chaos_broken_rebind && !chaos_broken_overcommit

package consensus

// A deliberately broken build (see broken.go): a bound pod can be bound
// again, elsewhere.
const (
	brokenOvercommit = false
	brokenRebind     = true
)
