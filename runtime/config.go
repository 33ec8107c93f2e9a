package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/apparmor"
	"github.com/gossipod/gossipod/runtime/container"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/network"
)

// Config configures a Runtime. Start from DefaultConfig and change what
// differs; New validates it first and never changes the caller's copy.
type Config struct {
	// Root holds everything the runtime keeps on disk, normally
	// <data-dir>/runtime: images/ (the image store), containers/ (sandbox
	// and container state, root filesystems) and pods/<uid>/ (the pod
	// record, volumes and logs). It must survive an agent restart: the
	// next agent re-adopts its pods from it.
	Root string
	// NodeName is this node's name, the source host of the events the
	// runtime reports and the node a pod must be bound to for it to run.
	NodeName string
	// InsecureRegistries are registries (host or host:port) pulled from
	// over plain HTTP, the agent's --insecure-registry.
	InsecureRegistries []string
	// PauseBinary is the statically linked executable run as every pod's
	// pause process (the gossipod binary itself, see runtime/container).
	PauseBinary string
	// CgroupRoot is the absolute cgroup under which each pod gets its own.
	CgroupRoot string
	// PodPidsLimit is the most processes (and threads) one pod may have at
	// once, its cgroup's pids.max (kubelet's --pod-max-pids, the agent's
	// --pod-pids-limit): a fork bomb in a pod fails inside it instead of
	// exhausting the node's pids. NoPodPidsLimit (-1) sets no per-pod
	// limit, as kubelet's -1 does.
	PodPidsLimit int64
	// PodsPidsLimit caps the processes of all pods together, the pids.max
	// of CgroupRoot: the node's pid capacity minus the agent's
	// --system-reserved pid=... (kubelet's kubepods limit). Zero sets none.
	PodsPidsLimit int64
	// PodsMemoryLimit caps the memory of all pods together, the memory
	// limit of CgroupRoot: the node's allocatable memory when the agent
	// reserves some (--system-reserved memory=...). Zero sets none.
	PodsMemoryLimit int64
	// LogMaxBytes caps each container log file; above it the file is cut
	// down to its most recent half. Kubelet's default is 10 MiB.
	LogMaxBytes int64
	// Network gives each sandbox its place on the pod network (an IP from
	// the node's pod CIDR, host ports); nil means pods get loopback only.
	// The agent owns it (pod CIDR, routes) and shares it here.
	Network *network.Manager
	// ClusterDNS returns the addresses of the cluster DNS server pods of
	// dnsPolicy ClusterFirst use (kubelet's --cluster-dns), nil while the
	// node has none; with nil ClusterDNS pods get the node's resolvers.
	ClusterDNS func() []netip.Addr
	// Services returns the Services of one namespace from the replicated
	// state, read when a container starts to give it the service
	// environment variables kubelet gives (enableServiceLinks, and always
	// those of default/kubernetes). It must be safe for concurrent use,
	// must not block, and the caller does not change what it returns.
	// Nil gives containers no service variables.
	Services func(namespace string) []*api.Service
	// ConfigMap and Secret look up, in the replicated state, the objects a
	// pod's env (valueFrom, envFrom), volumes and imagePullSecrets refer
	// to; nil reads none (every reference is missing). The objects must
	// not be changed.
	ConfigMap func(namespace, name string) (*api.ConfigMap, bool)
	Secret    func(namespace, name string) (*api.Secret, bool)
	// ServiceAccountToken returns a token of pod's ServiceAccount bound to
	// the pod, for audience (the API's when empty), lasting expiration,
	// with its expiry: what a projected serviceAccountToken source holds
	// (kubelet asks kube-apiserver's TokenRequest; here the agent signs).
	// Nil fails such volumes with FailedMount.
	ServiceAccountToken func(pod *api.Pod, audience string, expiration time.Duration) (string, time.Time, error)
	// HostIP is the node's address, a container's status.hostIP and
	// status.hostIPs through the downward API (kubelet's node IP); empty,
	// a container asking for it waits with CreateContainerConfigError.
	HostIP string
	// Allocatable is what the node offers to pods, as its status reports
	// it: a container's resourceFieldRef of a limit it does not set reads
	// it (kubelet's defaultPodLimitsForDownwardAPI).
	Allocatable api.ResourceList
	// ClusterDomain is the domain of the cluster's names (kubelet's
	// --cluster-domain), searched by ClusterFirst pods.
	ClusterDomain string
	// AllowedHostPaths are the host directories hostPath volumes may use,
	// the agent's --allowed-host-paths: a hostPath not under one of them
	// (component-wise, symlinks resolved) is never mounted, and the pod
	// waits with a FailedMount event saying why. Empty, the default,
	// disables hostPath volumes on this node: a hostPath is the host's
	// filesystem inside a container. Each entry must be absolute and clean.
	AllowedHostPaths []string
	// EvictionHard are the node's hard eviction thresholds (kubelet's
	// --eviction-hard, default eviction.DefaultEvictionHard): while one is
	// met the node reports MemoryPressure, DiskPressure or PIDPressure
	// (Pressure), and the runtime evicts a pod per housekeeping interval,
	// ranked as kubelet ranks them for the signal. Empty, no threshold: no
	// pressure is ever reported.
	EvictionHard []eviction.Threshold
	// PressureTransitionPeriod is how long a pressure condition stays
	// after its threshold was last met (kubelet's
	// --eviction-pressure-transition-period, 5 minutes).
	PressureTransitionPeriod time.Duration
	// HousekeepingInterval is how often the runtime measures the node's
	// signals and its pods' local ephemeral storage, and evicts (kubelet's
	// housekeeping, 10 s). Zero means the default.
	HousekeepingInterval time.Duration
	// SeccompDefault gives RuntimeDefault, containerd's (and Docker's)
	// default seccomp profile, to every container and sandbox whose pod
	// does not choose a profile: the agent's --seccomp-default, on by
	// default as in Docker (kubelet's --seccomp-default, off by default
	// there). Off, such containers run Unconfined.
	SeccompDefault bool
	// SeccompProfileRoot is the directory Localhost seccomp profiles are
	// read from (localhostProfile is relative to it): the agent's
	// --seccomp-profile-root, <data-dir>/seccomp by default (kubelet's is
	// <root-dir>/seccomp). Absolute.
	SeccompProfileRoot string
	// AppArmor is this node's AppArmor (apparmor.Real()): where it is
	// enabled, containers run under RuntimeDefault's generated profile
	// unless their pod chooses; the zero value is a host without it.
	AppArmor apparmor.Host
	// Logger receives the runtime's own logs; nil means slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now. Tests set it to
	// control timestamps; back-off timers still run on real time.
	Clock func() time.Time
}

// Defaults of DefaultConfig, named so that documentation and flags can
// quote them.
const (
	// DefaultRoot is the runtime's directory under the agent's default
	// data dir.
	DefaultRoot = "/var/lib/gossipod/runtime"
	// DefaultCgroupRoot puts every pod under one cgroup that an operator
	// can find and limit as a whole.
	DefaultCgroupRoot = "/gossipod"
	// DefaultLogMaxBytes is kubelet's containerLogMaxSize (10 MiB).
	DefaultLogMaxBytes int64 = 10 << 20
	// DefaultHousekeepingInterval is kubelet's housekeeping period.
	DefaultHousekeepingInterval = 10 * time.Second
	// DefaultSeccompProfileRoot is where Localhost seccomp profiles are
	// read from under the agent's default data dir.
	DefaultSeccompProfileRoot = "/var/lib/gossipod/seccomp"
	// DefaultPodPidsLimit is container.DefaultPodPidsLimit (4096), which
	// says why gossipod limits pods by default where kubelet does not.
	DefaultPodPidsLimit int64 = container.DefaultPodPidsLimit
	// NoPodPidsLimit as PodPidsLimit sets no per-pod limit.
	NoPodPidsLimit int64 = -1
)

// DefaultConfig returns the agent's runtime configuration: state in
// DefaultRoot, pods under DefaultCgroupRoot, the running executable as the
// pause binary, 10 MiB per container log, RuntimeDefault seccomp for
// containers that do not choose a profile. The caller sets NodeName.
func DefaultConfig() Config {
	exe, _ := os.Executable() // Validate reports an empty PauseBinary
	return Config{
		Root:               DefaultRoot,
		PauseBinary:        exe,
		CgroupRoot:         DefaultCgroupRoot,
		PodPidsLimit:       DefaultPodPidsLimit,
		LogMaxBytes:        DefaultLogMaxBytes,
		ClusterDomain:      "cluster.local",
		SeccompDefault:     true,
		SeccompProfileRoot: DefaultSeccompProfileRoot,
		AppArmor:           apparmor.Real(),
		Logger:             slog.Default(),
		EvictionHard:       DefaultEvictionThresholds(),
		// kubelet's defaults.
		PressureTransitionPeriod: eviction.DefaultPressureTransitionPeriod,
		HousekeepingInterval:     DefaultHousekeepingInterval,
	}
}

// DefaultEvictionThresholds are kubelet's default hard eviction
// thresholds, eviction.DefaultEvictionHard parsed.
func DefaultEvictionThresholds() []eviction.Threshold {
	t, err := eviction.ParseEvictionHard(eviction.DefaultEvictionHard)
	if err != nil {
		panic(err) // a constant: the tests parse it
	}
	return t
}

// minLogMaxBytes keeps rotation meaningful: a cap smaller than a few lines
// would cut every line.
const minLogMaxBytes = 4 << 10

// Validate reports every problem of the configuration at once, each naming
// its field, so a bad setting fails at start-up and not at the first pod.
// The image store and the container manager validate the settings they are
// handed (registries, the pause binary, the cgroup root) in New.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Root == "":
		errs = append(errs, errors.New("runtime: Root: must be set"))
	case !filepath.IsAbs(c.Root):
		errs = append(errs, fmt.Errorf("runtime: Root %q: must be an absolute path", c.Root))
	case strings.ContainsAny(c.Root, ":,"):
		// Image layers and container root filesystems live under Root, and
		// overlayfs options use ':' and ',' as separators.
		errs = append(errs, fmt.Errorf("runtime: Root %q: must not contain ':' or ','", c.Root))
	}
	if c.NodeName == "" {
		errs = append(errs, errors.New("runtime: NodeName: must be set (it is the source of pod events)"))
	}
	for _, p := range c.AllowedHostPaths {
		if err := CheckAllowedHostPath(p); err != nil {
			errs = append(errs, fmt.Errorf("runtime: AllowedHostPaths: %w", err))
		}
	}
	if !filepath.IsAbs(c.SeccompProfileRoot) {
		errs = append(errs, fmt.Errorf("runtime: SeccompProfileRoot %q: must be an absolute path", c.SeccompProfileRoot))
	}
	if err := CheckPodPidsLimit(c.PodPidsLimit); err != nil {
		errs = append(errs, fmt.Errorf("runtime: PodPidsLimit: %w", err))
	}
	if c.PodsPidsLimit < 0 {
		errs = append(errs, fmt.Errorf("runtime: PodsPidsLimit %d: must be 0 (none) or positive", c.PodsPidsLimit))
	}
	if c.PodsMemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("runtime: PodsMemoryLimit %d: must be 0 (none) or positive", c.PodsMemoryLimit))
	}
	if c.LogMaxBytes < minLogMaxBytes {
		errs = append(errs, fmt.Errorf("runtime: LogMaxBytes %d: must be at least %d", c.LogMaxBytes, minLogMaxBytes))
	}
	return errors.Join(errs...)
}

// CheckPodPidsLimit checks a per-pod process limit: -1 (none) or
// positive. Zero is refused rather than read as "none": a pod that may
// have no process cannot start, and kubelet's flag spells "none" -1.
func CheckPodPidsLimit(n int64) error {
	if n == NoPodPidsLimit || n > 0 {
		return nil
	}
	return fmt.Errorf("%d: must be -1 (no per-pod limit) or a positive number of processes", n)
}

// CheckAllowedHostPath checks one entry of an allowed-host-paths list: an
// absolute, clean path, so that what an operator wrote is exactly what
// hostPath volumes are compared with ("/data/../etc" would read as /data
// and mean /etc).
func CheckAllowedHostPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case !filepath.IsAbs(p):
		return fmt.Errorf("%q: must be an absolute path", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("%q: must be a clean path (%q)", p, filepath.Clean(p))
	}
	return nil
}

// The parts of Root, in one place.
func (c Config) imagesDir() string     { return filepath.Join(c.Root, "images") }
func (c Config) containersDir() string { return filepath.Join(c.Root, "containers") }
func (c Config) podsDir() string       { return filepath.Join(c.Root, "pods") }

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c Config) clock() func() time.Time {
	if c.Clock != nil {
		return c.Clock
	}
	return time.Now
}
