//go:build linux

package container

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gossipod/gossipod/runtime/seccompprofile"
)

// SeccompProfile is the seccomp filter a container (or a sandbox's pause)
// runs under: securityContext.seccompProfile as the caller resolved it.
// The zero value is Unconfined, no filter.
type SeccompProfile struct {
	// RuntimeDefault asks for containerd's default profile
	// (seccompprofile.RuntimeDefault). Its capability-dependent rules
	// follow the capabilities the process gets here, as containerd applies
	// the profile after setting them.
	RuntimeDefault bool
	// Localhost is an explicit profile, read from the node's profile
	// directory by the caller; used when RuntimeDefault is false.
	Localhost *specs.LinuxSeccomp
}

// String names the profile as Kubernetes' seccompProfile.type does, for
// logs.
func (p SeccompProfile) String() string {
	switch {
	case p.RuntimeDefault:
		return "RuntimeDefault"
	case p.Localhost != nil:
		return "Localhost"
	}
	return "Unconfined"
}

// config is libcontainer's filter for a process whose bounding capability
// set is caps; nil for Unconfined. It fails when this binary has no
// seccomp support (seccompprofile.ErrUnavailable) or for a profile runc
// cannot convert.
func (p SeccompProfile) config(caps []string) (*configs.Seccomp, error) {
	var profile *specs.LinuxSeccomp
	switch {
	case p.RuntimeDefault:
		profile = seccompprofile.RuntimeDefault(caps)
	case p.Localhost != nil:
		profile = p.Localhost
	default:
		return nil, nil
	}
	c, err := seccompprofile.Config(profile)
	if err != nil {
		return nil, fmt.Errorf("%w: seccomp profile %s: %w", ErrInvalid, p, err)
	}
	return c, nil
}

// withSecurity adds what a process's seccomp and AppArmor settings ask
// for to its configuration, once its capabilities are set (the default
// seccomp profile depends on them).
func withSecurity(cfg *configs.Config, seccomp SeccompProfile, appArmor string) error {
	var caps []string
	if cfg.Capabilities != nil {
		caps = cfg.Capabilities.Bounding
	}
	sc, err := seccomp.config(caps)
	if err != nil {
		return err
	}
	cfg.Seccomp = sc
	cfg.AppArmorProfile = appArmor
	return nil
}
