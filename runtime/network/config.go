package network

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
)

// Config configures a Manager. Start from DefaultConfig and set Root; New validates it
// and never modifies the caller's copy.
type Config struct {
	// Root is the Manager's state directory, normally <data-dir>/network. It must
	// survive agent restarts: it holds the CNI result cache (cache/), host-local's
	// address leases (ipam/), one record per attached sandbox (sandboxes/), the
	// persisted pod CIDR and, for people debugging, the generated CNI configuration.
	// Required; must be absolute.
	Root string
	// PluginDirs are searched in order for the CNI plugin binaries (bridge,
	// host-local, loopback, portmap). Debian installs them in /usr/lib/cni; upstream
	// tarballs in /opt/cni/bin.
	PluginDirs []string
	// BridgeName is the Linux bridge every pod's veth is attached to; it carries the
	// pod CIDR's gateway address. It must not be used by anything else.
	BridgeName string
	// MTU of the bridge and the pods' interfaces; 0 lets the bridge plugin choose
	// (the kernel's default, 1500). Set it below the node's uplink MTU when that is
	// smaller.
	MTU int
	// ClusterCIDR is the range all nodes' pod CIDRs are allocated from. Traffic from a
	// pod to an address inside it keeps the pod's source address (pods see each
	// other's real IPs); traffic to anywhere else is masqueraded to the node's address
	// so replies find their way back. It must match the leader's --cluster-cidr.
	ClusterCIDR string
	// Logger receives the Manager's log lines; nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults: Debian's and upstream's plugin directories, the
// bridge gossipod0, the default MTU, and the cluster CIDR 10.88.0.0/16. Root is left
// empty because only the caller knows its data directory.
func DefaultConfig() Config {
	return Config{
		PluginDirs:  []string{"/usr/lib/cni", "/opt/cni/bin"},
		BridgeName:  "gossipod0",
		ClusterCIDR: "10.88.0.0/16",
	}
}

// maxIfNameLen is the kernel's interface name limit (IFNAMSIZ less the NUL).
const maxIfNameLen = 15

// Validate checks every field and reports all problems at once, each naming its
// field; the errors wrap ErrInvalidConfig. New calls it first.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	switch {
	case c.Root == "":
		bad("Root is required (the state directory, e.g. <data-dir>/network)")
	case !filepath.IsAbs(c.Root):
		bad("Root %q must be an absolute path", c.Root)
	}
	if len(c.PluginDirs) == 0 {
		bad("PluginDirs is empty: name the directories holding the CNI plugins")
	}
	for _, d := range c.PluginDirs {
		if !filepath.IsAbs(d) {
			bad("PluginDirs entry %q must be an absolute path", d)
		}
	}
	if err := validIfName(c.BridgeName); err != nil {
		bad("BridgeName: %v", err)
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		bad("MTU %d is out of range: 0 (default) or 68..65535", c.MTU)
	}
	if _, err := parseCIDR(c.ClusterCIDR, 30); err != nil {
		bad("ClusterCIDR: %v", err)
	}
	return errors.Join(errs...)
}

// validIfName applies the kernel's rules for interface names.
func validIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > maxIfNameLen:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, maxIfNameLen)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n"):
		return fmt.Errorf("interface name %q contains '/', ':' or white space", name)
	}
	return nil
}

// parseCIDR parses a canonical IPv4 prefix no longer than maxBits (so that it holds a
// gateway and at least one pod).
func parseCIDR(s string, maxBits int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %w", s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4 (only IPv4 is supported)", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", s, p.Masked())
	}
	if p.Bits() > maxBits {
		return netip.Prefix{}, fmt.Errorf("%q is too small: a prefix of at most /%d is needed", s, maxBits)
	}
	return p, nil
}

// prefixContains reports whether inner lies entirely within outer.
func prefixContains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}
