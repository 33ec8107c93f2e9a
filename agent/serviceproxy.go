package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gossipod/gossipod/consensus"
)

// ServiceProxy is this node's service data plane (runtime/serviceproxy's
// Proxier): it makes the node's kernel send a Service's cluster IP and
// node ports to the Service's endpoints.
type ServiceProxy interface {
	// Sync makes the data plane match services and slices.
	Sync(ctx context.Context, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) error
}

// serviceProxyRetry is how soon a failed Sync is tried again when nothing
// changes meanwhile.
const serviceProxyRetry = time.Second

// serviceProxyLoop hands the replicated Services and EndpointSlices to the
// service proxy at start and whenever either kind changes, as kube-proxy
// syncs on its informers' events; changes of other kinds (pod status, most
// of the log) cost a look at the change log only. A failed Sync is retried.
func (a *Agent) serviceProxyLoop(ctx context.Context) {
	proxy := a.cfg.ServiceProxy
	if proxy == nil {
		return
	}
	state := a.store.State()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var synced uint64
	first := true
	for {
		changed := state.Changed()
		index := state.Index()
		if first || serviceKindsChangedSince(state, synced) {
			services, _ := state.Services(nil)
			slices, _ := state.EndpointSlices(nil)
			if err := proxy.Sync(ctx, services, slices); err != nil {
				if ctx.Err() != nil {
					return
				}
				a.log.Warn("program the service proxy", "error", err, "services", len(services))
				retry.Reset(serviceProxyRetry)
			} else {
				synced, first = index, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry.C:
			first = true
		}
	}
}

// serviceKindsChangedSince reports whether a Service or EndpointSlice
// changed after index, or the change log no longer reaches back that far.
func serviceKindsChangedSince(state *consensus.State, index uint64) bool {
	for _, kind := range []string{"Service", "EndpointSlice"} {
		events, _, ok := state.WatchSince(index, kind)
		if !ok || len(events) > 0 {
			return true
		}
	}
	return false
}
