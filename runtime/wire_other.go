//go:build !linux

package runtime

import "context"

// newBackends fails: pods run on Linux only.
func newBackends(context.Context, Config) (imageService, sandboxService, error) {
	return nil, nil, errNotLinux
}
