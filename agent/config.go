package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/pki"
	"github.com/gossipod/gossipod/placement"
	"github.com/gossipod/gossipod/runtime"
)

// Config configures an Agent. Start from DefaultConfig; New validates it.
type Config struct {
	// NodeName is the agent's name in gossip, its Raft server ID and its
	// Node object's name.
	NodeName string
	// BindAddr is the IP all three listeners (gossip, Raft, API) bind to.
	BindAddr string
	// AdvertiseAddr is the IP other agents reach this one at; defaults to
	// BindAddr, which must then be a specific address.
	AdvertiseAddr string
	// GossipPort, RaftPort and APIPort are the three listeners' ports.
	GossipPort int
	RaftPort   int
	APIPort    int
	// Join lists seed agents, ADDR or ADDR:PORT (default port: 7946). The
	// agent retries joining every RetryJoinInterval until one answers.
	Join              []string
	RetryJoinInterval time.Duration
	// BootstrapExpect is how many agents must see each other before they
	// bootstrap a new Raft cluster; 0 means never bootstrap, only join.
	BootstrapExpect int
	// BootstrapSettle is how long the member list must stay unchanged
	// before bootstrapping, so agents starting together agree on the set.
	BootstrapSettle time.Duration
	// RaftVoters is how many voters the leader keeps; further servers are
	// non-voters that replicate the state without slowing commits.
	RaftVoters int
	// DeadServerTimeout is how long a server may be dead or gone from
	// gossip before the leader removes it from the Raft configuration.
	DeadServerTimeout time.Duration
	// NodeLostTimeout is how long a node may be dead or gone from gossip
	// before its pods are marked Failed (NodeLost) and replaced.
	NodeLostTimeout time.Duration
	// OrphanedPodTimeout is how long pods may stay bound to a node that has
	// no Node object before the leader deletes them (Kubernetes' PodGC
	// quarantine).
	OrphanedPodTimeout time.Duration
	// ReconnectInterval is how often the agent tries to rejoin members
	// gossip declared dead, which is what heals a partition.
	ReconnectInterval time.Duration
	// ReconcileInterval is how often the leader re-checks membership even
	// when no gossip event arrives.
	ReconcileInterval time.Duration
	// WatchBookmarkInterval is how often a watch that allows bookmarks
	// (allowWatchBookmarks=true, as client-go's informers and kubectl ask)
	// is sent a BOOKMARK with the current resourceVersion, so that a
	// client whose watch breaks resumes from a recent version instead of
	// re-listing after a 410 Gone.
	WatchBookmarkInterval time.Duration
	// DataDir holds the Raft data (raft/, unless RaftDir says otherwise)
	// and pod state.
	DataDir string
	// RaftDir, when set, holds the Raft log and snapshots instead of
	// <DataDir>/raft (--raft-dir): on a disk of their own, a pod filling
	// the pods' disk cannot stop the node's Raft voter from writing its
	// log. Absolute; created if missing.
	RaftDir string
	// Capacity is what the machine has; Allocatable what it offers to
	// pods: Capacity minus SystemReserved (AllocatableFrom), unless --cpu
	// or --memory set it outright.
	Capacity    api.Resources
	Allocatable api.Resources
	// SystemReserved is what the node keeps for the agent and the rest of
	// the system (--system-reserved).
	SystemReserved Reserved
	// Labels are extra node labels; the kubernetes.io/ well-known labels
	// are added by the agent.
	Labels map[string]string
	// ClusterCIDR is the range pod IPs come from; NodeCIDRMaskSize the
	// size of each node's share (--cluster-cidr, --node-cidr-mask-size).
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// ServiceCIDR is the range Services' cluster IPs come from
	// (--service-cidr); the first leader records it for the cluster.
	ServiceCIDR string
	// Network is this node's pod network: pod CIDR and routes to other
	// nodes' pods. Nil when Runtime is nil.
	Network NodeNetwork
	// ServiceProxy programs this node's service data plane from the
	// replicated Services and EndpointSlices; nil runs none (an agent
	// without root, tests).
	ServiceProxy ServiceProxy
	// StateReader, when set, is bound by New to this agent's replicated
	// state: the runtime, built before the agent, reads through it the
	// Services for its containers' service environment variables and the
	// ConfigMaps and Secrets its pods refer to.
	StateReader *StateReader
	// Runtime runs the pods bound to this node. Nil makes a
	// control-plane-only agent (tests, benchmarks): it takes part in gossip
	// and Raft but runs no pods.
	Runtime PodRuntime
	// AllowedHostPaths are the host directories under which pods may use
	// hostPath volumes (--allowed-host-paths). This agent refuses, at
	// admission, a pod or Deployment template with a hostPath outside
	// them, and its runtime refuses to mount one; empty, the default,
	// disables hostPath volumes, since a hostPath is the host's filesystem
	// inside a container. It is this agent's own rule: agents may differ,
	// which is why each node checks again. Each entry is absolute and
	// clean.
	AllowedHostPaths []string
	// PodSecurityDefault is the Pod Security Standards level enforced in
	// namespaces without a pod-security.kubernetes.io/enforce label
	// (--pod-security-default: privileged, baseline or restricted). The
	// leader records it in the replicated state, where every replica of
	// the state machine reads it, so all agents should be given the same.
	PodSecurityDefault string
	// Placement configures the leader's scheduler (--placement).
	Placement placement.Config
	// Version is reported as the node's kubelet version.
	Version string
	// BinaryVersion is the version of the gossipod binary (main.version,
	// `git describe` at build), which GET /version reports after the
	// Kubernetes release whose API the agent serves.
	BinaryVersion string
	// Raft holds the consensus settings; identity, addresses and data dir
	// are filled in from the fields above.
	Raft consensus.Config
	// TLSSANs are further names (IP addresses or DNS names) the API's
	// certificate is valid for, beside the node name, localhost and the
	// agent's addresses: a load balancer's or a public address (--tls-san).
	TLSSANs []string
	// Token is the cluster's shared secret (--token). Gossip encryption,
	// the cluster CA and every agent's certificate derive from it, so only
	// agents holding it can join, and only its holders can issue
	// credentials.
	Token string
	// Logger receives all of the agent's logs.
	Logger *slog.Logger
	// Limits bound what one request or client may cost the agent.
	Limits Limits
}

// DefaultConfig returns an agent configuration with gossipod's default
// ports and timings; the caller sets the name, addresses and resources.
func DefaultConfig() Config {
	return Config{
		GossipPort:        7946,
		RaftPort:          7947,
		APIPort:           7948,
		RetryJoinInterval: 2 * time.Second,
		BootstrapSettle:   time.Second,
		RaftVoters:        3,
		// Long enough to ride out a restart or a short partition without
		// reshuffling voters, short enough to restore the voter count
		// before a second failure is likely.
		DeadServerTimeout: 10 * time.Second,
		ReconcileInterval: 2 * time.Second,
		// kube-apiserver's watch cache sends bookmarks about once a minute.
		WatchBookmarkInterval: time.Minute,
		// Serf uses 30 s; gossipod heals partitions sooner because its
		// pods are rescheduled after --node-lost-timeout (seconds).
		ReconnectInterval: 5 * time.Second,
		// Kubernetes waits 5 minutes (pod eviction timeout); gossip's
		// failure detection is faster and surer than missed heartbeats,
		// so seconds suffice.
		NodeLostTimeout: 10 * time.Second,
		// kube-controller-manager's PodGC quarantine.
		OrphanedPodTimeout: 40 * time.Second,
		Raft:               consensus.DefaultConfig(),
		Placement:          placement.DefaultConfig(),
		ClusterCIDR:        "10.88.0.0/16",
		NodeCIDRMaskSize:   24,
		ServiceCIDR:        api.DefaultServiceCIDR,
		PodSecurityDefault: api.DefaultPodSecurityLevel,
		Logger:             slog.Default(),
		Limits:             DefaultLimits(),
	}
}

// Validate reports every problem of the configuration at once, naming the
// flag a user would change.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("--name: a node name is required"))
	} else if msgs := validateDNSLabelish(c.NodeName); msgs != "" {
		errs = append(errs, fmt.Errorf("--name %q: %s", c.NodeName, msgs))
	} else if len(c.NodeName) > maxNodeNameLength {
		// The FSM refuses a node whose labels are invalid: say so at start,
		// not by a node that never registers.
		errs = append(errs, fmt.Errorf("--name %q: must be no more than %d characters (it is the node's %s label value)",
			c.NodeName, maxNodeNameLength, api.LabelHostname))
	}
	if ip := net.ParseIP(c.BindAddr); ip == nil {
		errs = append(errs, fmt.Errorf("--bind %q: not an IP address", c.BindAddr))
	}
	if c.AdvertiseAddr != "" {
		if ip := net.ParseIP(c.AdvertiseAddr); ip == nil || ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("--advertise %q: not a specific IP address", c.AdvertiseAddr))
		}
	} else if ip := net.ParseIP(c.BindAddr); ip != nil && ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("--bind %s listens on every address: set --advertise to the address other agents should use", c.BindAddr))
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--gossip-port", c.GossipPort}, {"--raft-port", c.RaftPort}, {"--api-port", c.APIPort}} {
		if p.port < 1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s %d: must be between 1 and 65535", p.flag, p.port))
		}
	}
	if c.GossipPort == c.RaftPort || c.GossipPort == c.APIPort || c.RaftPort == c.APIPort {
		errs = append(errs, fmt.Errorf("--gossip-port, --raft-port and --api-port must differ (got %d, %d, %d)", c.GossipPort, c.RaftPort, c.APIPort))
	}
	for _, j := range c.Join {
		if _, _, err := splitJoinAddr(j, c.GossipPort); err != nil {
			errs = append(errs, fmt.Errorf("--join %q: %w", j, err))
		}
	}
	if c.BootstrapExpect < 0 {
		errs = append(errs, fmt.Errorf("--bootstrap-expect %d: must be 0 (join only) or more", c.BootstrapExpect))
	}
	if c.RaftVoters < 1 {
		errs = append(errs, fmt.Errorf("--raft-voters %d: must be at least 1", c.RaftVoters))
	}
	if c.BootstrapExpect > 0 && c.RaftVoters < c.BootstrapExpect {
		errs = append(errs, fmt.Errorf("--raft-voters %d is less than --bootstrap-expect %d: every bootstrapping agent is a voter", c.RaftVoters, c.BootstrapExpect))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: a data directory is required (or use --dev)"))
	}
	if err := validateRaftDir(c.RaftDir); err != nil {
		errs = append(errs, err)
	}
	if c.Allocatable.MilliCPU <= 0 {
		errs = append(errs, fmt.Errorf("--cpu: must be positive (got %dm)", c.Allocatable.MilliCPU))
	}
	if c.Allocatable.Memory <= 0 {
		errs = append(errs, fmt.Errorf("--memory: must be positive (got %d bytes)", c.Allocatable.Memory))
	}
	if c.Allocatable.Pods < 0 || c.Allocatable.Pods == 0 && c.Runtime != nil {
		errs = append(errs, fmt.Errorf("--max-pods: must be positive (got %d)", c.Allocatable.Pods))
	}
	for k, v := range c.Labels {
		if msg := validateLabel(k, v); msg != "" {
			errs = append(errs, fmt.Errorf("--labels %s=%s: %s", k, v, msg))
		}
	}
	if c.RetryJoinInterval <= 0 || c.ReconcileInterval <= 0 || c.ReconnectInterval <= 0 || c.NodeLostTimeout <= 0 || c.OrphanedPodTimeout <= 0 || c.DeadServerTimeout <= 0 || c.BootstrapSettle < 0 || c.WatchBookmarkInterval <= 0 {
		errs = append(errs, errors.New("retry, reconcile, settle, dead-server and watch bookmark intervals must be positive"))
	}
	if err := validateAllowedHostPaths(c.AllowedHostPaths); err != nil {
		errs = append(errs, err)
	}
	if err := validateClusterNetwork(c.ClusterCIDR, c.NodeCIDRMaskSize, c.ServiceCIDR); err != nil {
		errs = append(errs, err)
	}
	if err := api.ValidatePodSecurityLevel(c.PodSecurityDefault); err != nil {
		errs = append(errs, fmt.Errorf("--pod-security-default: %w", err))
	}
	if err := c.Placement.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--placement: %w", err))
	}
	for _, san := range c.TLSSANs {
		if net.ParseIP(san) == nil && len(validation.IsDNS1123Subdomain(san)) > 0 {
			errs = append(errs, fmt.Errorf("--tls-san %q: not an IP address or DNS name", san))
		}
	}
	if err := pki.CheckToken(c.Token); err != nil {
		errs = append(errs, fmt.Errorf("--token: %w", err))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("a logger is required"))
	}
	return errors.Join(errs...)
}

// maxNodeNameLength is the longest label value, since the node name is
// also its kubernetes.io/hostname label.
const maxNodeNameLength = 63

// validateAllowedHostPaths checks --allowed-host-paths as the runtime
// does, naming the flag.
func validateAllowedHostPaths(paths []string) error {
	var errs []error
	for _, p := range paths {
		if err := runtime.CheckAllowedHostPath(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", api.AllowedHostPathsFlag, err))
		}
	}
	return errors.Join(errs...)
}

// advertiseIP is the IP other agents use for this one.
func (c *Config) advertiseIP() string {
	if c.AdvertiseAddr != "" {
		return c.AdvertiseAddr
	}
	return c.BindAddr
}

// nodeLabels returns the user's labels plus the well-known ones the kubelet
// sets, which the user cannot override.
func (c *Config) nodeLabels(os, arch string) map[string]string {
	labels := maps.Clone(c.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kubernetes.io/hostname"] = c.NodeName
	labels["kubernetes.io/os"] = os
	labels["kubernetes.io/arch"] = arch
	return labels
}
