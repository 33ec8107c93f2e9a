//go:build linux

package container

import (
	"fmt"
	"slices"
	"strings"

	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"

	"github.com/moby/sys/capability"
	hostdevices "github.com/moby/sys/devices"
	"golang.org/x/sys/unix"
)

// The security settings of an app container, as containerd's CRI plugin
// turns a Kubernetes securityContext into an OCI spec: Docker's default
// capabilities changed by capabilities.add/drop, or every capability for a
// privileged container, which also gets the node's devices and no masked
// or read-only paths.

// capabilityName is the kernel's name of a capability as Kubernetes
// writes it: NET_RAW, net_raw or CAP_NET_RAW all mean CAP_NET_RAW.
func capabilityName(c string) string {
	c = strings.ToUpper(c)
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	return c
}

// knownCapabilities is every capability the running kernel knows; the
// ones this library knows when the kernel cannot be asked.
func knownCapabilities() []string {
	caps, err := capability.ListSupported()
	if err != nil {
		caps = capability.ListKnown()
	}
	return capNames(caps)
}

// allCapabilities is what "all capabilities" means for a privileged
// container or add: [ALL]: those the agent itself holds, as containerd's
// WithAllCurrentCapabilities (a capability the agent lacks cannot be
// given, and asking libcontainer for it fails the start).
func allCapabilities() []string {
	known, err := capability.ListSupported()
	if err != nil {
		known = capability.ListKnown()
	}
	self, err := capability.NewPid2(0)
	if err == nil {
		err = self.Load()
	}
	if err != nil {
		return capNames(known)
	}
	var held []capability.Cap
	for _, c := range known {
		if self.Get(capability.EFFECTIVE, c) {
			held = append(held, c)
		}
	}
	return capNames(held)
}

// capNames are the kernel's names (CAP_...) of caps.
func capNames(caps []capability.Cap) []string {
	names := make([]string, 0, len(caps))
	for _, c := range caps {
		names = append(names, "CAP_"+strings.ToUpper(c.String()))
	}
	return names
}

// containerCapabilities computes a container's capability set: all of
// them when privileged; else Docker's defaults, all of them when add has
// "ALL", none when drop has "ALL", then the other names added, then the
// other names dropped (a name in both ends up dropped), as containerd does.
func containerCapabilities(spec ContainerSpec) []string {
	if spec.Privileged {
		return allCapabilities()
	}
	isAll := func(c string) bool { return strings.EqualFold(c, "ALL") }
	caps := slices.Clone(defaultCaps)
	if slices.ContainsFunc(spec.CapAdd, isAll) {
		caps = allCapabilities()
	}
	if slices.ContainsFunc(spec.CapDrop, isAll) {
		caps = nil
	}
	for _, c := range spec.CapAdd {
		if n := capabilityName(c); !isAll(c) && !slices.Contains(caps, n) {
			caps = append(caps, n)
		}
	}
	for _, c := range spec.CapDrop {
		n := capabilityName(c)
		caps = slices.DeleteFunc(caps, func(have string) bool { return have == n })
	}
	return caps
}

// checkCapabilities refuses a name the kernel does not know, naming it as
// containerd does ("unknown capability"), before libcontainer would fail
// less clearly.
func checkCapabilities(spec ContainerSpec) error {
	known := knownCapabilities()
	for _, c := range append(slices.Clone(spec.CapAdd), spec.CapDrop...) {
		if strings.EqualFold(c, "ALL") {
			continue
		}
		if !slices.Contains(known, capabilityName(c)) {
			return fmt.Errorf("%w: unknown capability %q", ErrInvalid, capabilityName(c))
		}
	}
	return nil
}

// applySecurity sets cfg's capabilities, no_new_privs, read-only root and
// sysctls from spec, and for a privileged container the node's devices,
// every device in its cgroup, and /sys and /proc without masked or
// read-only paths.
func applySecurity(cfg *configs.Config, spec ContainerSpec) error {
	caps := containerCapabilities(spec)
	cfg.Capabilities = &configs.Capabilities{Bounding: caps, Effective: caps, Permitted: caps}
	cfg.NoNewPrivileges = spec.NoNewPrivileges
	cfg.Readonlyfs = spec.ReadOnlyRootfs
	if len(spec.Sysctls) > 0 {
		cfg.Sysctl = spec.Sysctls
	}
	if !spec.Privileged {
		return nil
	}
	host, err := hostdevices.HostDevices()
	if err != nil {
		return fmt.Errorf("privileged: the node's devices: %w", err)
	}
	// The node's console is its own (runc's device walk leaves it out as
	// well); /dev/pts is the container's own instance.
	host = slices.DeleteFunc(host, func(d *devices.Device) bool {
		return d.Path == "/dev/console" || strings.HasPrefix(d.Path, "/dev/pts/")
	})
	for _, d := range createdDevices() {
		if !slices.ContainsFunc(host, func(h *devices.Device) bool { return h.Path == d.Path }) {
			host = append(host, d)
		}
	}
	cfg.Devices = host
	cfg.Cgroups.Resources.Devices = []*devices.Rule{{Type: devices.WildcardDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "rwm", Allow: true}}
	cfg.MaskPaths, cfg.ReadonlyPaths = nil, nil
	for _, m := range cfg.Mounts {
		if m.Destination == "/sys" {
			m.Flags &^= unix.MS_RDONLY
		}
	}
	return nil
}
