//go:build linux

package seccompprofile

import (
	"fmt"
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

// check converts p to see that runc can apply it.
func check(p *specs.LinuxSeccomp) error {
	_, err := Config(p)
	return err
}
