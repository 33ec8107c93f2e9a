package api

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EndpointSlice is a discovery.k8s.io/v1 EndpointSlice, Kubernetes' own
// type: the addresses behind a Service, which the service proxy and the
// cluster DNS of every agent read. The leader's EndpointSlice controller
// keeps one set per Service with a selector, from the pods it selects:
// ready while the pod is Ready and not terminating, serving while it is
// Ready, terminating once it is being deleted, as kube-controller-manager
// writes them. gossipod's service network is IPv4: addressType IPv4 only.
type EndpointSlice = discoveryv1.EndpointSlice

// EndpointSliceList is the answer to a list of EndpointSlices.
type EndpointSliceList = discoveryv1.EndpointSliceList

// Endpoint is one address of an EndpointSlice.
type Endpoint = discoveryv1.Endpoint

// EndpointPort is one port of an EndpointSlice: the Service port's name
// and protocol, with the port number its pods listen on.
type EndpointPort = discoveryv1.EndpointPort

// The labels of the slices the EndpointSlice controller manages, in
// Kubernetes' names: kube-proxy and CoreDNS find a Service's slices by
// LabelServiceName.
const (
	LabelServiceName          = discoveryv1.LabelServiceName
	LabelManagedBy            = discoveryv1.LabelManagedBy
	EndpointSliceControllerID = "endpointslice-controller.k8s.io"
)

// MaxEndpointsPerSlice is how many endpoints the controller puts in one
// slice, kube-controller-manager's default --max-endpoints-per-slice;
// maxEndpointsPerSliceStored is the most the API stores in one.
const (
	MaxEndpointsPerSlice       = 100
	maxEndpointsPerSliceStored = 1000
	maxEndpointSlicePorts      = 100
)

// ValidateEndpointSlice checks an EndpointSlice as kube-apiserver does for
// the fields gossipod implements: IPv4 addresses, at most 1,000 endpoints
// and 100 ports, port names that are DNS labels and unique. It returns nil
// or a 422 Invalid Status.
func ValidateEndpointSlice(es *EndpointSlice) error {
	errs := validateObjectMeta(&es.ObjectMeta, field.NewPath("metadata"))
	if es.AddressType != discoveryv1.AddressTypeIPv4 {
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), es.AddressType, []string{string(discoveryv1.AddressTypeIPv4)}))
	}
	eps := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointsPerSliceStored {
		errs = append(errs, field.TooMany(eps, len(es.Endpoints), maxEndpointsPerSliceStored))
	}
	for i, ep := range es.Endpoints {
		af := eps.Index(i).Child("addresses")
		if len(ep.Addresses) != 1 {
			errs = append(errs, field.Invalid(af, ep.Addresses, "must contain exactly 1 address"))
		}
		for j, a := range ep.Addresses {
			if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
				errs = append(errs, field.Invalid(af.Index(j), a, "must be a valid IPv4 address"))
			}
		}
	}
	ports := field.NewPath("ports")
	if len(es.Ports) > maxEndpointSlicePorts {
		errs = append(errs, field.TooMany(ports, len(es.Ports), maxEndpointSlicePorts))
	}
	names := map[string]bool{}
	for i, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != "" {
			for _, msg := range validation.IsDNS1123Label(name) {
				errs = append(errs, field.Invalid(ports.Index(i).Child("name"), name, msg))
			}
		}
		if names[name] {
			errs = append(errs, field.Duplicate(ports.Index(i).Child("name"), name))
		}
		names[name] = true
		if p.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*p.Port)) {
				errs = append(errs, field.Invalid(ports.Index(i).Child("port"), *p.Port, msg))
			}
		}
	}
	if len(errs) > 0 {
		return newInvalid("EndpointSlice", es.Name, errs)
	}
	return nil
}

// EndpointSliceName is the name the controller gives the n-th slice of a
// Service for one set of ports: Kubernetes generates a random suffix; the
// state machine needs names every replica computes alike.
func EndpointSliceName(service, portsKey string, n int) string {
	return fmt.Sprintf("%s-%s", service, shortHash(fmt.Sprintf("%s/%d", portsKey, n)))
}

// shortHash is five characters of s's FNV-32a hash in the alphabet
// Kubernetes uses for generated names (no vowels, no look-alikes).
func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	out := rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
	return out[:min(5, len(out))]
}
