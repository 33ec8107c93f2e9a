package consensus

import (
	"cmp"
	"crypto/sha1"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// Endpoints returns the Endpoints keep selects (all when nil), sorted by
// namespace and name, and the index they reflect. The objects are shared:
// callers must not change them.
func (s *State) Endpoints(keep func(*api.Endpoints) bool) ([]*api.Endpoints, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.Endpoints
	for _, key := range slices.Sorted(maps.Keys(s.endpoints)) {
		if ep := s.endpoints[key]; keep == nil || keep(ep) {
			out = append(out, ep)
		}
	}
	return out, s.index
}

// EndpointsOf returns one Endpoints; the caller must not change it.
func (s *State) EndpointsOf(namespace, name string) (*api.Endpoints, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ep, ok := s.endpoints[podKey(namespace, name)]
	return ep, ok
}

// mirrorEndpoints sets the v1 Endpoints of svc from the EndpointSlices the
// state holds for it, in the same log entry as the slices, so the two
// never disagree. The content is kube-controller-manager's endpoints
// controller's for the same pods: an endpoint that is ready goes to
// addresses; one that is not, to notReadyAddresses, unless it is
// terminating (a terminating pod is left out unless the Service publishes
// not-ready addresses, and then it is ready); subsets group the addresses
// by their ports, repacked and sorted as endpoints.RepackSubsets does. The
// uid is derived from the Service's, so every replica makes the same.
// Unchanged Endpoints are not written again.
func (s *State) mirrorEndpoints(index uint64, cmd Command, svc *api.Service, fromSlice func(*api.EndpointSlice) bool) {
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		es := s.endpointSlices[key]
		if !fromSlice(es) {
			continue
		}
		var ports []corev1.EndpointPort
		for _, p := range es.Ports {
			ep := corev1.EndpointPort{AppProtocol: p.AppProtocol}
			if p.Name != nil {
				ep.Name = *p.Name
			}
			if p.Port != nil {
				ep.Port = *p.Port
			}
			ep.Protocol = corev1.ProtocolTCP
			if p.Protocol != nil {
				ep.Protocol = *p.Protocol
			}
			ports = append(ports, ep)
		}
		if len(ports) == 0 {
			continue // a subset without ports is dropped, as RepackSubsets drops it
		}
		slices.SortFunc(ports, func(a, b corev1.EndpointPort) int { return cmp.Compare(a.Name, b.Name) })
		gk := endpointsPortsKey(ports)
		g := groups[gk]
		if g == nil {
			g = &group{ports: ports}
			groups[gk] = g
		}
		for _, e := range es.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			if !ready && terminating {
				continue
			}
			for _, ip := range e.Addresses {
				a := corev1.EndpointAddress{IP: ip, NodeName: e.NodeName, Hostname: ptrValue(e.Hostname)}
				if e.TargetRef != nil {
					ref := *e.TargetRef
					a.TargetRef = &ref
				}
				if ready {
					g.ready = append(g.ready, a)
				} else {
					g.notReady = append(g.notReady, a)
				}
			}
		}
	}
	var subsets []corev1.EndpointSubset
	for _, gk := range slices.Sorted(maps.Keys(groups)) {
		g := groups[gk]
		if len(g.ready) == 0 && len(g.notReady) == 0 {
			continue
		}
		slices.SortFunc(g.ready, compareAddresses)
		slices.SortFunc(g.notReady, compareAddresses)
		subsets = append(subsets, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	labels := maps.Clone(svc.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if svc.Spec.ClusterIP == api.ClusterIPNone {
		labels[api.LabelHeadless] = ""
	}
	if svc.Namespace == api.DefaultNamespace && svc.Name == api.KubernetesServiceName && len(svc.Spec.Selector) == 0 {
		labels[api.LabelSkipMirror] = "true"
	}
	if len(labels) == 0 {
		labels = nil
	}
	key := podKey(svc.Namespace, svc.Name)
	old, exists := s.endpoints[key]
	if exists && maps.Equal(old.Labels, labels) && equality.Semantic.DeepEqual(old.Subsets, subsets) {
		return
	}
	ep := &api.Endpoints{
		TypeMeta:   api.TypeMeta{Kind: "Endpoints", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: labels},
		Subsets:    subsets,
	}
	if exists {
		ep.UID, ep.CreationTimestamp = old.UID, old.CreationTimestamp
	} else {
		ep.UID, ep.CreationTimestamp = endpointsUID(svc.UID), api.NewTime(cmd.Time)
	}
	ep.ResourceVersion = strconv.FormatUint(index, 10)
	s.endpoints[key] = ep
	s.emit(index, "Endpoints", added(exists), ep)
}

// removeEndpointsOf deletes the Endpoints of a Service being deleted.
func (s *State) removeEndpointsOf(index uint64, namespace, name string) {
	key := podKey(namespace, name)
	if ep, ok := s.endpoints[key]; ok {
		delete(s.endpoints, key)
		emitDeleted(s, index, "Endpoints", ep)
	}
}

// removeNamespaceEndpoints deletes every Endpoints of a namespace being
// deleted.
func (s *State) removeNamespaceEndpoints(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.endpoints)) {
		if ep := s.endpoints[key]; ep.Namespace == namespace {
			delete(s.endpoints, key)
			emitDeleted(s, index, "Endpoints", ep)
		}
	}
}

// endpointsUID is the uid of a Service's Endpoints: a name-based (SHA-1,
// RFC 4122 version 5 layout) UUID of the Service's uid, the same on every
// replica and distinct from any random one.
func endpointsUID(service types.UID) types.UID {
	h := sha1.Sum([]byte("endpoints/" + string(service)))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
}

func endpointsPortsKey(ports []corev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%s/%d", p.Name, p.Protocol, p.Port)
	}
	return strings.Join(parts, ",")
}

// compareAddresses orders addresses by IP, then by target.
func compareAddresses(a, b corev1.EndpointAddress) int {
	x, errx := netip.ParseAddr(a.IP)
	y, erry := netip.ParseAddr(b.IP)
	if errx == nil && erry == nil {
		if c := x.Compare(y); c != 0 {
			return c
		}
	} else if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c
	}
	var an, bn string
	if a.TargetRef != nil {
		an = a.TargetRef.Name
	}
	if b.TargetRef != nil {
		bn = b.TargetRef.Name
	}
	return strings.Compare(an, bn)
}

func ptrValue(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
