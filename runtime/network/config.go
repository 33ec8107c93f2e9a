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
	// AgentPorts are this node's agent's own ports, which GuardAgentPorts closes to
	// every pod (source address in ClusterCIDR) on this node's addresses and, for this
	// node's pods, on every other host's: a pod must not talk to gossip, Raft or the
	// API as if it were a peer agent or an operator. They must match the agent's
	// --gossip-port, --raft-port and --api-port.
	AgentPorts AgentPorts
	// AllowPodAccessToAgent turns that protection off (GuardAgentPorts then removes
	// the table instead): the --allow-pod-access-to-agent flag, for a user who runs
	// pods that must reach the agent, such as a pod-hosted monitoring scraper.
	AllowPodAccessToAgent bool
	// KubernetesServiceIP is the kubernetes Service's cluster IP (the first
	// address of --service-cidr). A pod's connection to it, which the service
	// proxy sends on to an agent's API port, is let through, as pods reach
	// kube-apiserver in Kubernetes: the API authenticates it as any client
	// (a ServiceAccount token) and refuses everything to anonymous callers.
	// Pods still cannot reach the API port at an agent's own address. Zero
	// closes the API port to pods altogether.
	KubernetesServiceIP netip.Addr
	// Logger receives the Manager's log lines; nil discards them.
	Logger *slog.Logger
}

// AgentPorts names the agent's listening ports that pods must not reach.
type AgentPorts struct {
	// Gossip is memberlist's port, TCP and UDP (--gossip-port, 7946).
	Gossip int
	// Raft is the Raft transport's TCP port (--raft-port, 7947).
	Raft int
	// API is the HTTP API's TCP port (--api-port, 7948).
	API int
}

// String lists the ports as the guard's log lines and errors show them.
func (p AgentPorts) String() string {
	return fmt.Sprintf("gossip %d/tcp+udp, raft %d/tcp, api %d/tcp", p.Gossip, p.Raft, p.API)
}

// DefaultConfig returns the defaults: Debian's and upstream's plugin directories, the
// bridge gossipod0, the default MTU, the cluster CIDR 10.88.0.0/16 and the agent's
// default ports 7946-7948, closed to pods. Root is left empty because only the caller
// knows its data directory.
func DefaultConfig() Config {
	return Config{
		PluginDirs:  []string{"/usr/lib/cni", "/opt/cni/bin"},
		BridgeName:  "gossipod0",
		ClusterCIDR: "10.88.0.0/16",
		AgentPorts:  AgentPorts{Gossip: 7946, Raft: 7947, API: 7948},
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
	for _, p := range []struct {
		field string
		port  int
	}{{"AgentPorts.Gossip", c.AgentPorts.Gossip}, {"AgentPorts.Raft", c.AgentPorts.Raft}, {"AgentPorts.API", c.AgentPorts.API}} {
		if p.port < 1 || p.port > 65535 {
			bad("%s %d is out of range 1..65535", p.field, p.port)
		}
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
