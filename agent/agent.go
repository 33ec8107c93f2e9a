package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/apiserver/protobody"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/internal/logbridge"
	"github.com/gossipod/gossipod/pki"
	"github.com/gossipod/gossipod/runtime"
)

// Agent is one gossipod agent: gossip member, Raft server and API server.
type Agent struct {
	cfg Config
	// protobuf converts request bodies in Kubernetes' protobuf encoding to
	// JSON for the handlers.
	protobuf protobody.Decoder
	log      *slog.Logger
	machine  runtime.MachineInfo

	tls     *clusterTLS
	store   *consensus.Store
	ml      *memberlist.Memberlist
	meta    *localMeta
	members *memberTable

	apiListener net.Listener
	httpServer  *http.Server
	watches     *watchLimiter
	// api serves the Kubernetes resources over this agent's replica of
	// the state, committing through the leader.
	api *apiserver.Server
	// saTokens issues this node's pods' ServiceAccount tokens and verifies
	// any agent's.
	saTokens *auth.ServiceAccountTokens
}

// New validates cfg and starts the agent's listeners: Raft, gossip and the
// HTTP API are bound when New returns, but the agent joins nobody and serves
// nothing until Run. If any step fails, what was started is shut down again.
func New(cfg Config, machine runtime.MachineInfo) (_ *Agent, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger,
		machine: machine,
	}
	a.members = newMemberTable(func(name string, err error) {
		a.log.Warn("ignoring gossip member without valid metadata", "member", name, "error", err)
	})

	// The agent's API is also the kubernetes Service's backend, so its
	// certificate names the Service as kube-apiserver's does.
	sans := append([]string{cfg.advertiseIP(), cfg.BindAddr}, cfg.TLSSANs...)
	sans = append(sans, api.KubernetesServiceNames...)
	if ip, err := api.KubernetesServiceIP(cfg.ServiceCIDR); err == nil {
		sans = append(sans, ip.String())
	}
	a.tls, err = newClusterTLS(cfg.Token, cfg.NodeName, sans)
	if err != nil {
		return nil, err
	}
	saKey, err := pki.ServiceAccountKey(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("derive the service account signing key: %w", err)
	}
	if a.saTokens, err = auth.NewServiceAccountTokens(saKey, "", nil); err != nil {
		return nil, err
	}
	rc := cfg.Raft
	rc.TLS = a.tls.raft()
	if rc.SecretsKey, err = pki.SecretsKey(cfg.Token); err != nil {
		return nil, fmt.Errorf("derive the secrets key: %w", err)
	}
	rc.ServerID = cfg.NodeName
	rc.BindAddr = net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.RaftPort))
	rc.AdvertiseAddr = net.JoinHostPort(cfg.advertiseIP(), strconv.Itoa(cfg.RaftPort))
	rc.DataDir = cfg.raftDir()
	rc.Logger = cfg.Logger.With("component", "raft")
	a.store, err = consensus.NewStore(rc)
	if err != nil {
		if cfg.RaftDir != "" {
			return nil, fmt.Errorf("--raft-dir %s: start raft: %w", cfg.RaftDir, err)
		}
		return nil, fmt.Errorf("start raft in %s: %w", rc.DataDir, err)
	}
	if cfg.StateReader != nil {
		cfg.StateReader.bind(a.store.State(), a.saTokens)
	}
	defer func() {
		if err != nil {
			_ = a.store.Shutdown()
		}
	}()

	apiAddr := net.JoinHostPort(cfg.BindAddr, strconv.Itoa(cfg.APIPort))
	ln, err := net.Listen("tcp", apiAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for the API on %s: %w", apiAddr, err)
	}
	a.apiListener = tls.NewListener(ln, pki.APIServerTLS(a.tls.ca, a.tls.leaf))
	defer func() {
		if err != nil {
			a.apiListener.Close()
		}
	}()

	a.meta = &localMeta{meta: nodeMeta{
		APIPort:         cfg.APIPort,
		RaftPort:        cfg.RaftPort,
		InCluster:       a.store.HasState(),
		BootstrapExpect: cfg.BootstrapExpect,
		CPU:             [2]int64{cfg.Allocatable.MilliCPU, cfg.Allocatable.MilliCPU},
		Mem:             [2]int64{cfg.Allocatable.Memory, cfg.Allocatable.Memory},
		Pods:            [2]int64{cfg.Allocatable.Pods, cfg.Allocatable.Pods},
		CapCPU:          cfg.Capacity.MilliCPU,
		CapMem:          cfg.Capacity.Memory,
		Eph:             [2]int64{cfg.Allocatable.EphemeralStorage, cfg.Allocatable.EphemeralStorage},
		CapEph:          cfg.Capacity.EphemeralStorage,
		OS:              machine.OS,
		Arch:            machine.Arch,
		Kernel:          machine.KernelVersion,
		Image:           machine.OSImage,
		Ver:             cfg.Version,
		Labels:          cfg.Labels,
	}}
	if _, err := a.meta.meta.encode(); err != nil {
		return nil, fmt.Errorf("--labels: %w", err)
	}
	a.ml, err = newMemberlist(&a.cfg, a.meta, a.members)
	if err != nil {
		return nil, err
	}
	a.watches = newWatchLimiter(cfg.Limits.MaxWatchesPerClient)
	a.api = apiserver.New(apiBackend{a}, apiserver.Config{
		Logger:                a.log.With("component", "apiserver"),
		WatchWriteTimeout:     cfg.Limits.WatchWriteTimeout,
		WatchBookmarkInterval: cfg.WatchBookmarkInterval,
		MaxDeploymentReplicas: cfg.Limits.MaxDeploymentReplicas,
		AllowedHostPaths:      cfg.AllowedHostPaths,
		ServiceAccountTokens:  a.saTokens,
	})
	// No ReadTimeout or WriteTimeout: they would cut watches, `logs -f`,
	// exec and uploads; withLimits sets per-request deadlines instead.
	a.httpServer = &http.Server{
		// Authentication first, so that the limits know whom a watch is for;
		// protobuf bodies (client-go's typed clients) become JSON inside
		// the body limits.
		Handler: a.authMiddleware()(a.withLimits(a.protobuf.Middleware(a.routes(),
			func(w http.ResponseWriter, msg string) { apiserver.WriteError(w, api.NewBadRequest(msg)) }))),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cfg.Limits.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          logbridge.StdLogger(a.log.With("component", "http")),
	}
	a.log.Info("agent started",
		"name", cfg.NodeName, "gossip", net.JoinHostPort(cfg.advertiseIP(), strconv.Itoa(cfg.GossipPort)),
		"raft", rc.AdvertiseAddr, "api", "https://"+apiAddr, "data_dir", cfg.DataDir,
		"raft_state", a.meta.get().InCluster)
	return a, nil
}

// Run serves the API, joins the cluster and runs the agent's loops until ctx
// ends, then shuts down gracefully: a leader first hands leadership over,
// then the agent leaves gossip, so the others see "left", not "dead".
func (a *Agent) Run(ctx context.Context) error {
	loopCtx, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(loopCtx)
		}()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.httpServer.Serve(a.apiListener) }()

	run(a.joinLoop)
	run(a.bootstrapLoop)
	run(a.leadershipLoop)
	run(a.metaLoop)
	run(a.reconnectLoop)
	run(a.nodeLoop)
	run(a.statusLoop)
	run(a.serviceProxyLoop)
	run(a.clusterDNSLoop)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve API: %w", err)
	}
	a.log.Info("shutting down")
	stopLoops()
	wg.Wait()
	a.shutdown()
	return runErr
}

// storeShutdownTimeout bounds Raft's shutdown at exit.
const storeShutdownTimeout = 5 * time.Second

// shutdown runs the clean-exit sequence on its own bounded time budget.
func (a *Agent) shutdown() {
	if a.store.IsLeader() {
		if err := a.store.TransferLeadership(); err != nil {
			a.log.Warn("leadership transfer failed; the others will elect a leader after a timeout", "error", err)
		} else {
			a.log.Info("handed leadership over to another voter")
		}
	}
	if changed, _ := a.meta.update(func(m *nodeMeta) { m.Leaving = true }); changed {
		_ = a.ml.UpdateNode(time.Second)
	}
	if err := a.ml.Leave(3 * time.Second); err != nil {
		a.log.Warn("leave gossip", "error", err)
	}
	if err := a.ml.Shutdown(); err != nil {
		a.log.Warn("stop gossip", "error", err)
	}
	a.api.StopWatches()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.httpServer.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn("stop API server", "error", err)
	}
	// Raft's and bbolt's shutdowns wait for their goroutines and read
	// transactions; bounded, so that a stuck one cannot keep the agent from
	// exiting (bbolt is crash-safe, and the log replays on the next start).
	stopped := make(chan error, 1)
	go func() { stopped <- a.store.Shutdown() }()
	select {
	case err := <-stopped:
		if err != nil {
			a.log.Warn("stop raft", "error", err)
		}
	case <-time.After(storeShutdownTimeout):
		a.log.Warn("raft did not stop in time; exiting without closing its store", "timeout", storeShutdownTimeout)
	}
	a.tls.close()
	a.log.Info("agent stopped")
}

// metaLoop keeps the gossiped InCluster flag true to the Raft state (it
// turns true when this agent is bootstrapped or added by a leader) and
// remembers the live peers for the next start.
func (a *Agent) metaLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var peers []string
	for {
		a.syncMeta()
		a.members.Prune(24 * time.Hour)
		var err error
		if peers, err = a.savePeers(peers); err != nil {
			a.log.Warn("remember peers", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// syncMeta re-announces this agent's metadata if its Raft membership or
// its node's pressure changed.
func (a *Agent) syncMeta() {
	inCluster := a.store.HasState()
	var pressure pressureBits
	if r, ok := a.cfg.Runtime.(pressureReporter); ok {
		pressure = pressureOf(r.Pressure())
	}
	changed, err := a.meta.update(func(m *nodeMeta) {
		m.InCluster = inCluster
		m.Pressure = pressure
	})
	if err != nil || !changed {
		return
	}
	if err := a.ml.UpdateNode(5 * time.Second); err != nil {
		a.log.Warn("announce node metadata", "error", err)
	}
}

// SetUsed announces how much of the node's allocatable resources its pods
// use, so that the leader places with up-to-date free resources.
func (a *Agent) SetUsed(used api.Resources) error {
	alloc := a.cfg.Allocatable
	changed, err := a.meta.update(func(m *nodeMeta) {
		m.CPU[1] = alloc.MilliCPU - used.MilliCPU
		m.Mem[1] = alloc.Memory - used.Memory
		m.Pods[1] = alloc.Pods - used.Pods
		m.Eph[1] = alloc.EphemeralStorage - used.EphemeralStorage
	})
	if err != nil || !changed {
		return err
	}
	return a.ml.UpdateNode(5 * time.Second)
}
