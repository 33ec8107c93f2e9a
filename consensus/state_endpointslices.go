package consensus

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// CmdSetServiceEndpointSlices is the EndpointSlice controller's command.
const CmdSetServiceEndpointSlices CommandType = "SetServiceEndpointSlices"

// SetServiceEndpointSlices replaces the managed EndpointSlices of one
// Service with Slices, as the leader's EndpointSlice controller computed
// them from the pods the Service selects. It applies only while the
// Service is the one the controller read (UID): a pass that raced with
// the Service's deletion or re-creation changes nothing. A slice whose
// content is unchanged keeps its resourceVersion and sends no watch event,
// so proxies and DNS servers see only what changed.
type SetServiceEndpointSlices struct {
	Namespace string              `json:"namespace"`
	Service   string              `json:"service"`
	UID       types.UID           `json:"uid"`
	Slices    []api.EndpointSlice `json:"slices"`
}

// EndpointSlices returns the slices keep selects (all when nil), sorted by
// namespace and name, and the index they reflect. The objects are shared:
// callers must not change them.
func (s *State) EndpointSlices(keep func(*api.EndpointSlice) bool) ([]*api.EndpointSlice, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.EndpointSlice
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		if es := s.endpointSlices[key]; keep == nil || keep(es) {
			out = append(out, es)
		}
	}
	return out, s.index
}

// EndpointSlice returns one slice; the caller must not change it.
func (s *State) EndpointSlice(namespace, name string) (*api.EndpointSlice, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	es, ok := s.endpointSlices[podKey(namespace, name)]
	return es, ok
}

// managedSliceOf reports whether es is one the controller manages for the
// Service named service.
func managedSliceOf(es *api.EndpointSlice, namespace, service string) bool {
	return es.Namespace == namespace && es.Labels[api.LabelServiceName] == service &&
		es.Labels[api.LabelManagedBy] == api.EndpointSliceControllerID
}

func (s *State) setServiceEndpointSlices(index uint64, cmd Command, p SetServiceEndpointSlices) error {
	svc, ok := s.services[podKey(p.Namespace, p.Service)]
	if !ok || svc.UID != p.UID {
		return api.NewNotFound("services", p.Service)
	}
	want := map[string]*api.EndpointSlice{}
	for i := range p.Slices {
		es := p.Slices[i].DeepCopy()
		if es.Namespace != p.Namespace || !strings.HasPrefix(es.Name, p.Service+"-") || !managedSliceOf(es, p.Namespace, p.Service) {
			return api.NewBadRequest(fmt.Sprintf("endpointslice %s/%s: not a managed slice of service %s/%s", es.Namespace, es.Name, p.Namespace, p.Service))
		}
		if err := api.ValidateEndpointSlice(es); err != nil {
			return err
		}
		if _, dup := want[es.Name]; dup {
			return api.NewBadRequest(fmt.Sprintf("endpointslice %s appears twice", es.Name))
		}
		want[es.Name] = es
	}
	// Deletions first, then creations and updates, each in name order, so
	// every replica emits the same events.
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		old := s.endpointSlices[key]
		if managedSliceOf(old, p.Namespace, p.Service) && want[old.Name] == nil {
			delete(s.endpointSlices, key)
			emitDeleted(s, index, "EndpointSlice", old)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		es := want[name]
		key := podKey(es.Namespace, es.Name)
		old, exists := s.endpointSlices[key]
		if exists && sameSliceContent(old, es) {
			continue
		}
		es.Kind, es.APIVersion = "EndpointSlice", "discovery.k8s.io/v1"
		es.OwnerReferences = []api.OwnerReference{serviceOwnerRef(svc)}
		es.DeletionTimestamp, es.DeletionGracePeriodSeconds = nil, nil
		if exists {
			es.UID, es.CreationTimestamp, es.Generation = old.UID, old.CreationTimestamp, old.Generation+1
		} else {
			if es.UID == "" {
				return api.NewBadRequest(fmt.Sprintf("endpointslice %s: uid is required", es.Name))
			}
			es.CreationTimestamp, es.Generation = api.NewTime(cmd.Time), 1
		}
		es.ResourceVersion = strconv.FormatUint(index, 10)
		s.endpointSlices[key] = es
		s.emit(index, "EndpointSlice", added(exists), es)
	}
	s.mirrorEndpoints(index, cmd, svc, func(es *api.EndpointSlice) bool { return managedSliceOf(es, p.Namespace, p.Service) })
	return nil
}

// sameSliceContent reports whether two slices of one name say the same:
// labels, annotations, address type, endpoints and ports.
func sameSliceContent(a, b *api.EndpointSlice) bool {
	return maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) && a.AddressType == b.AddressType &&
		equality.Semantic.DeepEqual(a.Endpoints, b.Endpoints) && equality.Semantic.DeepEqual(a.Ports, b.Ports)
}

// serviceOwnerRef is the owner reference of a Service's managed slices.
func serviceOwnerRef(svc *api.Service) api.OwnerReference {
	yes := true
	return api.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID, Controller: &yes, BlockOwnerDeletion: &yes}
}

// removeEndpointSlicesOf deletes the managed slices of a Service that is
// deleted, as the garbage collector deletes what a Service owns (and the
// kubernetes Service's own slice with it), and its Endpoints.
func (s *State) removeEndpointSlicesOf(index uint64, namespace, service string) {
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		es := s.endpointSlices[key]
		if managedSliceOf(es, namespace, service) || namespace == api.DefaultNamespace && service == api.KubernetesServiceName && isAPIServerSlice(es) {
			delete(s.endpointSlices, key)
			emitDeleted(s, index, "EndpointSlice", es)
		}
	}
	s.removeEndpointsOf(index, namespace, service)
}

// removeNamespaceEndpointSlices deletes every slice of a namespace being
// deleted.
func (s *State) removeNamespaceEndpointSlices(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		if es := s.endpointSlices[key]; es.Namespace == namespace {
			delete(s.endpointSlices, key)
			emitDeleted(s, index, "EndpointSlice", es)
		}
	}
	s.removeNamespaceEndpoints(index, namespace)
}
