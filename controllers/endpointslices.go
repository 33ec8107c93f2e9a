package controllers

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// EndpointSlicesState is what the EndpointSlice controller reads.
type EndpointSlicesState interface {
	Services(keep func(*api.Service) bool) ([]*api.Service, uint64)
	EndpointSlices(keep func(*api.EndpointSlice) bool) ([]*api.EndpointSlice, uint64)
	EndpointsOf(namespace, name string) (*api.Endpoints, bool)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
	Changed() <-chan struct{}
}

// EndpointSlices is kube-controller-manager's EndpointSlice controller on
// the leader: for every Service with a selector it keeps the Service's
// managed slices equal to the pods the selector selects, one endpoint per
// pod with an IP that has not finished, with kube-controller-manager's
// conditions (ready: Ready and not terminating, or publishNotReadyAddresses;
// serving: Ready; terminating: being deleted), the Service's ports resolved
// against each pod (a named targetPort by the pod's container ports), and
// at most MaxEndpointsPerSlice endpoints a slice. It commits only the
// Services whose slices differ, one command each, which the state machine
// applies only to the Service it was computed for.
//
// Fields are set before Run and not changed afterwards.
type EndpointSlices struct {
	State  EndpointSlicesState
	Commit Committer
	Log    *slog.Logger
	// NewUID makes the uids of new slices; random RFC 4122 UUIDs when nil.
	NewUID func() types.UID
}

// Run syncs at start and at every change of the state until ctx ends,
// retrying a failed pass after errorRetry.
func (c *EndpointSlices) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		changed := c.State.Changed()
		if !c.Sync(ctx) {
			timer.Reset(errorRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer.C:
		}
	}
}

// Sync runs one pass over every Service and reports whether every commit
// it needed succeeded.
func (c *EndpointSlices) Sync(ctx context.Context) bool {
	services, _ := c.State.Services(func(s *api.Service) bool {
		return len(s.Spec.Selector) > 0 && s.Spec.Type != api.ServiceTypeExternalName
	})
	if len(services) == 0 {
		return true
	}
	pods, _ := c.State.Pods(nil)
	podsByNamespace := map[string][]*api.Pod{}
	for _, p := range pods {
		podsByNamespace[p.Namespace] = append(podsByNamespace[p.Namespace], p)
	}
	managed, _ := c.State.EndpointSlices(func(es *api.EndpointSlice) bool {
		return es.Labels[api.LabelManagedBy] == api.EndpointSliceControllerID
	})
	current := map[string][]*api.EndpointSlice{} // by namespace/service
	for _, es := range managed {
		key := es.Namespace + "/" + es.Labels[api.LabelServiceName]
		current[key] = append(current[key], es)
	}
	ok := true
	for _, svc := range services {
		key := svc.Namespace + "/" + svc.Name
		want := DesiredEndpointSlices(svc, podsByNamespace[svc.Namespace])
		// The state machine mirrors the slices into the Service's v1
		// Endpoints; a Service stored before it did has none yet.
		if _, mirrored := c.State.EndpointsOf(svc.Namespace, svc.Name); mirrored && sameSlices(want, current[key]) {
			continue
		}
		existing := map[string]types.UID{}
		for _, es := range current[key] {
			existing[es.Name] = es.UID
		}
		for i := range want {
			if uid, ok := existing[want[i].Name]; ok {
				want[i].UID = uid
			} else {
				want[i].UID = c.newUID()
			}
		}
		_, err := c.Commit.Commit(ctx, consensus.CmdSetServiceEndpointSlices, consensus.SetServiceEndpointSlices{
			Namespace: svc.Namespace, Service: svc.Name, UID: svc.UID, Slices: want})
		if err != nil && ctx.Err() == nil {
			c.Log.Warn("update endpoint slices", "service", key, "error", err)
			ok = false
		}
	}
	return ok
}

func (c *EndpointSlices) newUID() types.UID {
	if c.NewUID != nil {
		return c.NewUID()
	}
	return randomUID()
}

// sameSlices reports whether the stored slices already say what want does.
func sameSlices(want []api.EndpointSlice, have []*api.EndpointSlice) bool {
	if len(want) != len(have) {
		return false
	}
	byName := map[string]*api.EndpointSlice{}
	for _, es := range have {
		byName[es.Name] = es
	}
	for i := range want {
		h, ok := byName[want[i].Name]
		if !ok || !maps.Equal(h.Labels, want[i].Labels) || h.AddressType != want[i].AddressType ||
			!equality.Semantic.DeepEqual(h.Endpoints, want[i].Endpoints) || !equality.Semantic.DeepEqual(h.Ports, want[i].Ports) {
			return false
		}
	}
	return true
}

// DesiredEndpointSlices computes the managed slices of svc from the pods
// of its namespace, without uids: pods whose resolved ports are the same
// share slices, in order of pod name, MaxEndpointsPerSlice a slice. A
// Service that selects no pod gets one slice without endpoints or ports,
// as kube-controller-manager's placeholder, so that readers can tell "no
// endpoints" from "not synced yet".
func DesiredEndpointSlices(svc *api.Service, pods []*api.Pod) []api.EndpointSlice {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	groups := map[string][]api.Endpoint{}
	groupPorts := map[string][]api.EndpointPort{}
	for _, p := range pods {
		if p.Status.PodIP == "" || api.IsTerminal(p) || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		ports := endpointPorts(svc, p)
		key := portsKey(ports)
		groups[key] = append(groups[key], podEndpoint(svc, p))
		groupPorts[key] = ports
	}
	if len(groups) == 0 {
		return []api.EndpointSlice{newSlice(svc, "", 0, []api.EndpointPort{}, nil)}
	}
	var out []api.EndpointSlice
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		eps := groups[key]
		slices.SortFunc(eps, func(a, b api.Endpoint) int { return strings.Compare(a.TargetRef.Name, b.TargetRef.Name) })
		for n := 0; len(eps) > 0; n++ {
			chunk := eps[:min(api.MaxEndpointsPerSlice, len(eps))]
			eps = eps[len(chunk):]
			out = append(out, newSlice(svc, key, n, groupPorts[key], chunk))
		}
	}
	return out
}

func newSlice(svc *api.Service, key string, n int, ports []api.EndpointPort, eps []api.Endpoint) api.EndpointSlice {
	return api.EndpointSlice{
		TypeMeta: api.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: api.ObjectMeta{
			Name:      api.EndpointSliceName(svc.Name, key, n),
			Namespace: svc.Namespace,
			Labels: map[string]string{
				api.LabelServiceName: svc.Name,
				api.LabelManagedBy:   api.EndpointSliceControllerID,
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
		Ports:       ports,
	}
}

// podEndpoint is kube-controller-manager's podToEndpoint.
func podEndpoint(svc *api.Service, p *api.Pod) api.Endpoint {
	podReady := false
	if c := api.GetPodCondition(p, corev1.PodReady); c != nil && c.Status == corev1.ConditionTrue {
		podReady = true
	}
	serving := svc.Spec.PublishNotReadyAddresses || podReady
	terminating := p.DeletionTimestamp != nil
	// Never ready while terminating, unless publishNotReadyAddresses.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := api.Endpoint{
		Addresses:  []string{p.Status.PodIP},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Spec.NodeName != "" {
		node := p.Spec.NodeName
		ep.NodeName = &node
	}
	return ep
}

// endpointPorts resolves the Service's ports against one pod: a numeric
// targetPort as it is, a named one by the container port of that name and
// protocol; a port the pod does not have is left out for that pod, as
// kube-controller-manager leaves it.
func endpointPorts(svc *api.Service, p *api.Pod) []api.EndpointPort {
	out := []api.EndpointPort{}
	for _, sp := range svc.Spec.Ports {
		port, ok := findPort(p, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		out = append(out, api.EndpointPort{Name: &name, Protocol: &proto, Port: &port, AppProtocol: sp.AppProtocol})
	}
	return out
}

// findPort is podutil.FindPort.
func findPort(p *api.Pod, sp api.ServicePort) (int32, bool) {
	switch sp.TargetPort.Type {
	case intstr.String:
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal && cp.Protocol == sp.Protocol {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	default:
		return int32(sp.TargetPort.IntValue()), true
	}
}

// portsKey names a set of resolved ports, the key pods share slices by.
func portsKey(ports []api.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d", *p.Name, *p.Protocol, *p.Port)
	}
	return strings.Join(parts, ",")
}
