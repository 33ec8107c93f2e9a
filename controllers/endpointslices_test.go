package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// sliceWorld is the real state machine over a MemStore, with a node, the
// default namespace and the service CIDR, for the EndpointSlice
// controller to read and commit to.
type sliceWorld struct {
	t     *testing.T
	store *consensus.MemStore
	ctl   *EndpointSlices
}

func newSliceWorld(t *testing.T) *sliceWorld {
	w := &sliceWorld{t: t, store: consensus.NewMemStore()}
	w.commit(consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns"}}})
	w.commit(consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{Network: consensus.ClusterNetwork{
		ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/12"}})
	room := api.ResourceList{api.ResourceCPU: resource.MustParse("8"), api.ResourceMemory: resource.MustParse("8Gi"), api.ResourcePods: resource.MustParse("110")}
	w.commit(consensus.CmdRegisterNode, consensus.RegisterNode{Node: api.Node{ObjectMeta: api.ObjectMeta{Name: "node-1", UID: "n1"},
		Status: api.NodeStatus{Capacity: room, Allocatable: room}}})
	n := 0
	w.ctl = &EndpointSlices{State: w.store.State(), Commit: CommitFunc(func(ctx context.Context, t consensus.CommandType, p any) (json.RawMessage, error) {
		res, err := w.store.CommitPayload(ctx, t, p)
		return res.Response, err
	}), Log: slog.New(slog.DiscardHandler), NewUID: func() types.UID { n++; return types.UID(fmt.Sprintf("slice-%d", n)) }}
	return w
}

func (w *sliceWorld) commit(t consensus.CommandType, p any) {
	w.t.Helper()
	if _, err := w.store.CommitPayload(context.Background(), t, p); err != nil {
		w.t.Fatalf("%s: %v", t, err)
	}
}

// pod creates a pod labelled app=web on node-1 with a named port, then
// reports it running with ip, Ready or not.
func (w *sliceWorld) pod(name, ip string, ready bool) {
	w.t.Helper()
	p := api.Pod{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: api.PodSpec{NodeName: "node-1", Containers: []api.Container{{Name: "c", Image: "busybox",
			Ports: []api.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}}
	api.SetPodDefaults(&p)
	w.commit(consensus.CmdCreatePod, consensus.CreatePod{Pod: p})
	w.status(name, ip, ready)
}

func (w *sliceWorld) status(name, ip string, ready bool) {
	w.t.Helper()
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	w.commit(consensus.CmdSetPodStatuses, consensus.SetPodStatuses{Node: "node-1", Updates: []consensus.PodStatusUpdate{{
		Namespace: "default", Name: name, UID: types.UID("uid-" + name), Status: api.PodStatus{Phase: api.PodRunning, PodIP: ip,
			Conditions: []api.PodCondition{{Type: corev1.PodReady, Status: cond}}}}}})
}

// endpoints sums up the managed slices of web: "ip ready/serving/terminating".
func (w *sliceWorld) endpoints() (names []string, eps []string, ports []string) {
	all, _ := w.store.State().EndpointSlices(nil)
	for _, es := range all {
		if es.Labels[api.LabelServiceName] != "web" {
			continue
		}
		names = append(names, es.Name)
		for _, ep := range es.Endpoints {
			eps = append(eps, fmt.Sprintf("%s %t/%t/%t %s", ep.Addresses[0], *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating, ep.TargetRef.Name))
		}
		for _, p := range es.Ports {
			ports = append(ports, fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port))
		}
	}
	slices.Sort(eps)
	return names, eps, ports
}

// TestEndpointSlicesFollowPods: the controller keeps a Service's slices
// equal to its pods' readiness and deletion, resolves named target ports,
// writes nothing when nothing changed, and the slices go with the Service.
func TestEndpointSlicesFollowPods(t *testing.T) {
	w := newSliceWorld(t)
	ctx := context.Background()
	svc := api.Service{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-web"}, Spec: api.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []api.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	w.commit(consensus.CmdCreateService, consensus.CreateService{Service: svc})

	w.ctl.Sync(ctx)
	names, eps, ports := w.endpoints()
	if len(names) != 1 || len(eps) != 0 || len(ports) != 0 {
		t.Fatalf("no pods: slices %v endpoints %v ports %v, want one placeholder slice", names, eps, ports)
	}

	w.pod("web-a", "10.88.1.2", true)
	w.pod("web-b", "10.88.1.3", false)
	w.pod("pending", "", true) // no IP yet: no endpoint
	w.ctl.Sync(ctx)
	_, eps, ports = w.endpoints()
	want := []string{"10.88.1.2 true/true/false web-a", "10.88.1.3 false/false/false web-b"}
	if !slices.Equal(eps, want) || !slices.Equal(ports, []string{"http/TCP/8080"}) {
		t.Fatalf("endpoints %v ports %v, want %v and http/TCP/8080", eps, ports, want)
	}

	index := w.store.State().Index()
	w.ctl.Sync(ctx)
	if got := w.store.State().Index(); got != index {
		t.Errorf("a pass with nothing changed committed (index %d → %d)", index, got)
	}

	w.status("web-b", "10.88.1.3", true)
	w.commit(consensus.CmdDeletePod, consensus.DeletePod{Namespace: "default", Name: "web-a", UID: "uid-web-a"})
	w.ctl.Sync(ctx)
	_, eps, _ = w.endpoints()
	want = []string{"10.88.1.2 false/true/true web-a", "10.88.1.3 true/true/false web-b"}
	if !slices.Equal(eps, want) {
		t.Fatalf("after web-b Ready and web-a deleted: %v, want %v", eps, want)
	}

	w.commit(consensus.CmdDeleteService, consensus.DeleteService{Namespace: "default", Name: "web"})
	if names, _, _ := w.endpoints(); len(names) != 0 {
		t.Errorf("slices %v outlived their Service", names)
	}
}

// TestDesiredEndpointSlicesSplit: more than MaxEndpointsPerSlice pods
// fill several slices, with names every replica computes alike.
func TestDesiredEndpointSlicesSplit(t *testing.T) {
	svc := &api.Service{ObjectMeta: api.ObjectMeta{Name: "big", Namespace: "default"}, Spec: api.ServiceSpec{
		Selector: map[string]string{"app": "big"}, Ports: []api.ServicePort{{Port: 80, Protocol: api.ProtocolTCP, TargetPort: intstr.FromInt32(80)}}}}
	var pods []*api.Pod
	for i := range 250 {
		pods = append(pods, &api.Pod{ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("p%03d", i), Namespace: "default", Labels: map[string]string{"app": "big"}},
			Status: api.PodStatus{Phase: api.PodRunning, PodIP: fmt.Sprintf("10.88.%d.%d", i/200, i%200+2)}})
	}
	got := DesiredEndpointSlices(svc, pods)
	var sizes []int
	seen := map[string]bool{}
	for _, es := range got {
		sizes = append(sizes, len(es.Endpoints))
		if seen[es.Name] {
			t.Errorf("slice name %s twice", es.Name)
		}
		seen[es.Name] = true
		if err := api.ValidateEndpointSlice(&es); err != nil {
			t.Errorf("slice %s invalid: %v", es.Name, err)
		}
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("slice sizes %v, want [100 100 50]", sizes)
	}
	again := DesiredEndpointSlices(svc, pods)
	for i := range got {
		if got[i].Name != again[i].Name {
			t.Errorf("slice %d named %s then %s", i, got[i].Name, again[i].Name)
		}
	}
}

// unmirrored is a state whose Services have no v1 Endpoints, as one
// stored before the state machine mirrored them.
type unmirrored struct{ *consensus.State }

func (unmirrored) EndpointsOf(namespace, name string) (*api.Endpoints, bool) { return nil, false }

// TestEndpointSlicesMirrorOldServices: a Service whose slices are up to
// date but which has no Endpoints (stored before they existed) gets a
// commit, which makes them; one that has them gets none.
func TestEndpointSlicesMirrorOldServices(t *testing.T) {
	w := newSliceWorld(t)
	ctx := context.Background()
	w.commit(consensus.CmdCreateService, consensus.CreateService{Service: api.Service{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-web"},
		Spec:       api.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []api.ServicePort{{Port: 80}}}}})
	w.pod("web-a", "10.88.1.2", true)
	w.ctl.Sync(ctx)
	index := w.store.State().Index()
	w.ctl.Sync(ctx)
	if got := w.store.State().Index(); got != index {
		t.Fatalf("mirrored and unchanged: committed (index %d → %d)", index, got)
	}
	old := *w.ctl
	old.State = unmirrored{w.store.State()}
	old.Sync(ctx)
	if got := w.store.State().Index(); got != index+1 {
		t.Errorf("unmirrored Service: index %d → %d, want one commit", index, got)
	}
	if ep, ok := w.store.State().EndpointsOf("default", "web"); !ok || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "10.88.1.2" {
		t.Errorf("endpoints %+v", ep)
	}
}
