package seccompprofile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// ErrUnavailable is the error of a profile asked of a binary built
// without seccomp support, in containerd's words.
var ErrUnavailable = errors.New("seccomp is not supported: this gossipod binary was built without the seccomp build tag (build it with make build)")

// LoadLocalhost reads a Localhost profile: localhostProfile is a path
// relative to root (kubelet's --seccomp-profile-root, gossipod's
// --seccomp-profile-root), holding an OCI seccomp profile in JSON as
// containerd reads it (Docker's profile format is also read). The profile
// is checked by converting it (Config, on Linux), so that a bad one fails here, with
// the file named, and not when the container is created.
func LoadLocalhost(root, localhostProfile string) (*specs.LinuxSeccomp, error) {
	if localhostProfile == "" {
		return nil, errors.New(`localhostProfile must be set when seccomp profile type is "Localhost"`)
	}
	if !filepath.IsLocal(localhostProfile) {
		return nil, fmt.Errorf("localhostProfile %q must be a relative path within the node's seccomp profile root, without ..", localhostProfile)
	}
	path := filepath.Join(root, localhostProfile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load seccomp profile %q: %w", path, err)
	}
	p := &specs.LinuxSeccomp{}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("decoding seccomp profile %q failed: %w", path, err)
	}
	if p.DefaultAction == "" {
		// An empty profile would leave the container unconfined: refuse it
		// rather than give less than asked for.
		return nil, fmt.Errorf("seccomp profile %q has no defaultAction", path)
	}
	if err := check(p); err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %w", path, err)
	}
	return p, nil
}
