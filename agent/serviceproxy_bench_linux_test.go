package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/internal/testenv"
	"github.com/gossipod/gossipod/runtime/serviceproxy"
)

// syncWatcher is a ServiceProxy that tells, after each successful Sync of
// the real one, the highest resourceVersion among the slices it was given:
// a change committed at index i is in the kernel once that reaches i.
type syncWatcher struct {
	proxy ServiceProxy
	mu    sync.Mutex
	rv    uint64
	moved chan struct{} // closed and replaced when rv grows
}

func newSyncWatcher(p ServiceProxy) *syncWatcher {
	return &syncWatcher{proxy: p, moved: make(chan struct{})}
}

func (w *syncWatcher) Sync(ctx context.Context, services []*corev1.Service, eps []*discoveryv1.EndpointSlice) error {
	if err := w.proxy.Sync(ctx, services, eps); err != nil {
		return err
	}
	var highest uint64
	for _, es := range eps {
		if rv, err := strconv.ParseUint(es.ResourceVersion, 10, 64); err == nil && rv > highest {
			highest = rv
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if highest > w.rv {
		w.rv = highest
		close(w.moved)
		w.moved = make(chan struct{})
	}
	return nil
}

// waitFor blocks until a Sync with a slice at resourceVersion rv or later
// has returned.
func (w *syncWatcher) waitFor(ctx context.Context, rv uint64) error {
	for {
		w.mu.Lock()
		done, moved := w.rv >= rv, w.moved
		w.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("waiting for resourceVersion %d: %w", rv, ctx.Err())
		}
	}
}

// benchSlice is the managed EndpointSlice of service svc-i with the
// endpoints 10.244.<i/25>.<(i%25)*10+j+1> for j in endpoints.
func benchSlice(svc *api.Service, i int, endpoints []int) api.EndpointSlice {
	ready := true
	port, proto := int32(8080), corev1.ProtocolTCP
	name := "http"
	es := api.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-bench", UID: types.UID(fmt.Sprintf("slice-%d", i)),
			Labels: map[string]string{api.LabelServiceName: svc.Name, api.LabelManagedBy: api.EndpointSliceControllerID}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
	}
	for _, j := range endpoints {
		node := fmt.Sprintf("agent-%02d", j%3)
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.244.%d.%d", i/25, (i%25)*10+j+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &node,
		})
	}
	return es
}

// BenchmarkEndpointChangeToRules is issue 12's figure: with 1,000 Services
// of 10 endpoints each, one endpoint of one Service changes (removed, then
// added back, alternately) through the leader; the time until every one
// of 3 agents has that change programmed in its kernel by its real service
// proxy (nftables, each agent in a network namespace of its own), as p50
// and p99. It includes the Raft commit, every agent applying it, each
// agent's proxy loop noticing it and the proxy's incremental sync.
func BenchmarkEndpointChangeToRules(b *testing.B) {
	testenv.NeedRoot(b)
	const agents, services, endpoints = 3, 1000, 10
	watchers := make([]*syncWatcher, agents)
	for i := range agents {
		name := fmt.Sprintf("gspab%d-%d", os.Getpid()%10000, i)
		exec.Command("ip", "netns", "del", name).Run()
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			b.Fatalf("ip netns add: %v: %s", err, out)
		}
		b.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		p, err := serviceproxy.New(serviceproxy.Config{
			NodeName:    fmt.Sprintf("agent-%02d", i),
			NodeIPs:     []netip.Addr{netip.MustParseAddr(fmt.Sprintf("192.168.77.%d", i+1))},
			ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
			NetNS:       "/run/netns/" + name,
			Logger:      slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		watchers[i] = newSyncWatcher(p)
	}
	as, stop := startAgentsWith(b, nextBlock(), agents, agents, func(i int, cfg *Config) { cfg.ServiceProxy = watchers[i] })
	defer stop()
	waitForLeader(b, as, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	all := make([]int, endpoints)
	for j := range all {
		all[j] = j
	}
	svcs := make([]*api.Service, services)
	var last uint64
	for i := range services {
		svc := &api.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("svc-%d", i), UID: types.UID(fmt.Sprintf("svc-%d", i))},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}},
		}
		api.SetServiceDefaults(svc)
		res, err := as[i%agents].commitForControllers(ctx, consensus.CmdCreateService, consensus.CreateService{Service: *svc})
		// The new leader records the service CIDR right after its election.
		for deadline := time.Now().Add(10 * time.Second); err != nil && i == 0 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			res, err = as[0].commitForControllers(ctx, consensus.CmdCreateService, consensus.CreateService{Service: *svc})
		}
		if err != nil {
			b.Fatalf("create service %d: %v", i, err)
		}
		created := &api.Service{}
		if err := json.Unmarshal(res, created); err != nil {
			b.Fatal(err)
		}
		svcs[i] = created
	}
	setSlice := func(i int, endpoints []int) uint64 {
		es := benchSlice(svcs[i], i, endpoints)
		cmd, err := consensus.NewCommand(consensus.CmdSetServiceEndpointSlices, consensus.SetServiceEndpointSlices{
			Namespace: svcs[i].Namespace, Service: svcs[i].Name, UID: svcs[i].UID, Slices: []api.EndpointSlice{es}})
		if err != nil {
			b.Fatal(err)
		}
		res, err := as[0].Commit(ctx, cmd)
		if err != nil {
			b.Fatalf("endpoint slice of service %d: %v", i, err)
		}
		return res.Index
	}
	for i := range services {
		last = setSlice(i, all)
	}
	for _, w := range watchers {
		if err := w.waitFor(ctx, last); err != nil {
			b.Fatal(err)
		}
	}

	var took []time.Duration
	n := 0
	for b.Loop() {
		i := n % services
		eps := all
		if (n/services)%2 == 0 {
			eps = all[1:] // remove endpoint 0, next round add it back
		}
		n++
		start := time.Now()
		rv := setSlice(i, eps)
		for _, w := range watchers {
			if err := w.waitFor(ctx, rv); err != nil {
				b.Fatal(err)
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
