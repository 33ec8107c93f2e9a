package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/go-sockaddr"
	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/agent"
	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/logbridge"
	"github.com/gossipod/gossipod/pki"
	"github.com/gossipod/gossipod/placement"
	"github.com/gossipod/gossipod/runtime"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/network"
	"github.com/gossipod/gossipod/runtime/seccompprofile"
	"github.com/gossipod/gossipod/runtime/serviceproxy"
)

// env makes a flag also settable as GOSSIPOD_<FLAG>.
func env(name string) []string {
	return []string{"GOSSIPOD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
}

func agentCommand() *cli.Command {
	def := agent.DefaultConfig()
	return &cli.Command{
		Name:  "agent",
		Usage: "run the gossipod agent on this machine",
		Description: `Start the same agent on every machine and join them through any seed:
   gossipod agent --bootstrap-expect 3 --join 10.0.0.11
The first --bootstrap-expect agents that see each other elect a Raft leader;
agents started later join the existing cluster. --dev runs a one-agent cluster.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "node name (default: the hostname)", EnvVars: env("name")},
			&cli.StringFlag{Name: "bind", Usage: "IP address the gossip, Raft and API listeners bind to", Value: "0.0.0.0", EnvVars: env("bind")},
			&cli.StringFlag{Name: "advertise", Usage: "IP address other agents use to reach this one (default: --bind, or the first private IP when --bind is 0.0.0.0)", EnvVars: env("advertise")},
			&cli.IntFlag{Name: "gossip-port", Usage: "gossip port (TCP and UDP)", Value: def.GossipPort, EnvVars: env("gossip-port")},
			&cli.IntFlag{Name: "raft-port", Usage: "Raft port (TCP)", Value: def.RaftPort, EnvVars: env("raft-port")},
			&cli.IntFlag{Name: "api-port", Usage: "HTTP API port", Value: def.APIPort, EnvVars: env("api-port")},
			&cli.StringSliceFlag{Name: "join", Usage: "seed agent ADDR[:PORT] to join; repeatable; retried until it answers", EnvVars: env("join")},
			&cli.IntFlag{Name: "bootstrap-expect", Usage: "bootstrap a new cluster once this many agents see each other (0: only join)", EnvVars: env("bootstrap-expect")},
			&cli.IntFlag{Name: "raft-voters", Usage: "number of Raft voters the leader keeps; further agents are non-voters", Value: def.RaftVoters, EnvVars: env("raft-voters")},
			&cli.StringFlag{Name: "data-dir", Usage: "directory for Raft data and pod state", Value: "/var/lib/gossipod", EnvVars: env("data-dir")},
			&cli.Uint64Flag{Name: "raft-snapshot-threshold", Usage: "Raft log entries since the last snapshot that trigger a new one, which compacts the log", Value: def.Raft.SnapshotThreshold, EnvVars: env("raft-snapshot-threshold")},
			&cli.DurationFlag{Name: "raft-snapshot-interval", Usage: "how often Raft checks --raft-snapshot-threshold (with as much again of random jitter)", Value: def.Raft.SnapshotInterval, EnvVars: env("raft-snapshot-interval")},
			&cli.Uint64Flag{Name: "raft-trailing-logs", Usage: "Raft log entries a snapshot leaves behind it, so that a follower a little behind catches up from the log", Value: def.Raft.TrailingLogs, EnvVars: env("raft-trailing-logs")},
			&cli.IntFlag{Name: "watch-history", Usage: "changes kept for watches to resume from (kube-apiserver's watch cache); an older resourceVersion gets 410 Gone and the client re-lists; each holds its object in memory", Value: def.Raft.WatchHistory, EnvVars: env("watch-history")},
			&cli.StringFlag{Name: "raft-dir", Usage: "directory for the Raft log and snapshots, best on another disk than the pods' so that a pod filling its disk cannot stop this node's Raft voter (default: <data-dir>/raft)", EnvVars: env("raft-dir")},
			&cli.BoolFlag{Name: "dev", Usage: "run a one-agent cluster on 127.0.0.1 with a temporary data dir", EnvVars: env("dev")},
			&cli.StringFlag{Name: "cpu", Usage: "CPU offered to pods, a Kubernetes quantity such as 4 or 1500m (default: all CPUs)", EnvVars: env("cpu")},
			&cli.StringFlag{Name: "memory", Usage: "memory offered to pods, a Kubernetes quantity such as 3Gi or 2560Mi (default: all memory)", EnvVars: env("memory")},
			&cli.StringFlag{Name: "eviction-hard", Usage: "hard eviction thresholds in kubelet's syntax, signal<quantity or signal<percentage, comma-separated; signals: memory.available, nodefs.available, nodefs.inodesFree (the data dir's file system), imagefs.available, imagefs.inodesFree (the image store's), pid.available (none by default, as kubelet); under one the node reports MemoryPressure, DiskPressure or PIDPressure, is tainted, and evicts one pod per round, ranked as kubelet ranks them; the list replaces the defaults, 0% disables one", Value: eviction.DefaultEvictionHard, EnvVars: env("eviction-hard")},
			&cli.DurationFlag{Name: "eviction-pressure-transition-period", Usage: "how long a pressure condition stays after its threshold was last met (kubelet's flag of that name)", Value: eviction.DefaultPressureTransitionPeriod, EnvVars: env("eviction-pressure-transition-period")},
			&cli.IntFlag{Name: "max-pods", Usage: "number of pods this node runs at most", Value: 110, EnvVars: env("max-pods")},
			&cli.StringFlag{Name: "system-reserved", Usage: "resources kept for the agent and the system, not offered to pods, as kubelet's --system-reserved: cpu=500m,memory=1Gi,pid=1000 (allocatable is capacity minus them; pid caps all pods' processes together at kernel.pid_max minus it)", EnvVars: env("system-reserved")},
			&cli.Int64Flag{Name: "pod-pids-limit", Usage: "processes (threads included) one pod may have at once, its cgroup's pids.max, so that a fork bomb stays inside its pod; -1 for no per-pod limit (kubelet's default, unsafe beside a Raft voter)", Value: runtime.DefaultPodPidsLimit, EnvVars: env("pod-pids-limit")},
			&cli.StringFlag{Name: "labels", Usage: "node labels, k=v,k2=v2", EnvVars: env("labels")},
			&cli.StringSliceFlag{Name: "allowed-host-paths", Usage: "host directory under which pods may use hostPath volumes; repeatable or comma-separated (default: none, hostPath volumes are refused)", EnvVars: env("allowed-host-paths")},
			&cli.StringFlag{Name: "pod-security-default", Usage: "Pod Security Standards level enforced in namespaces without a pod-security.kubernetes.io/enforce label: privileged, baseline or restricted (recorded by the leader; give every agent the same)", Value: def.PodSecurityDefault, EnvVars: env("pod-security-default")},
			&cli.StringSliceFlag{Name: "insecure-registry", Usage: "registry HOST:PORT to pull images from over plain HTTP; repeatable", EnvVars: env("insecure-registry")},
			&cli.StringFlag{Name: "cluster-cidr", Usage: "range pod IPs come from; each node gets a share (recorded by the first leader)", Value: def.ClusterCIDR, EnvVars: env("cluster-cidr")},
			&cli.StringFlag{Name: "service-cidr", Usage: "range Services' cluster IPs come from (recorded by the first leader)", Value: def.ServiceCIDR, EnvVars: env("service-cidr")},
			&cli.IntFlag{Name: "node-cidr-mask-size", Usage: "prefix length of each node's pod CIDR", Value: def.NodeCIDRMaskSize, EnvVars: env("node-cidr-mask-size")},
			&cli.DurationFlag{Name: "node-lost-timeout", Usage: "how long a node may be dead in gossip before its pods are marked Failed (NodeLost) and replaced", Value: def.NodeLostTimeout, EnvVars: env("node-lost-timeout")},
			&cli.StringFlag{Name: "placement", Usage: "how the leader ranks nodes that fit: spread (least allocated) or binpack (most allocated)", Value: "spread", EnvVars: env("placement")},
			&cli.StringFlag{Name: "token", Usage: "the cluster's shared secret, the same on every agent (make one with `gossipod token generate`); prefer --token-file, since a command line is visible to every user of the machine", EnvVars: env("token")},
			&cli.StringFlag{Name: "token-file", Usage: "file holding the cluster token", EnvVars: env("token-file")},
			&cli.StringSliceFlag{Name: "tls-san", Usage: "further IP address or DNS name the API's certificate is valid for (a load balancer, a public address); repeatable", EnvVars: env("tls-san")},
			&cli.BoolFlag{Name: "seccomp-default", Usage: "run containers and sandboxes whose pod sets no seccompProfile under RuntimeDefault, the default seccomp profile of Docker and containerd (as kubelet's --seccomp-default); false leaves them Unconfined", Value: true, EnvVars: env("seccomp-default")},
			&cli.StringFlag{Name: "seccomp-profile-root", Usage: "directory of the Localhost seccomp profiles pods name in seccompProfile.localhostProfile (default: <data-dir>/seccomp)", EnvVars: env("seccomp-profile-root")},
			&cli.BoolFlag{Name: "allow-pod-access-to-agent", Usage: "let this host's pods reach the agents' gossip, Raft and API ports, here and on other hosts (refused by default)", EnvVars: env("allow-pod-access-to-agent")},
			&cli.IntFlag{Name: "max-deployment-replicas", Usage: fmt.Sprintf("largest spec.replicas this agent's API accepts for a Deployment (at most %d, the bound the replicated state enforces)", api.MaxDeploymentReplicasCeiling), Value: int(def.Limits.MaxDeploymentReplicas), EnvVars: env("max-deployment-replicas")},
			&cli.IntFlag{Name: "max-watches-per-client", Usage: "watches one user may hold open at once on this agent; more get 429 TooManyRequests", Value: def.Limits.MaxWatchesPerClient, EnvVars: env("max-watches-per-client")},
			&cli.StringFlag{Name: "max-image-size", Usage: "largest image archive image load accepts, as uploaded and once decompressed, a quantity such as 8Gi", Value: resource.NewQuantity(def.Limits.MaxImageArchiveBytes, resource.BinarySI).String(), EnvVars: env("max-image-size")},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", Value: "info", EnvVars: env("log-level")},
		},
		Action: runAgent,
	}
}

func runAgent(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("agent takes no arguments, got %q", c.Args().Slice())}
	}
	logger, err := newLogger(c.String("log-level"))
	if err != nil {
		return usageError{err}
	}
	logbridge.Klog(logger)
	cfg, cleanup, err := agentConfig(c, logger)
	if err != nil {
		return usageError{err}
	}
	defer cleanup()
	machine, err := runtime.Machine()
	if err != nil {
		return err
	}
	if err := applyResources(c, &cfg, machine); err != nil {
		return usageError{err}
	}
	// Bad flags are reported, naming them, before anything is started (the
	// pod network and runtime come first, and touch the host).
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}
	// The runtime reads the Services of the agent's state, which New
	// binds, for its containers' service environment variables.
	cfg.StateReader = &agent.StateReader{}
	rt, net, err := newRuntime(c, cfg, logger)
	if err != nil {
		return err
	}
	if rt == nil {
		cfg.Allocatable.Pods = 0 // no runtime: offer no pod slots
	} else {
		cfg.Runtime = rt
		cfg.Network = net
		defer func() {
			if err := net.Close(); err != nil {
				logger.Error("close the pod network", "error", err, "node", cfg.NodeName)
			}
		}()
		proxy, err := newServiceProxy(cfg, logger)
		if err != nil {
			return err
		}
		cfg.ServiceProxy = proxy
		// A clean stop leaves nothing behind: the proxy's table goes
		// with the agent (a restarted agent programs it again at once).
		defer func() {
			if err := proxy.Cleanup(); err != nil {
				logger.Error("remove the service proxy's rules", "error", err, "node", cfg.NodeName)
			}
			_ = proxy.Close()
		}()
	}
	a, err := agent.New(cfg, machine)
	if err != nil {
		return err
	}

	// The first SIGINT or SIGTERM shuts down cleanly (handing over
	// leadership, leaving gossip); a second one exits at once.
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, syscall.SIGINT, syscall.SIGTERM)
		<-again
		logger.Error("second signal: exiting without a clean shutdown")
		os.Exit(1)
	}()
	if rt == nil {
		return a.Run(ctx)
	}
	// The runtime's background work stops with the agent; its pods do not:
	// a restarted agent adopts them.
	rtCtx, stopRuntime := context.WithCancel(context.Background())
	rtDone := make(chan error, 1)
	go func() { rtDone <- rt.Run(rtCtx) }()
	err = a.Run(ctx)
	stopRuntime()
	<-rtDone
	return err
}

// newRuntime starts the container runtime under <data-dir>/runtime. An
// agent that is not root cannot create namespaces and cgroups: it runs
// without a runtime, offers no pod slots, and says so.
func newRuntime(c *cli.Context, cfg agent.Config, logger *slog.Logger) (*runtime.Runtime, *network.Manager, error) {
	if os.Geteuid() != 0 {
		logger.Warn("not running as root: this agent takes part in the cluster but runs no pods (it offers 0 pod slots)")
		return nil, nil, nil
	}
	if c.Bool("seccomp-default") && !seccompprofile.Enabled {
		return nil, nil, usageError{errors.New("--seccomp-default: this gossipod binary was built without seccomp support (the seccomp build tag, against libseccomp: make build); " +
			"start it with --seccomp-default=false to run containers without a seccomp profile")}
	}
	profileRoot := c.String("seccomp-profile-root")
	if profileRoot == "" {
		profileRoot = filepath.Join(cfg.DataDir, "seccomp")
	}
	if !filepath.IsAbs(profileRoot) {
		return nil, nil, usageError{fmt.Errorf("--seccomp-profile-root %q: must be an absolute path", profileRoot)}
	}
	// Before anything makes it 0700: pods with user namespaces reach their
	// root filesystems under it as unprivileged users.
	if err := runtime.MakeSearchable(cfg.DataDir); err != nil {
		return nil, nil, fmt.Errorf("--data-dir: %w", err)
	}
	nc := network.DefaultConfig()
	nc.Root = filepath.Join(cfg.DataDir, "network")
	nc.ClusterCIDR = cfg.ClusterCIDR
	nc.AgentPorts = network.AgentPorts{Gossip: cfg.GossipPort, Raft: cfg.RaftPort, API: cfg.APIPort}
	nc.AllowPodAccessToAgent = c.Bool("allow-pod-access-to-agent")
	// In-cluster clients reach the API through the kubernetes Service.
	if ip, err := api.KubernetesServiceIP(cfg.ServiceCIDR); err == nil {
		nc.KubernetesServiceIP = ip
	}
	nc.Logger = logger
	net, err := network.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("start the pod network (CNI plugins come with Debian's containernetworking-plugins): %w", err)
	}
	// Before the agent opens its ports: pods never get a moment to reach them.
	if err := net.GuardAgentPorts(); err != nil {
		_ = net.Close()
		return nil, nil, fmt.Errorf("keep pods from the agent's ports (needs nftables in the kernel; --allow-pod-access-to-agent skips this): %w", err)
	}
	rc := runtime.DefaultConfig()
	rc.Network = net
	// Pods resolve through their node's cluster DNS server, on the pods'
	// gateway (agent.clusterDNSLoop), once the node has a pod CIDR.
	rc.ClusterDNS = func() []netip.Addr {
		if gw, ok := net.Gateway(); ok {
			return []netip.Addr{gw}
		}
		return nil
	}
	rc.ClusterDomain = agent.ClusterDomain
	rc.Services = cfg.StateReader.Services
	rc.ConfigMap = cfg.StateReader.ConfigMap
	rc.Secret = cfg.StateReader.Secret
	rc.ServiceAccountToken = cfg.StateReader.ServiceAccountToken
	rc.HostIP = cfg.AdvertiseAddr
	if rc.HostIP == "" {
		rc.HostIP = cfg.BindAddr
	}
	if rc.EvictionHard, err = eviction.ParseEvictionHard(c.String("eviction-hard")); err != nil {
		_ = net.Close()
		return nil, nil, fmt.Errorf("--eviction-hard: %w", err) // applyResources checked it first
	}
	rc.PressureTransitionPeriod = c.Duration("eviction-pressure-transition-period")
	rc.Allocatable = api.ResourceList{
		api.ResourceCPU:              *resource.NewMilliQuantity(cfg.Allocatable.MilliCPU, resource.DecimalSI),
		api.ResourceMemory:           *resource.NewQuantity(cfg.Allocatable.Memory, resource.BinarySI),
		api.ResourceEphemeralStorage: *resource.NewQuantity(cfg.Allocatable.EphemeralStorage, resource.BinarySI),
	}
	rc.Root = filepath.Join(cfg.DataDir, "runtime")
	rc.PodPidsLimit = c.Int64("pod-pids-limit")
	if cfg.SystemReserved.Memory > 0 {
		// What is reserved stays the agent's even against pods without
		// memory limits, as kubelet enforces allocatable on kubepods.
		rc.PodsMemoryLimit = cfg.Allocatable.Memory
	}
	if pidMax, err := runtime.MaxPID(); err == nil {
		rc.PodsPidsLimit, _ = agent.PodsPidsLimit(pidMax, cfg.SystemReserved) // checked by applyResources
	} else if cfg.SystemReserved.Pids > 0 {
		_ = net.Close()
		return nil, nil, fmt.Errorf("--system-reserved pid=%d: %w", cfg.SystemReserved.Pids, err)
	}
	rc.NodeName = cfg.NodeName
	rc.InsecureRegistries = c.StringSlice("insecure-registry")
	rc.AllowedHostPaths = cfg.AllowedHostPaths
	rc.SeccompDefault = c.Bool("seccomp-default")
	rc.SeccompProfileRoot = profileRoot
	rc.Logger = logger.With("component", "runtime")
	rt, err := runtime.New(rc)
	if err != nil {
		_ = net.Close()
		return nil, nil, fmt.Errorf("start the container runtime: %w", err)
	}
	return rt, net, nil
}

// newServiceProxy starts this node's service data plane (kube-proxy's
// nftables mode): node ports answer on the agent's address, or on every
// IPv4 address of the host when it binds all of them. Pods that reach a
// Service on their own bridge need br_netfilter's
// bridge-nf-call-iptables, which is turned on here as k3s does; without
// the module only that case fails, with a warning.
func newServiceProxy(cfg agent.Config, logger *slog.Logger) (*serviceproxy.Proxier, error) {
	ips, err := nodeIPs(cfg)
	if err != nil {
		return nil, err
	}
	cidr, err := netip.ParsePrefix(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("--cluster-cidr: %w", err)
	}
	const bridgeNF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if err := os.WriteFile(bridgeNF, []byte("1"), 0o644); err != nil {
		logger.Warn("pods reaching a Service whose endpoint is on their own node may fail: load br_netfilter (modprobe br_netfilter)",
			"error", err, "node", cfg.NodeName)
	}
	pc := serviceproxy.DefaultConfig()
	pc.NodeName = cfg.NodeName
	pc.NodeIPs = ips
	pc.ClusterCIDR = cidr
	pc.Logger = logger.With("component", "serviceproxy")
	proxy, err := serviceproxy.New(pc)
	if err != nil {
		return nil, fmt.Errorf("start the service proxy (needs nftables in the kernel): %w", err)
	}
	return proxy, nil
}

// nodeIPs are the addresses node ports answer on: the agent's advertised
// address, or every non-loopback IPv4 address of the host when the agent
// binds and advertises 0.0.0.0.
func nodeIPs(cfg agent.Config) ([]netip.Addr, error) {
	addr := cfg.AdvertiseAddr
	if addr == "" {
		addr = cfg.BindAddr
	}
	if ip, err := netip.ParseAddr(addr); err == nil && ip.Is4() && !ip.IsUnspecified() {
		return []netip.Addr{ip}, nil
	}
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list the host's addresses for node ports: %w", err)
	}
	var out []netip.Addr
	for _, a := range ifAddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			out = append(out, p.Addr())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no IPv4 address for node ports: set --advertise")
	}
	return out, nil
}

// agentConfig turns the flags into an agent.Config. cleanup removes the
// temporary data dir of --dev.
func agentConfig(c *cli.Context, logger *slog.Logger) (agent.Config, func(), error) {
	cfg := agent.DefaultConfig()
	cfg.Logger = logger
	cfg.Raft.Logger = logger
	cfg.Version = "gossipod/" + version
	cfg.BinaryVersion = version
	cleanup := func() {}

	cfg.NodeName = c.String("name")
	if cfg.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			return cfg, cleanup, fmt.Errorf("--name not set and the hostname is unreadable: %w", err)
		}
		cfg.NodeName = strings.ToLower(host)
	}
	cfg.BindAddr = c.String("bind")
	cfg.AdvertiseAddr = c.String("advertise")
	cfg.GossipPort = c.Int("gossip-port")
	cfg.RaftPort = c.Int("raft-port")
	cfg.APIPort = c.Int("api-port")
	cfg.Join = c.StringSlice("join")
	cfg.BootstrapExpect = c.Int("bootstrap-expect")
	cfg.RaftVoters = c.Int("raft-voters")
	cfg.DataDir = c.String("data-dir")
	cfg.RaftDir = c.String("raft-dir")
	cfg.Raft.SnapshotThreshold = c.Uint64("raft-snapshot-threshold")
	cfg.Raft.SnapshotInterval = c.Duration("raft-snapshot-interval")
	cfg.Raft.TrailingLogs = c.Uint64("raft-trailing-logs")
	cfg.Raft.WatchHistory = c.Int("watch-history")
	if err := runtime.CheckPodPidsLimit(c.Int64("pod-pids-limit")); err != nil {
		return cfg, cleanup, fmt.Errorf("--pod-pids-limit %w", err)
	}
	cfg.AllowedHostPaths = c.StringSlice("allowed-host-paths")
	for _, p := range cfg.AllowedHostPaths {
		// Checked here, before the runtime starts with the same list.
		if err := runtime.CheckAllowedHostPath(p); err != nil {
			return cfg, cleanup, fmt.Errorf("--allowed-host-paths: %w", err)
		}
	}
	cfg.Placement.Strategy = placement.Strategy(c.String("placement"))
	cfg.ClusterCIDR = c.String("cluster-cidr")
	cfg.ServiceCIDR = c.String("service-cidr")
	cfg.PodSecurityDefault = c.String("pod-security-default")
	cfg.NodeLostTimeout = c.Duration("node-lost-timeout")
	cfg.NodeCIDRMaskSize = c.Int("node-cidr-mask-size")
	if err := applyLimits(c, &cfg.Limits); err != nil {
		return cfg, cleanup, err
	}
	labels, err := parseLabels(c.String("labels"))
	if err != nil {
		return cfg, cleanup, err
	}
	cfg.Labels = labels

	cfg.TLSSANs = c.StringSlice("tls-san")
	cfg.Token, err = agentToken(c)
	if err != nil {
		return cfg, cleanup, err
	}

	if c.Bool("dev") {
		// --dev keeps its state where --data-dir says, so a dev cluster
		// can be stopped and started again; without it, in a temporary
		// dir removed at exit.
		dir := cfg.DataDir
		if !c.IsSet("data-dir") {
			if dir, err = os.MkdirTemp("", "gossipod-dev-"); err != nil {
				return cfg, cleanup, fmt.Errorf("--dev: create a temporary data dir: %w", err)
			}
			cleanup = func() { os.RemoveAll(dir) }
			cfg.DataDir = dir
		}
		if cfg.Token == "" {
			// A one-agent cluster on loopback: a token of its own, written
			// where its user finds it, since nobody else needs it; the
			// same one again when the data dir is kept.
			if cfg.Token, err = devToken(dir); err != nil {
				return cfg, cleanup, err
			}
			logger.Info("--dev: cluster token", "token_file", filepath.Join(dir, "token"))
		}
		if !c.IsSet("bind") {
			cfg.BindAddr = "127.0.0.1"
		}
		if !c.IsSet("bootstrap-expect") {
			cfg.BootstrapExpect = 1
		}
		cfg.BootstrapSettle = 0
	}
	if ip := net.ParseIP(cfg.BindAddr); ip != nil && ip.IsUnspecified() && cfg.AdvertiseAddr == "" {
		private, err := sockaddr.GetPrivateIP()
		if err != nil || private == "" {
			return cfg, cleanup, fmt.Errorf("--bind %s: no private IP address found to advertise; set --advertise or --bind to a specific address", cfg.BindAddr)
		}
		cfg.AdvertiseAddr = strings.Fields(private)[0]
	}
	return cfg, cleanup, nil
}

// devToken returns the token of a --dev cluster kept in dir/token,
// generating and writing it there the first time.
func devToken(dir string) (string, error) {
	path := filepath.Join(dir, "token")
	if b, err := os.ReadFile(path); err == nil {
		if token := strings.TrimSpace(string(b)); token != "" {
			return token, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("--dev: read the token: %w", err)
	}
	token, err := pki.GenerateToken()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("--dev: create the data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("--dev: write the token: %w", err)
	}
	return token, nil
}

// agentToken reads the cluster token from --token or --token-file (or their
// environment variables); giving both is a mistake. An empty token is
// returned as is: the agent's validation explains how to make one, and --dev
// makes its own.
func agentToken(c *cli.Context) (string, error) {
	token, file := c.String("token"), c.String("token-file")
	switch {
	case token != "" && file != "":
		return "", usageError{fmt.Errorf("--token and --token-file both given: use one")}
	case file != "":
		token, err := pki.ReadTokenFile(file)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return token, nil
	}
	return token, nil
}

// applyResources sets capacity from the machine and allocatable as
// capacity minus --system-reserved, or from --cpu and --memory, which set
// what pods are offered outright (and so cannot be combined with a
// reservation of the same resource).
func applyResources(c *cli.Context, cfg *agent.Config, m runtime.MachineInfo) error {
	cfg.Capacity = api.Resources{MilliCPU: m.MilliCPU, Memory: m.MemoryBytes, Pods: int64(c.Int("max-pods"))}
	reserved, err := agent.ParseReserved(c.String("system-reserved"))
	if err != nil {
		return err
	}
	cfg.SystemReserved = reserved
	if reserved.Pids > 0 && m.MaxPID > 0 {
		// Refused before anything touches the host.
		if _, err := agent.PodsPidsLimit(m.MaxPID, reserved); err != nil {
			return err
		}
	}
	offered := cfg.Capacity // what allocatable is taken from
	if s := c.String("cpu"); s != "" {
		if reserved.MilliCPU != 0 {
			return errors.New("--cpu and --system-reserved cpu=... both given: --cpu sets what pods get, --system-reserved what they do not; use one")
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return fmt.Errorf("--cpu %q: %w (examples: 4, 1500m)", s, err)
		}
		offered.MilliCPU = q.MilliValue()
	}
	if s := c.String("memory"); s != "" {
		if reserved.Memory != 0 {
			return errors.New("--memory and --system-reserved memory=... both given: --memory sets what pods get, --system-reserved what they do not; use one")
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return fmt.Errorf("--memory %q: %w (examples: 3Gi, 2560Mi)", s, err)
		}
		offered.Memory = q.Value()
	}
	if cfg.Allocatable, err = agent.AllocatableFrom(offered, reserved); err != nil {
		return err
	}
	return applyEphemeralStorage(c, cfg)
}

// applyEphemeralStorage sets the node's ephemeral-storage capacity, the
// size of the data dir's file system (which holds the pods' writable
// layers, logs and emptyDirs), and its allocatable, the capacity less the
// nodefs.available hard eviction threshold, as kubelet computes it: pods
// requesting all of it would put the node under disk pressure.
func applyEphemeralStorage(c *cli.Context, cfg *agent.Config) error {
	thresholds, err := eviction.ParseEvictionHard(c.String("eviction-hard"))
	if err != nil {
		return fmt.Errorf("--eviction-hard %q: %w", c.String("eviction-hard"), err)
	}
	// The data dir may not exist yet: its nearest existing ancestor is on
	// the file system it will be on (unless it becomes a mount point).
	dir := cfg.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	capacity, err := eviction.FsCapacity(dir)
	if err != nil {
		return fmt.Errorf("--data-dir: the ephemeral-storage capacity: %w", err)
	}
	cfg.Capacity.EphemeralStorage = capacity
	cfg.Allocatable.EphemeralStorage = eviction.AllocatableEphemeralStorage(capacity, thresholds)
	return nil
}

// applyLimits reads the limit flags; their bounds are checked by the
// agent's config validation.
func applyLimits(c *cli.Context, l *agent.Limits) error {
	n := c.Int("max-deployment-replicas")
	if n > math.MaxInt32 || n < math.MinInt32 {
		return fmt.Errorf("--max-deployment-replicas %d: must be between 1 and %d", n, api.MaxDeploymentReplicasCeiling)
	}
	l.MaxDeploymentReplicas = int32(n)
	l.MaxWatchesPerClient = c.Int("max-watches-per-client")
	s := c.String("max-image-size")
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("--max-image-size %q: %w (examples: 8Gi, 500Mi)", s, err)
	}
	l.MaxImageArchiveBytes = q.Value()
	return nil
}

// parseLabels parses "k=v,k2=v2"; key and value rules are checked by the
// agent's config validation.
func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return labels, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--labels %q: want key=value pairs separated by commas", s)
		}
		if _, dup := labels[k]; dup {
			return nil, fmt.Errorf("--labels: key %q given twice", k)
		}
		labels[k] = v
	}
	return labels, nil
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
