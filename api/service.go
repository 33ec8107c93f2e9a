package api

import (
	"fmt"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service is a v1 Service, Kubernetes' own type: a stable virtual IP and
// DNS name for the pods its selector selects. gossipod implements types
// ClusterIP (the leader allocates the IP from the service CIDR, or honours
// a requested one that is free), NodePort (30000–32767, on every agent's
// addresses), headless (clusterIP None) and ExternalName; TCP, UDP and
// SCTP ports with named target ports; sessionAffinity ClientIP;
// externalTrafficPolicy and internalTrafficPolicy; publishNotReadyAddresses.
// Load balancers and external IPs are unsupported fields (see
// kubernetesOnlyFields): nothing in a gossipod cluster would answer on them.
type Service = corev1.Service

// ServiceList is the answer to a list of Services.
type ServiceList = corev1.ServiceList

// ServiceSpec is what a Service asks for.
type ServiceSpec = corev1.ServiceSpec

// ServicePort is one port of a Service.
type ServicePort = corev1.ServicePort

// The Service types gossipod serves.
const (
	ServiceTypeClusterIP    = corev1.ServiceTypeClusterIP
	ServiceTypeNodePort     = corev1.ServiceTypeNodePort
	ServiceTypeExternalName = corev1.ServiceTypeExternalName
	// ClusterIPNone makes a Service headless: no virtual IP, its DNS
	// name resolves to the ready pods' IPs.
	ClusterIPNone = corev1.ClusterIPNone
)

// KubernetesServiceName is the Service in the default namespace through
// which pods reach the API servers (here: the agents), kept by the leader
// as kube-apiserver keeps it. Its environment variables go to every
// container, since in-cluster clients find the API with them.
const KubernetesServiceName = "kubernetes"

// KubernetesServiceIP is the cluster IP of the kubernetes Service: the first
// address of the service CIDR, as kube-apiserver reserves it. Agents name it
// in their serving certificates, so that a pod reaching the API through the
// Service (client-go's in-cluster configuration) can verify the agent.
func KubernetesServiceIP(serviceCIDR string) (netip.Addr, error) {
	cidr, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	return cidr.Masked().Addr().Next(), nil
}

// KubernetesServiceNames are the DNS names of the kubernetes Service that
// agents' serving certificates carry, as kube-apiserver's do.
var KubernetesServiceNames = []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

// DefaultServiceCIDR is the range cluster IPs are allocated from unless
// --service-cidr says otherwise: kube-apiserver's default.
const DefaultServiceCIDR = "10.96.0.0/12"

// The node port range, kube-apiserver's default --service-node-port-range.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// DefaultSessionAffinityTimeout is how long a ClientIP affinity lasts
// unless sessionAffinityConfig says otherwise: 3 hours, as in Kubernetes.
const DefaultSessionAffinityTimeout = int32(corev1.DefaultClientIPServiceAffinitySeconds)

// SetServiceDefaults fills in what kube-apiserver defaults on a Service:
// the namespace (default), type ClusterIP, sessionAffinity None (and the
// ClientIP timeout), each port's protocol TCP and targetPort its port,
// internalTrafficPolicy Cluster, externalTrafficPolicy Cluster for node
// ports, and the IPv4 single-stack IP family fields of a Service with a
// cluster IP.
func SetServiceDefaults(s *Service) {
	if s.Namespace == "" {
		s.Namespace = DefaultNamespace
	}
	spec := &s.Spec
	if spec.Type == "" {
		if spec.ExternalName != "" && spec.ClusterIP == "" {
			spec.Type = ServiceTypeExternalName
		} else {
			spec.Type = ServiceTypeClusterIP
		}
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if spec.SessionAffinityConfig == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP == nil {
			spec.SessionAffinityConfig.ClientIP = &corev1.ClientIPConfig{}
		}
		if spec.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := DefaultSessionAffinityTimeout
			spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.TargetPort == (intstr.IntOrString{}) {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if spec.Type == ServiceTypeExternalName {
		return
	}
	if spec.InternalTrafficPolicy == nil {
		p := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &p
	}
	if spec.Type == ServiceTypeNodePort && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		spec.IPFamilyPolicy = &p
	}
}

// ValidateService checks a Service to create, after SetServiceDefaults,
// as kube-apiserver's ValidateService does for the fields gossipod
// implements. Whether a requested cluster IP or node port is free and in
// range is the allocator's check, in the state machine. It returns nil or
// a 422 Invalid Status.
func ValidateService(s *Service) error {
	if errs := validateService(s); len(errs) > 0 {
		return newInvalid("Service", s.Name, errs)
	}
	return nil
}

func validateService(s *Service) field.ErrorList {
	errs := validateObjectMeta(&s.ObjectMeta, field.NewPath("metadata"))
	// A Service's name is a DNS label: it becomes <name>.<ns>.svc.
	for _, msg := range validation.IsDNS1035Label(s.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, msg))
	}
	spec, fld := &s.Spec, field.NewPath("spec")
	switch spec.Type {
	case ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeExternalName:
	default:
		errs = append(errs, field.NotSupported(fld.Child("type"), spec.Type,
			[]string{string(ServiceTypeClusterIP), string(ServiceTypeNodePort), string(ServiceTypeExternalName)}))
	}
	headless := spec.ClusterIP == ClusterIPNone
	if spec.Type == ServiceTypeExternalName {
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(fld.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		for _, msg := range validation.IsDNS1123Subdomain(spec.ExternalName) {
			errs = append(errs, field.Invalid(fld.Child("externalName"), spec.ExternalName, msg))
		}
	} else {
		if spec.ExternalName != "" {
			errs = append(errs, field.Forbidden(fld.Child("externalName"), "may only be set when `type` is 'ExternalName'"))
		}
		if len(spec.Ports) == 0 && !headless {
			errs = append(errs, field.Required(fld.Child("ports"), ""))
		}
		errs = append(errs, validateClusterIP(spec, fld)...)
	}
	if spec.Type == ServiceTypeNodePort && headless {
		errs = append(errs, field.Invalid(fld.Child("clusterIPs").Index(0), ClusterIPNone, "may not be set to 'None' for NodePort services"))
	}
	errs = append(errs, validateServicePorts(spec, fld.Child("ports"))...)
	errs = append(errs, validateLabels(spec.Selector, fld.Child("selector"))...)
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(fld.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", spec.SessionAffinity)))
		}
	case corev1.ServiceAffinityClientIP:
		c := spec.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(fld.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), ""))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPServiceAffinitySeconds {
			errs = append(errs, field.Invalid(fld.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than or equal to %d", maxClientIPServiceAffinitySeconds)))
		}
	default:
		errs = append(errs, field.NotSupported(fld.Child("sessionAffinity"), spec.SessionAffinity,
			[]string{string(corev1.ServiceAffinityNone), string(corev1.ServiceAffinityClientIP)}))
	}
	if spec.ExternalTrafficPolicy != "" {
		if spec.Type != ServiceTypeNodePort {
			errs = append(errs, field.Invalid(fld.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy,
				"may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
		} else if spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster && spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.NotSupported(fld.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy,
				[]string{string(corev1.ServiceExternalTrafficPolicyCluster), string(corev1.ServiceExternalTrafficPolicyLocal)}))
		}
	}
	if p := spec.InternalTrafficPolicy; p != nil && *p != corev1.ServiceInternalTrafficPolicyCluster && *p != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, field.NotSupported(fld.Child("internalTrafficPolicy"), *p,
			[]string{string(corev1.ServiceInternalTrafficPolicyCluster), string(corev1.ServiceInternalTrafficPolicyLocal)}))
	}
	return errs
}

// validateClusterIP checks clusterIP, clusterIPs and the IP family
// fields: gossipod's service network is IPv4, single stack.
func validateClusterIP(spec *ServiceSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ip := spec.ClusterIP; ip != "" && ip != ClusterIPNone {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			errs = append(errs, field.Invalid(fld.Child("clusterIPs").Index(0), ip, "must be a valid IPv4 address or 'None'"))
		}
	}
	switch {
	case len(spec.ClusterIPs) > 1:
		errs = append(errs, field.Invalid(fld.Child("clusterIPs"), spec.ClusterIPs, "may specify no more than one IP for each IP family (this cluster is IPv4 single-stack)"))
	case len(spec.ClusterIPs) == 1 && spec.ClusterIPs[0] != spec.ClusterIP:
		errs = append(errs, field.Invalid(fld.Child("clusterIPs").Index(0), spec.ClusterIPs[0], "must match `clusterIP` when set"))
	}
	for i, f := range spec.IPFamilies {
		if f != corev1.IPv4Protocol {
			errs = append(errs, field.NotSupported(fld.Child("ipFamilies").Index(i), f, []string{string(corev1.IPv4Protocol)}))
		}
	}
	if len(spec.IPFamilies) > 1 {
		errs = append(errs, field.Invalid(fld.Child("ipFamilies"), spec.IPFamilies, "this cluster is IPv4 single-stack"))
	}
	if p := spec.IPFamilyPolicy; p != nil && *p == corev1.IPFamilyPolicyRequireDualStack {
		errs = append(errs, field.Invalid(fld.Child("ipFamilyPolicy"), *p, "this cluster is not configured for dual-stack services"))
	} else if p != nil && *p != corev1.IPFamilyPolicySingleStack && *p != corev1.IPFamilyPolicyPreferDualStack {
		errs = append(errs, field.NotSupported(fld.Child("ipFamilyPolicy"), *p,
			[]string{string(corev1.IPFamilyPolicySingleStack), string(corev1.IPFamilyPolicyPreferDualStack), string(corev1.IPFamilyPolicyRequireDualStack)}))
	}
	return errs
}

// validateServicePorts checks the ports: names (required and unique when
// there are several), numbers, protocols, target ports, node ports only on
// NodePort services, and no port and protocol twice.
func validateServicePorts(spec *ServiceSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	seen := map[string]bool{}
	for i := range spec.Ports {
		p, pf := &spec.Ports[i], fld.Index(i)
		switch {
		case p.Name == "" && len(spec.Ports) > 1:
			errs = append(errs, field.Required(pf.Child("name"), ""))
		case p.Name != "":
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pf.Child("name"), p.Name, msg))
			}
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pf.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(pf.Child("port"), p.Port, msg))
		}
		switch p.Protocol {
		case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		default:
			errs = append(errs, field.NotSupported(pf.Child("protocol"), p.Protocol,
				[]string{string(ProtocolTCP), string(ProtocolUDP), string(ProtocolSCTP)}))
		}
		switch p.TargetPort.Type {
		case intstr.Int:
			for _, msg := range validation.IsValidPortNum(p.TargetPort.IntValue()) {
				errs = append(errs, field.Invalid(pf.Child("targetPort"), p.TargetPort.IntValue(), msg))
			}
		case intstr.String:
			for _, msg := range validation.IsValidPortName(p.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pf.Child("targetPort"), p.TargetPort.StrVal, msg))
			}
		}
		if p.NodePort != 0 {
			if spec.Type != ServiceTypeNodePort {
				errs = append(errs, field.Forbidden(pf.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", spec.Type)))
			} else if p.NodePort < NodePortMin || p.NodePort > NodePortMax {
				errs = append(errs, field.Invalid(pf.Child("nodePort"), p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
		}
		key := string(p.Protocol) + "/" + strconv.Itoa(int(p.Port))
		if seen[key] {
			errs = append(errs, field.Duplicate(pf, key))
		}
		seen[key] = true
	}
	return errs
}

// ValidateServiceUpdate checks newS, the Service an update proposes,
// against oldS, the stored one: name, namespace and uid stay, the cluster
// IP stays (kube-apiserver: "field is immutable") unless the type changes
// to or from ExternalName, and the result is a valid Service.
func ValidateServiceUpdate(oldS, newS *Service) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newS.Name, oldS.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newS.Namespace, oldS.Namespace, meta.Child("namespace"))...)
	if newS.UID != "" {
		errs = append(errs, immutable(newS.UID, oldS.UID, meta.Child("uid"))...)
	}
	toOrFromExternalName := (oldS.Spec.Type == ServiceTypeExternalName) != (newS.Spec.Type == ServiceTypeExternalName)
	if !toOrFromExternalName && newS.Spec.ClusterIP != oldS.Spec.ClusterIP {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIPs").Index(0), newS.Spec.ClusterIP, "may not change once set"))
	}
	errs = append(errs, validateService(newS)...)
	if len(errs) > 0 {
		return newInvalid("Service", newS.Name, errs)
	}
	return nil
}

// KeepServiceAllocations carries into newS, an update of oldS, what the
// cluster allocated and the update leaves unset, as kube-apiserver's
// service REST storage does: the cluster IP (and its family fields), and
// the node port of each port whose number and protocol stay, so that
// `kubectl apply` of a manifest without them changes nothing.
func KeepServiceAllocations(oldS, newS *Service) {
	if newS.Spec.Type == ServiceTypeExternalName || oldS.Spec.Type == ServiceTypeExternalName {
		return
	}
	if newS.Spec.ClusterIP == "" && len(newS.Spec.ClusterIPs) == 0 {
		newS.Spec.ClusterIP = oldS.Spec.ClusterIP
		newS.Spec.ClusterIPs = append([]string(nil), oldS.Spec.ClusterIPs...)
	}
	if newS.Spec.Type != ServiceTypeNodePort || oldS.Spec.Type != ServiceTypeNodePort {
		return
	}
	for i := range newS.Spec.Ports {
		p := &newS.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for _, o := range oldS.Spec.Ports {
			if o.Port == p.Port && o.Protocol == p.Protocol {
				p.NodePort = o.NodePort
				break
			}
		}
	}
}

// maxClientIPServiceAffinitySeconds is the longest ClientIP affinity
// kube-apiserver accepts: one day.
const maxClientIPServiceAffinitySeconds = 86400
