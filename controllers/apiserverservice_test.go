package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// fakeAPIServers is the gossip view: the live agents' API addresses.
type fakeAPIServers struct {
	mu    sync.Mutex
	addrs []netip.AddrPort
}

func (f *fakeAPIServers) APIServerAddresses() []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.addrs)
}

func (f *fakeAPIServers) set(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs = nil
	for _, a := range addrs {
		f.addrs = append(f.addrs, netip.MustParseAddrPort(a))
	}
}

func newAPIServerServiceWorld(t *testing.T) (*sliceWorld, *APIServerService, *fakeAPIServers) {
	w := newSliceWorld(t)
	servers := &fakeAPIServers{}
	n := 0
	c := &APIServerService{State: w.store.State(), Servers: servers, Port: 7948,
		Commit: CommitFunc(func(ctx context.Context, t consensus.CommandType, p any) (json.RawMessage, error) {
			res, err := w.store.CommitPayload(ctx, t, p)
			return res.Response, err
		}), Log: slog.New(slog.DiscardHandler), NewUID: func() types.UID { n++; return types.UID(fmt.Sprintf("kube-%d", n)) }}
	return w, c, servers
}

// apiEndpoints sums up the slice default/kubernetes: "ip ready" and "name/proto/port".
func apiEndpoints(t *testing.T, s *consensus.State) (eps []string, ports []string, rv string) {
	t.Helper()
	es, ok := s.EndpointSlice("default", "kubernetes")
	if !ok {
		return nil, nil, ""
	}
	if got := es.Labels; len(got) != 1 || got[api.LabelServiceName] != "kubernetes" {
		t.Errorf("labels %v, want only %s=kubernetes", got, api.LabelServiceName)
	}
	for _, ep := range es.Endpoints {
		eps = append(eps, fmt.Sprintf("%s %v", strings.Join(ep.Addresses, ","), *ep.Conditions.Ready))
	}
	for _, p := range es.Ports {
		ports = append(ports, fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port))
	}
	return eps, ports, es.ResourceVersion
}

// TestAPIServerService: the leader keeps default/kubernetes as
// kube-apiserver does: on the service CIDR's first address, port 443
// "https" to the agents' API port, no selector, and a slice of the live
// agents serving on that port, following gossip; a changed port is reset
// and a deleted Service made again.
func TestAPIServerService(t *testing.T) {
	w, c, servers := newAPIServerServiceWorld(t)
	ctx := context.Background()
	state := w.store.State()

	servers.set("192.168.1.12:7948", "192.168.1.10:7948", "192.168.1.11:9999")
	c.Reconcile(ctx)
	svc, ok := state.Service("default", "kubernetes")
	if !ok {
		t.Fatal("no Service default/kubernetes")
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Type != api.ServiceTypeClusterIP || len(svc.Spec.Selector) != 0 ||
		svc.Labels["component"] != "apiserver" || svc.Labels["provider"] != "kubernetes" {
		t.Errorf("service %+v labels %v", svc.Spec, svc.Labels)
	}
	if want := []api.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(7948)}}; !slices.Equal(svc.Spec.Ports, want) {
		t.Errorf("ports %+v, want %+v", svc.Spec.Ports, want)
	}
	// The agent on another port is left out; addresses sorted.
	eps, ports, rv := apiEndpoints(t, state)
	if want := []string{"192.168.1.10 true", "192.168.1.12 true"}; !slices.Equal(eps, want) {
		t.Errorf("endpoints %v, want %v", eps, want)
	}
	if want := []string{"https/TCP/7948"}; !slices.Equal(ports, want) {
		t.Errorf("ports %v, want %v", ports, want)
	}

	// The v1 Endpoints, for old clients, say the same.
	if ep, ok := state.EndpointsOf("default", "kubernetes"); !ok || len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 2 ||
		ep.Subsets[0].Addresses[0].IP != "192.168.1.10" || ep.Subsets[0].Ports[0].Port != 7948 {
		t.Errorf("endpoints %+v", ep)
	}

	// Nothing changed: nothing committed.
	index := state.Index()
	c.Reconcile(ctx)
	if state.Index() != index {
		t.Errorf("an unchanged reconcile committed (index %d → %d)", index, state.Index())
	}

	// An agent dies, another joins.
	servers.set("192.168.1.12:7948", "192.168.1.13:7948")
	c.Reconcile(ctx)
	eps, _, rv2 := apiEndpoints(t, state)
	if want := []string{"192.168.1.12 true", "192.168.1.13 true"}; !slices.Equal(eps, want) || rv2 == rv {
		t.Errorf("endpoints %v (rv %s → %s), want %v", eps, rv, rv2, want)
	}

	// A user changes the port: reset. A user deletes it: made again.
	changed := svc.DeepCopy()
	changed.Spec.Ports[0].Port = 8443
	changed.ResourceVersion = ""
	w.commit(consensus.CmdUpdateService, consensus.UpdateService{Service: *changed})
	c.Reconcile(ctx)
	if svc, _ := state.Service("default", "kubernetes"); svc.Spec.Ports[0].Port != 443 {
		t.Errorf("port not reset: %+v", svc.Spec.Ports)
	}
	w.commit(consensus.CmdDeleteService, consensus.DeleteService{Namespace: "default", Name: "kubernetes"})
	c.Reconcile(ctx)
	if svc, ok := state.Service("default", "kubernetes"); !ok || svc.Spec.ClusterIP != "10.96.0.1" {
		t.Errorf("service not made again on the first address: %v %+v", ok, svc)
	}
	if eps, _, _ := apiEndpoints(t, state); len(eps) != 2 {
		t.Errorf("endpoints after re-creation %v", eps)
	}
}

// TestAPIServerServiceWaitsForServiceCIDR: before the leader records the
// cluster network, there is no first address to give it.
func TestAPIServerServiceWaitsForServiceCIDR(t *testing.T) {
	store := consensus.NewMemStore()
	if _, err := store.CommitPayload(context.Background(), consensus.CmdCreateNamespace, consensus.CreateNamespace{
		Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns"}}}); err != nil {
		t.Fatal(err)
	}
	committed := 0
	c := &APIServerService{State: store.State(), Servers: &fakeAPIServers{}, Port: 7948, Log: slog.New(slog.DiscardHandler),
		Commit: CommitFunc(func(ctx context.Context, t consensus.CommandType, p any) (json.RawMessage, error) {
			committed++
			res, err := store.CommitPayload(ctx, t, p)
			return res.Response, err
		})}
	c.Reconcile(context.Background())
	if committed != 0 {
		t.Errorf("%d commits before the service CIDR is known", committed)
	}
}
