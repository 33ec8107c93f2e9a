package agent

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/runtime/clusterdns"
)

// ClusterDomain is the DNS domain of the cluster's names
// (<service>.<namespace>.svc.cluster.local), kubelet's and CoreDNS'
// default.
const ClusterDomain = "cluster.local"

// dnsRetry is how soon a DNS server that failed to start is tried again.
const dnsRetry = 5 * time.Second

// clusterDNSLoop runs this node's cluster DNS server, as CoreDNS with its
// kubernetes plugin answers in a Kubernetes cluster, but one per node
// (NodeLocal DNSCache's placement): it listens on the pods' gateway, port
// 53, once the node has a pod CIDR, answers the cluster's names from the
// replicated Services and EndpointSlices, rebuilt whenever either kind
// changes, and forwards the rest to the host's resolvers. Nodes without a
// pod network run none.
func (a *Agent) clusterDNSLoop(ctx context.Context) {
	if a.cfg.Network == nil {
		return
	}
	state := a.store.State()
	var srv *clusterdns.Server
	defer func() {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
	}()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var synced uint64
	for {
		changed := state.Changed()
		index := state.Index()
		if srv == nil {
			if gw, ok := a.cfg.Network.Gateway(); ok {
				var err error
				if srv, err = a.startClusterDNS(ctx, gw); err != nil {
					a.log.Warn("start the cluster DNS server; pods on this node resolve no cluster names", "error", err, "address", gw)
					retry.Reset(dnsRetry)
				} else {
					synced = 0 // rebuild at once
				}
			} else {
				// The pod CIDR comes with a state change, but is set on the
				// network by another loop: look again shortly.
				retry.Reset(time.Second)
			}
		}
		if srv != nil && (synced == 0 || serviceKindsChangedSince(state, synced)) {
			services, _ := state.Services(nil)
			slices, _ := state.EndpointSlices(nil)
			srv.Update(services, slices, nil)
			synced = index
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry.C:
		}
	}
}

// startClusterDNS starts the DNS server on gw:53. IP_FREEBIND lets it bind
// the gateway before the first pod's bridge carries it.
func (a *Agent) startClusterDNS(ctx context.Context, gw netip.Addr) (*clusterdns.Server, error) {
	cfg := clusterdns.DefaultConfig()
	cfg.Addr = net.JoinHostPort(gw.String(), strconv.Itoa(53))
	cfg.FreeBind = true
	cfg.ClusterDomain = ClusterDomain
	cfg.NameserverIPs = []netip.Addr{gw}
	cfg.Pods = clusterdns.PodsInsecure
	cfg.Logger = a.log.With("component", "clusterdns")
	srv, err := clusterdns.New(cfg)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Start(sctx); err != nil {
		return nil, err
	}
	a.log.Info("cluster DNS serving", "address", cfg.Addr, "domain", ClusterDomain)
	return srv, nil
}
