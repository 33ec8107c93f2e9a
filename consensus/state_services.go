package consensus

import (
	"fmt"
	"hash/fnv"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gossipod/gossipod/api"
)

// Service commands.
const (
	CmdCreateService CommandType = "CreateService"
	CmdUpdateService CommandType = "UpdateService"
	CmdDeleteService CommandType = "DeleteService"
)

// CreateService stores a new Service; the proposer sets its uid, the FSM
// its creation time, resourceVersion, cluster IP and node ports.
type CreateService struct {
	Service api.Service `json:"service"`
}

// UpdateService replaces a Service's labels, annotations and spec. Its
// resourceVersion and uid, when set, are preconditions; the cluster IP is
// immutable, and node ports the update leaves unset keep their values.
type UpdateService struct {
	Service api.Service `json:"service"`
}

// DeleteService removes a Service, releasing its cluster IP and node
// ports. UID, when set, is a precondition.
type DeleteService struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
}

// Service returns a Service; the State's objects are copy-on-write, so the
// caller must not change it.
func (s *State) Service(namespace, name string) (*api.Service, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	svc, ok := s.services[podKey(namespace, name)]
	return svc, ok
}

// Services returns the Services keep selects, sorted by namespace and name,
// and the index they reflect. The objects are shared: callers must not
// change them.
func (s *State) Services(keep func(*api.Service) bool) ([]*api.Service, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.Service
	for _, key := range slices.Sorted(maps.Keys(s.services)) {
		if svc := s.services[key]; keep == nil || keep(svc) {
			out = append(out, svc)
		}
	}
	return out, s.index
}

// serviceCIDR is the range cluster IPs come from, once the leader has
// recorded it with the cluster network.
func (s *State) serviceCIDR() (netip.Prefix, error) {
	if s.network == nil || s.network.ServiceCIDR == "" {
		return netip.Prefix{}, api.NewServiceUnavailable("the service CIDR is not recorded yet (the leader records it when elected); retry")
	}
	return netip.ParsePrefix(s.network.ServiceCIDR)
}

func (s *State) createService(index uint64, cmd Command, c CreateService) (*api.Service, error) {
	svc := c.Service.DeepCopy()
	api.SetServiceDefaults(svc)
	if err := api.ValidateService(svc); err != nil {
		return nil, err
	}
	if svc.UID == "" {
		return nil, api.NewBadRequest("service uid is required")
	}
	if err := s.admitNamespaced("services", svc.Name, svc.Namespace); err != nil {
		return nil, err
	}
	key := podKey(svc.Namespace, svc.Name)
	if _, exists := s.services[key]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("services %q already exists", svc.Name))
		st.Details = &api.StatusDetails{Name: svc.Name, Kind: "services"}
		return nil, st
	}
	if err := s.allocateService(svc, nil); err != nil {
		return nil, err
	}
	svc.Kind, svc.APIVersion = "Service", "v1"
	svc.CreationTimestamp = api.NewTime(cmd.Time)
	svc.DeletionTimestamp, svc.DeletionGracePeriodSeconds = nil, nil
	svc.Generation = 0
	svc.Status = api.Service{}.Status
	s.putService(index, nil, svc)
	return svc, nil
}

func (s *State) updateService(index uint64, u UpdateService) (*api.Service, error) {
	in := u.Service.DeepCopy()
	old, ok := s.services[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("services", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("services", in.Name)
	}
	in.UID = old.UID // the allocators tell this Service's own values by it
	api.SetServiceDefaults(in)
	api.KeepServiceAllocations(old, in)
	if err := api.ValidateServiceUpdate(old, in); err != nil {
		return nil, err
	}
	if err := s.allocateService(in, old); err != nil {
		return nil, err
	}
	if equality.Semantic.DeepEqual(in.Spec, old.Spec) && maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old, nil // nothing to write
	}
	svc := old.DeepCopy()
	svc.Labels, svc.Annotations = in.Labels, in.Annotations
	svc.Spec = in.Spec
	s.putService(index, old, svc)
	return svc, nil
}

func (s *State) deleteService(index uint64, d DeleteService) (*api.Service, error) {
	key := podKey(d.Namespace, d.Name)
	svc, ok := s.services[key]
	if !ok {
		return nil, api.NewNotFound("services", d.Name)
	}
	if d.UID != "" && d.UID != svc.UID {
		return nil, conflictOn("services", d.Name)
	}
	delete(s.services, key)
	emitDeleted(s, index, "Service", svc)
	s.removeEndpointSlicesOf(index, svc.Namespace, svc.Name)
	return svc, nil
}

// removeServicesOf deletes the Services of a namespace being deleted, in a
// fixed order so every replica emits the same events.
func (s *State) removeServicesOf(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.services)) {
		if svc := s.services[key]; svc.Namespace == namespace {
			_, _ = s.deleteService(index, DeleteService{Namespace: svc.Namespace, Name: svc.Name})
		}
	}
	s.removeNamespaceEndpointSlices(index, namespace)
}

func (s *State) putService(index uint64, old, svc *api.Service) {
	svc.ResourceVersion = strconv.FormatUint(index, 10)
	s.services[podKey(svc.Namespace, svc.Name)] = svc
	s.emit(index, "Service", added(old != nil), svc)
}

// allocateService gives svc (new, or an update of old) its cluster IP and
// node ports, as kube-apiserver's allocators do: a requested value is
// honoured when it is in range and free, else refused in kube-apiserver's
// words; an unset one is allocated. Allocation is deterministic (every
// replica applies the same command to the same state): it starts at an
// offset derived from the Service's uid, in the upper part of the range
// first, leaving the lower part to requested values (KEP-3070, KEP-3668).
func (s *State) allocateService(svc, old *api.Service) error {
	spec := &svc.Spec
	var errs field.ErrorList
	if spec.Type == api.ServiceTypeExternalName {
		spec.ClusterIP, spec.ClusterIPs, spec.IPFamilies, spec.IPFamilyPolicy = "", nil, nil, nil
	} else if spec.ClusterIP != api.ClusterIPNone && (old == nil || spec.ClusterIP != old.Spec.ClusterIP || spec.ClusterIP == "") {
		cidr, err := s.serviceCIDR()
		if err != nil {
			return err
		}
		ip, ferr := s.allocateClusterIP(svc, cidr)
		if ferr != nil {
			errs = append(errs, ferr)
		}
		spec.ClusterIP = ip
	}
	if spec.ClusterIP != "" {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.Type != api.ServiceTypeNodePort {
		for i := range spec.Ports {
			spec.Ports[i].NodePort = 0
		}
	} else {
		errs = append(errs, s.allocateNodePorts(svc)...)
	}
	if len(errs) > 0 {
		return api.NewInvalid("Service", svc.Name, errs)
	}
	return nil
}

// allocateClusterIP returns the requested cluster IP if it is in cidr and
// free, or allocates one.
func (s *State) allocateClusterIP(svc *api.Service, cidr netip.Prefix) (string, *field.Error) {
	taken := map[netip.Addr]bool{}
	for _, other := range s.services {
		if other.UID == svc.UID {
			continue
		}
		if a, err := netip.ParseAddr(other.Spec.ClusterIP); err == nil {
			taken[a] = true
		}
	}
	// The addresses of the range are cidr's but its network and
	// broadcast addresses: index i is the address base+1+i.
	size := 1<<(32-cidr.Bits()) - 2
	base := cidr.Addr()
	addrAt := func(i int) netip.Addr {
		b := base.As4()
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		n += uint32(i) + 1
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	// The first address is the kubernetes Service's (kube-apiserver's
	// APIServerServiceIP), whether or not it exists yet: no other Service
	// is given it, dynamically or on request.
	if !isAPIServerService(svc) {
		taken[addrAt(0)] = true
	}
	fld := field.NewPath("spec", "clusterIPs").Index(0)
	if req := svc.Spec.ClusterIP; req != "" {
		a, err := netip.ParseAddr(req)
		if err != nil || !cidr.Contains(a) || a == base || a == addrAt(size) {
			return req, field.Invalid(fld, req, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", req, req, cidr))
		}
		if taken[a] {
			return req, field.Invalid(fld, req, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", req))
		}
		return req, nil
	}
	if isAPIServerService(svc) && !taken[addrAt(0)] {
		return addrAt(0).String(), nil
	}
	i, ok := allocateIndex(size, staticBand(size, 16, 16, 256), svc.UID, func(i int) bool { return taken[addrAt(i)] })
	if !ok {
		return "", field.Invalid(fld, "", fmt.Sprintf("failed to allocate a serviceIP: range is full (%s)", cidr))
	}
	return addrAt(i).String(), nil
}

// allocateNodePorts checks the requested node ports of svc and allocates
// the unset ones; a node port is the cluster's, whatever its protocol
// (kube-apiserver keeps one allocator for TCP, UDP and SCTP alike).
func (s *State) allocateNodePorts(svc *api.Service) field.ErrorList {
	taken := map[int32]bool{}
	for _, other := range s.services {
		if other.UID == svc.UID {
			continue
		}
		for _, p := range other.Spec.Ports {
			if p.NodePort != 0 {
				taken[p.NodePort] = true
			}
		}
	}
	var errs field.ErrorList
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		if taken[p.NodePort] {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated"))
		}
		taken[p.NodePort] = true
	}
	size := api.NodePortMax - api.NodePortMin + 1
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		n, ok := allocateIndex(size, staticBand(size, 32, 16, 128), svc.UID+types.UID(strconv.Itoa(i)), func(n int) bool { return taken[int32(api.NodePortMin+n)] })
		if !ok {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), 0,
				fmt.Sprintf("failed to allocate a nodePort: range is full (%d-%d)", api.NodePortMin, api.NodePortMax)))
			continue
		}
		p.NodePort = int32(api.NodePortMin + n)
		taken[p.NodePort] = true
	}
	return errs
}

// staticBand is the size of the lower part of a range of size that
// dynamic allocation leaves to requested values while the rest has room:
// size/divisor between minBand and maxBand, as Kubernetes sizes it (size/16
// for IPs, size/32 for node ports).
func staticBand(size, divisor, minBand, maxBand int) int {
	return min(max(minBand, size/divisor), maxBand, size)
}

// allocateIndex picks a free index in [0, size): first in the dynamic band
// [static, size), then in the static band, each scanned from an offset
// derived from seed, so that allocations spread as random ones do while
// every replica picks the same.
func allocateIndex(size, static int, seed types.UID, taken func(int) bool) (int, bool) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	offset := h.Sum64()
	for _, band := range [][2]int{{static, size}, {0, static}} {
		lo, n := band[0], band[1]-band[0]
		if n <= 0 {
			continue
		}
		start := int(offset % uint64(n))
		for k := range n {
			i := lo + (start+k)%n
			if !taken(i) {
				return i, true
			}
		}
	}
	return 0, false
}
