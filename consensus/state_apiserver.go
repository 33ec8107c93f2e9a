package consensus

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// CmdSetAPIServerEndpoints is the leader's command that keeps the
// endpoints of the kubernetes Service.
const CmdSetAPIServerEndpoints CommandType = "SetAPIServerEndpoints"

// APIServerPortName is the name of the kubernetes Service's port and of
// its endpoints' port, as kube-apiserver names it.
const APIServerPortName = "https"

// SetAPIServerEndpoints sets the EndpointSlice default/kubernetes to the
// API servers' addresses, as kube-apiserver's endpoint reconciler keeps
// it: one ready endpoint per address, sorted, and the one port "https"
// (TCP) they serve the API on. Here the API servers are the live agents.
// It applies only while the Service default/kubernetes is the one the
// leader read (ServiceUID); SliceUID is the uid of the slice when it is
// created. An unchanged slice is not written again.
type SetAPIServerEndpoints struct {
	ServiceUID types.UID `json:"serviceUID"`
	SliceUID   types.UID `json:"sliceUID"`
	Addresses  []string  `json:"addresses"`
	Port       int32     `json:"port"`
}

// isAPIServerService reports whether svc is default/kubernetes, the
// Service kube-apiserver keeps for itself.
func isAPIServerService(svc *api.Service) bool {
	return svc.Namespace == api.DefaultNamespace && svc.Name == api.KubernetesServiceName
}

// APIServerEndpointSlice is the EndpointSlice default/kubernetes listing
// addresses (sorted, duplicates removed) on port: what kube-apiserver's
// EndpointsAdapter writes, labelled kubernetes.io/service-name only (no
// managed-by label: the EndpointSlice controller leaves it alone).
func APIServerEndpointSlice(addresses []string, port int32) *api.EndpointSlice {
	addrs := slices.Clone(addresses)
	slices.SortFunc(addrs, func(a, b string) int {
		x, errx := netip.ParseAddr(a)
		y, erry := netip.ParseAddr(b)
		if errx != nil || erry != nil {
			return strings.Compare(a, b)
		}
		return x.Compare(y)
	})
	addrs = slices.Compact(addrs)
	name, proto := APIServerPortName, corev1.ProtocolTCP
	es := &api.EndpointSlice{
		TypeMeta: api.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: api.ObjectMeta{
			Name:      api.KubernetesServiceName,
			Namespace: api.DefaultNamespace,
			Labels:    map[string]string{api.LabelServiceName: api.KubernetesServiceName},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []api.Endpoint{},
		Ports:       []api.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
	}
	for _, a := range addrs {
		ready := true
		es.Endpoints = append(es.Endpoints, api.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	return es
}

func (s *State) setAPIServerEndpoints(index uint64, cmd Command, p SetAPIServerEndpoints) error {
	svc, ok := s.services[podKey(api.DefaultNamespace, api.KubernetesServiceName)]
	if !ok || svc.UID != p.ServiceUID {
		return api.NewNotFound("services", api.KubernetesServiceName)
	}
	if len(svc.Spec.Selector) > 0 {
		// The EndpointSlice controller keeps the endpoints of a Service
		// with a selector; two writers would fight.
		return api.NewBadRequest(fmt.Sprintf("service %s/%s has a selector: its endpoints are the EndpointSlice controller's", svc.Namespace, svc.Name))
	}
	es := APIServerEndpointSlice(p.Addresses, p.Port)
	if err := api.ValidateEndpointSlice(es); err != nil {
		return err
	}
	key := podKey(es.Namespace, es.Name)
	old, exists := s.endpointSlices[key]
	if exists && sameSliceContent(old, es) {
		s.mirrorEndpoints(index, cmd, svc, isAPIServerSlice)
		return nil
	}
	if exists {
		es.UID, es.CreationTimestamp, es.Generation = old.UID, old.CreationTimestamp, old.Generation+1
	} else {
		if p.SliceUID == "" {
			return api.NewBadRequest(fmt.Sprintf("endpointslice %s: uid is required", es.Name))
		}
		es.UID, es.CreationTimestamp, es.Generation = p.SliceUID, api.NewTime(cmd.Time), 1
	}
	es.ResourceVersion = strconv.FormatUint(index, 10)
	s.endpointSlices[key] = es
	s.emit(index, "EndpointSlice", added(exists), es)
	s.mirrorEndpoints(index, cmd, svc, isAPIServerSlice)
	return nil
}

// isAPIServerSlice reports whether es is the kubernetes Service's slice.
func isAPIServerSlice(es *api.EndpointSlice) bool {
	return es.Namespace == api.DefaultNamespace && es.Name == api.KubernetesServiceName
}
