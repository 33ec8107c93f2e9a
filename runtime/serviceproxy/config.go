package serviceproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
)

// Config says which node the proxy programs and how.
type Config struct {
	// NodeName decides which endpoints are local (EndpointSlice
	// endpoints' nodeName), for the Local traffic policies.
	NodeName string
	// NodeIPs are the addresses node ports answer on (the nodeport-ips set).
	// IPv4 only; at least one.
	NodeIPs []netip.Addr
	// ClusterCIDR is the range of pod addresses. Traffic to a cluster IP from
	// outside it is masqueraded so that replies come back through this node,
	// as kube-proxy does with --cluster-cidr.
	ClusterCIDR netip.Prefix
	// MasqueradeBit is the packet mark bit (0..31) that asks nat-postrouting
	// to masquerade; 0 means 14, kube-proxy's default (bit 0 cannot be
	// chosen).
	MasqueradeBit int
	// Table is the name of the nftables table (family ip) the proxy owns and
	// nothing else may write to. "gossipod-proxy" unless set.
	Table string
	// NetNS is the path of the network namespace to program; "" is the
	// namespace of the process. Tests use it to program a namespace of
	// their own without moving threads.
	NetNS string
	// Logger receives what the proxy did; slog.Default() unless set.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the defaults filled in; callers add
// the node's name, addresses and the cluster CIDR.
func DefaultConfig() Config {
	return Config{
		// kube-proxy's --masquerade-bit default, so that a node that ran
		// kube-proxy before has no second bit in use.
		MasqueradeBit: 14,
		Table:         "gossipod-proxy",
	}
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("serviceproxy: invalid config")

// Validate checks cfg and names the field that is wrong.
func (cfg *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	if cfg.NodeName == "" {
		return bad("NodeName", "empty")
	}
	if len(cfg.NodeIPs) == 0 {
		return bad("NodeIPs", "none given")
	}
	for _, ip := range cfg.NodeIPs {
		if !ip.Is4() {
			return bad("NodeIPs", "%s is not IPv4", ip)
		}
	}
	if !cfg.ClusterCIDR.IsValid() || !cfg.ClusterCIDR.Addr().Is4() {
		return bad("ClusterCIDR", "%q is not an IPv4 prefix", cfg.ClusterCIDR)
	}
	if cfg.MasqueradeBit < 0 || cfg.MasqueradeBit > 31 {
		return bad("MasqueradeBit", "%d is not in 0..31", cfg.MasqueradeBit)
	}
	if cfg.Table == "" {
		return bad("Table", "empty")
	}
	return nil
}

// withDefaults returns a copy of cfg with unset fields defaulted, so the
// caller's Config is never changed.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.MasqueradeBit == 0 {
		cfg.MasqueradeBit = d.MasqueradeBit
	}
	if cfg.Table == "" {
		cfg.Table = d.Table
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.ClusterCIDR = cfg.ClusterCIDR.Masked()
	return cfg
}
