//go:build linux

package seccompprofile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/runc/libcontainer/configs"
	libseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Enabled reports whether this binary can install seccomp filters: built
// with cgo and the seccomp tag (libcontainer's own switch). Without it a
// container asking for a profile cannot be confined, and is refused with
// ErrUnavailable rather than started unconfined.
const Enabled = libseccomp.Enabled

// ErrUnavailable is the error of a profile asked of a binary built
// without seccomp support, in containerd's words.
var ErrUnavailable = errors.New("seccomp is not supported: this gossipod binary was built without the seccomp build tag (build it with make build)")

// RuntimeDefault returns containerd's default profile for a container
// whose bounding capability set is caps (CAP_* names): the syscalls those
// capabilities need (mount and unshare with CAP_SYS_ADMIN, ptrace with
// CAP_SYS_PTRACE...) are allowed, as containerd's WithDefaultProfile does.
func RuntimeDefault(caps []string) *specs.LinuxSeccomp {
	return defaultProfile(caps, kernelAtLeast48())
}

// kernelAtLeast48 reports whether the kernel is 4.8 or newer, the check
// containerd's profile makes before allowing ptrace: older kernels let a
// traced process bypass seccomp. An unreadable version is taken as older.
var kernelAtLeast48 = sync.OnceValue(func() bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 4 || major == 4 && minor >= 8
})

// LoadLocalhost reads a Localhost profile: localhostProfile is a path
// relative to root (kubelet's --seccomp-profile-root, gossipod's
// --seccomp-profile-root), holding an OCI seccomp profile in JSON as
// containerd reads it (Docker's profile format is also read). The profile
// is checked by converting it (Config), so that a bad one fails here, with
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
	if _, err := Config(p); err != nil {
		return nil, fmt.Errorf("seccomp profile %q: %w", path, err)
	}
	return p, nil
}

// Config converts a profile into libcontainer's configuration with runc's
// own converter (names of actions, operators and architectures checked);
// nil gives nil, no filter. A profile asked of a binary without seccomp
// support fails with ErrUnavailable.
func Config(p *specs.LinuxSeccomp) (*configs.Seccomp, error) {
	if p == nil {
		return nil, nil
	}
	if !Enabled {
		return nil, ErrUnavailable
	}
	c, err := specconv.SetupSeccomp(p)
	if err != nil {
		return nil, fmt.Errorf("invalid seccomp profile: %w", err)
	}
	return c, nil
}
