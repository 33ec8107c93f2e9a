package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// totalAnnotationSizeLimit is Kubernetes' cap on the summed size of an
// object's annotation keys and values, 256 KiB: annotations travel in every
// Raft entry and watch event of the object.
const totalAnnotationSizeLimit = 256 << 10

// ValidatePod checks a pod as the Kubernetes API server checks one it is
// asked to create, after defaulting (call SetPodDefaults first: empty
// namespace, restartPolicy, imagePullPolicy and protocol are errors here, as
// they are there). Manifests are validated before they enter the Raft log, so
// every pod in the cluster state is one the runtime and placement can act on.
//
// It returns nil or a *Status, 422 Invalid, with one StatusCause per problem
// and every problem in its message, in Kubernetes' words:
//
//	Pod "web" is invalid: [spec.containers[1].name: Duplicate value: "app", ...]
func ValidatePod(p *Pod) error {
	if errs := validatePod(p); len(errs) > 0 {
		return newInvalid("Pod", p.Name, errs)
	}
	return nil
}

// NewInvalid is newInvalid for the state machine, whose allocators find
// what no validation before the log can: a cluster IP or node port taken.
func NewInvalid(kind, name string, errs field.ErrorList) *Status {
	return newInvalid(kind, name, errs)
}

// newInvalid is the 422 Invalid Status for an object that failed validation,
// built as Kubernetes' apierrors.NewInvalid builds it: a cause per field
// error, and a message listing them all.
func newInvalid(kind, name string, errs field.ErrorList) *Status {
	causes := make([]StatusCause, 0, len(errs))
	for _, e := range errs {
		causes = append(causes, StatusCause{Type: string(e.Type), Message: e.ErrorBody(), Field: e.Field})
	}
	msg := fmt.Sprintf("%s %q is invalid", kind, name)
	if agg := errs.ToAggregate(); agg != nil {
		msg += ": " + agg.Error()
	}
	s := NewStatus(http.StatusUnprocessableEntity, StatusReasonInvalid, msg)
	s.Details = &StatusDetails{Name: name, Kind: kind, Causes: causes}
	return s
}

func validatePod(p *Pod) field.ErrorList {
	errs := validateObjectMeta(&p.ObjectMeta, field.NewPath("metadata"))
	return append(errs, validatePodSpec(&p.Spec, field.NewPath("spec"), true)...)
}

// validateObjectMeta checks a namespaced object's metadata: name a DNS-1123
// subdomain, namespace a DNS-1123 label, labels and annotations valid,
// owner references complete with at most one controller, and only the
// garbage collector's finalizers.
func validateObjectMeta(m *ObjectMeta, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), "name or generateName is required"))
	} else {
		errs = append(errs, invalidEach(fld.Child("name"), m.Name, content.IsDNS1123Subdomain(m.Name))...)
	}
	if m.Namespace == "" {
		errs = append(errs, field.Required(fld.Child("namespace"), ""))
	} else {
		errs = append(errs, invalidEach(fld.Child("namespace"), m.Namespace, content.IsDNS1123Label(m.Namespace))...)
	}
	errs = append(errs, validateLabels(m.Labels, fld.Child("labels"))...)
	errs = append(errs, validateAnnotations(m.Annotations, fld.Child("annotations"))...)
	errs = append(errs, validateOwnerReferences(m.OwnerReferences, fld.Child("ownerReferences"))...)
	errs = append(errs, validateFinalizers(m.Finalizers, fld.Child("finalizers"))...)
	return errs
}

// validateLabels checks label keys (qualified names) and values, as for
// metadata.labels and spec.nodeSelector.
func validateLabels(labels map[string]string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range sortedKeys(labels) {
		errs = append(errs, invalidEach(fld, k, content.IsLabelKey(k))...)
		errs = append(errs, invalidEach(fld, labels[k], content.IsLabelValue(labels[k]))...)
	}
	return errs
}

// validateAnnotations checks annotation keys (qualified names, any case) and
// their total size; values are free text.
func validateAnnotations(annotations map[string]string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for _, k := range sortedKeys(annotations) {
		errs = append(errs, invalidEach(fld, k, content.IsLabelKey(strings.ToLower(k)))...)
		size += len(k) + len(annotations[k])
	}
	if size > totalAnnotationSizeLimit {
		errs = append(errs, field.TooLong(fld, "", totalAnnotationSizeLimit))
	}
	return errs
}

// validatePodSpec checks a pod's spec (isPod) or a pod template's: they
// differ where kube-apiserver's opts.ResourceIsPod makes them differ.
func validatePodSpec(spec *PodSpec, fld *field.Path, isPod bool) field.ErrorList {
	volumes, errs := validateVolumes(spec.Volumes, fld.Child("volumes"))

	// Container names are unique across app and init containers: they name
	// the containers' statuses, logs and cgroups.
	names := map[string]bool{}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fld.Child("containers"), ""))
	}
	for i := range spec.Containers {
		errs = append(errs, validateContainer(&spec.Containers[i], fld.Child("containers").Index(i), volumes, names, false)...)
	}
	if sa := spec.ServiceAccountName; sa != "" {
		errs = append(errs, invalidEach(fld.Child("serviceAccountName"), sa, content.IsDNS1123Subdomain(sa))...)
	}
	if spec.DeprecatedServiceAccount != "" && spec.ServiceAccountName != "" && spec.DeprecatedServiceAccount != spec.ServiceAccountName {
		errs = append(errs, field.Invalid(fld.Child("serviceAccount"), spec.DeprecatedServiceAccount, "must equal serviceAccountName when both are set"))
	}
	for i := range spec.InitContainers {
		errs = append(errs, validateContainer(&spec.InitContainers[i], fld.Child("initContainers").Index(i), volumes, names, true)...)
	}
	errs = append(errs, validateHostPorts(spec.Containers, fld.Child("containers"))...)
	errs = append(errs, validatePodRequests(spec.Containers, fld.Child("containers"))...)

	switch spec.RestartPolicy {
	case RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever:
	case "":
		errs = append(errs, field.Required(fld.Child("restartPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(fld.Child("restartPolicy"), spec.RestartPolicy,
			[]RestartPolicy{RestartPolicyAlways, RestartPolicyNever, RestartPolicyOnFailure}))
	}
	errs = append(errs, validateLabels(spec.NodeSelector, fld.Child("nodeSelector"))...)
	errs = append(errs, validateTolerations(spec.Tolerations, fld.Child("tolerations"))...)
	if spec.NodeName != "" {
		errs = append(errs, invalidEach(fld.Child("nodeName"), spec.NodeName, content.IsDNS1123Subdomain(spec.NodeName))...)
	}
	if spec.Hostname != "" {
		errs = append(errs, invalidEach(fld.Child("hostname"), spec.Hostname, content.IsDNS1123Label(spec.Hostname))...)
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(fld.Child("terminationGracePeriodSeconds"), *g, isNegativeErrorMsg))
	}
	errs = append(errs, validatePodDNS(spec, fld)...)
	errs = append(errs, validatePodSecurity(spec, fld)...)
	errs = append(errs, validateHostNetworkPorts(spec, fld, isPod)...)
	return errs
}

// validateHostNetworkPorts is kube-apiserver's validatePodHostNetworkDeps:
// on the host's network a container listens on the node's own port, so
// its hostPort can only be its containerPort. A pod has its hostPorts
// defaulted to the containerPorts (SetPodDefaults), so there they must be
// equal; a template may leave them 0, defaulted in the pods made from it.
func validateHostNetworkPorts(spec *PodSpec, fld *field.Path, isPod bool) field.ErrorList {
	if !spec.HostNetwork {
		return nil
	}
	var errs field.ErrorList
	for i, c := range spec.Containers {
		for j, p := range c.Ports {
			if hp, cp := p.HostPort, p.ContainerPort; (isPod || hp != 0) && hp != cp {
				errs = append(errs, field.Invalid(fld.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					hp, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return errs
}

// Kubernetes' limits on a pod's DNS configuration (validation.go).
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

// validatePodDNS checks dnsPolicy and dnsConfig as kube-apiserver does
// (validateDNSPolicy, validatePodDNSConfig). An empty dnsPolicy is
// ClusterFirst; gossipod does not write the default into the stored spec,
// so that Deployments stored before it keep their template hash.
func validatePodDNS(spec *PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.DNSPolicy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone:
	default:
		errs = append(errs, field.NotSupported(fld.Child("dnsPolicy"), spec.DNSPolicy, []corev1.DNSPolicy{
			corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}))
	}
	c, cf := spec.DNSConfig, fld.Child("dnsConfig")
	if spec.DNSPolicy == corev1.DNSNone {
		if c == nil {
			return append(errs, field.Required(cf, fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone)))
		}
		if len(c.Nameservers) == 0 {
			errs = append(errs, field.Required(cf.Child("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
		}
	}
	if c == nil {
		return errs
	}
	if len(c.Nameservers) > maxDNSNameservers {
		errs = append(errs, field.Invalid(cf.Child("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %v nameservers", maxDNSNameservers)))
	}
	for i, ns := range c.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, field.Invalid(cf.Child("nameservers").Index(i), ns, "must be a valid IP address"))
		}
	}
	if len(c.Searches) > maxDNSSearchPaths {
		errs = append(errs, field.Invalid(cf.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v search paths", maxDNSSearchPaths)))
	}
	if n := len(strings.Join(c.Searches, " ")); n > maxDNSSearchListChars {
		errs = append(errs, field.Invalid(cf.Child("searches"), c.Searches, fmt.Sprintf("must not have more than %v characters (including spaces) in the search list", maxDNSSearchListChars)))
	}
	for i, s := range c.Searches {
		if s == "." {
			continue // the root domain, which kubelet writes as is
		}
		errs = append(errs, invalidEach(cf.Child("searches").Index(i), s, content.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")))...)
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(cf.Child("options").Index(i), "Option.Name must not be empty"))
		}
	}
	return errs
}

// isNegativeErrorMsg is Kubernetes' wording for a negative amount.
const isNegativeErrorMsg = "must be greater than or equal to 0"

// validateVolumes checks the pod's volumes and returns the names of the
// valid ones, for the containers' volumeMounts to refer to.
func validateVolumes(volumes []Volume, fld *field.Path) (map[string]bool, field.ErrorList) {
	names := map[string]bool{}
	var errs field.ErrorList
	for i := range volumes {
		v := &volumes[i]
		idx := fld.Index(i)
		errs = append(errs, validateVolumeSource(&v.VolumeSource, idx)...)
		namePath := idx.Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(namePath, ""))
		case names[v.Name]:
			errs = append(errs, field.Duplicate(namePath, v.Name))
		default:
			msgs := content.IsDNS1123Label(v.Name)
			errs = append(errs, invalidEach(namePath, v.Name, msgs)...)
			if len(msgs) == 0 {
				names[v.Name] = true
			}
		}
	}
	return names, errs
}

// The emptyDir media and hostPath types gossipod's runtime implements.
var (
	emptyDirMedia = []string{"", "Memory"}
	hostPathTypes = []string{"", "Directory", "DirectoryOrCreate", "File", "FileOrCreate"}
)

// validateVolumeSource checks that exactly one source is set, and that one.
func validateVolumeSource(src *VolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if d := src.EmptyDir; d != nil {
		n++
		if !slices.Contains(emptyDirMedia, string(d.Medium)) {
			errs = append(errs, field.NotSupported(fld.Child("emptyDir", "medium"), d.Medium, emptyDirMedia))
		}
		if d.SizeLimit != nil && d.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Forbidden(fld.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	}
	if h := src.HostPath; h != nil {
		if n > 0 {
			errs = append(errs, field.Forbidden(fld.Child("hostPath"), "may not specify more than 1 volume type"))
		}
		n++
		errs = append(errs, validateAbsolutePath(h.Path, fld.Child("hostPath", "path"))...)
		if t := HostPathTypeOf(h); !slices.Contains(hostPathTypes, t) {
			errs = append(errs, field.NotSupported(fld.Child("hostPath", "type"), t, hostPathTypes))
		}
	}
	errs = append(errs, validateProjectedSources(src, fld, &n)...)
	if n == 0 {
		errs = append(errs, field.Required(fld, "must specify a volume type"))
	}
	return errs
}

// validateAbsolutePath requires a clean-enough absolute path: the runtime
// bind-mounts it, and a relative path or a ".." would resolve somewhere the
// user did not mean.
func validateAbsolutePath(p string, fld *field.Path) field.ErrorList {
	switch {
	case p == "":
		return field.ErrorList{field.Required(fld, "")}
	case !path.IsAbs(p):
		return field.ErrorList{field.Invalid(fld, p, "must be an absolute path")}
	case slices.Contains(strings.Split(p, "/"), ".."):
		return field.ErrorList{field.Invalid(fld, p, "must not contain '..'")}
	}
	return nil
}

// maxQuantity caps each container request and limit, and the sum of a
// pod's requests: far above any machine, far enough below int64 that
// placement's and the FSM's integer arithmetic (Resources, in millicores
// and bytes) can neither overflow nor see a huge quantity as 0 (what
// MilliValue returns for "1e9999").
var maxQuantity = map[ResourceName]resource.Quantity{
	ResourceCPU:    resource.MustParse("1M"),  // a million cores
	ResourceMemory: resource.MustParse("1Pi"), // 2^50 bytes
	// 2^50 bytes as well: no node's disk comes near.
	ResourceEphemeralStorage: resource.MustParse("1Pi"),
}

var (
	pullPolicies = []PullPolicy{PullAlways, PullIfNotPresent, PullNever}
	protocols    = []Protocol{ProtocolSCTP, ProtocolTCP, ProtocolUDP}
	// containerResources are the resources a container may request or be
	// limited to: the ones placement accounts and cgroups (cpu, memory) or
	// the eviction manager (ephemeral-storage) enforce.
	containerResources = []ResourceName{ResourceCPU, ResourceEphemeralStorage, ResourceMemory}
)

// validateContainer checks one app or init container; names collects the
// container names seen so far in the pod.
func validateContainer(c *Container, fld *field.Path, volumes, names map[string]bool, init bool) field.ErrorList {
	var errs field.ErrorList
	namePath := fld.Child("name")
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(namePath, ""))
	case names[c.Name]:
		errs = append(errs, field.Duplicate(namePath, c.Name))
	default:
		errs = append(errs, invalidEach(namePath, c.Name, content.IsDNS1123Label(c.Name))...)
	}
	names[c.Name] = true

	switch {
	case c.Image == "":
		errs = append(errs, field.Required(fld.Child("image"), ""))
	case c.Image != strings.TrimSpace(c.Image):
		errs = append(errs, field.Invalid(fld.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	switch {
	case c.ImagePullPolicy == "":
		errs = append(errs, field.Required(fld.Child("imagePullPolicy"), ""))
	case !slices.Contains(pullPolicies, c.ImagePullPolicy):
		errs = append(errs, field.NotSupported(fld.Child("imagePullPolicy"), c.ImagePullPolicy, pullPolicies))
	}
	errs = append(errs, validateEnv(c.Env, fld.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, fld.Child("envFrom"))...)
	errs = append(errs, validatePorts(c.Ports, fld.Child("ports"))...)
	errs = append(errs, validateResources(&c.Resources, fld.Child("resources"))...)
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, fld.Child("volumeMounts"), volumes)...)
	errs = append(errs, validateContainerRestartPolicy(c, fld, init)...)
	// A sidecar may have what an app container has: probes and hooks.
	plainInit := init && !IsSidecar(c)
	errs = append(errs, validateProbes(c, fld, plainInit)...)
	errs = append(errs, validateLifecycle(c, fld, plainInit)...)
	errs = append(errs, validateSecurityContext(c.SecurityContext, fld)...)
	return errs
}

func validatePorts(ports []ContainerPort, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, p := range ports {
		idx := fld.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
				errs = append(errs, invalidEach(idx.Child("name"), p.Name, msgs)...)
			} else if names[p.Name] {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			errs = append(errs, invalidEach(idx.Child("containerPort"), p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))...)
		}
		if p.HostPort != 0 {
			errs = append(errs, invalidEach(idx.Child("hostPort"), p.HostPort, validation.IsValidPortNum(int(p.HostPort)))...)
		}
		switch {
		case p.Protocol == "":
			errs = append(errs, field.Required(idx.Child("protocol"), ""))
		case !slices.Contains(protocols, p.Protocol):
			errs = append(errs, field.NotSupported(idx.Child("protocol"), p.Protocol, protocols))
		}
	}
	return errs
}

// validateHostPorts rejects two app containers of one pod taking the same
// host port and protocol: the pod could never start on any node. (Init
// containers run alone, so they may reuse their pod's host ports.)
func validateHostPorts(containers []Container, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[HostPort]bool{}
	for i, c := range containers {
		for j, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			hp := HostPort{Protocol: p.Protocol, Port: p.HostPort}
			if hp.Protocol == "" {
				hp.Protocol = ProtocolTCP
			}
			if seen[hp] {
				errs = append(errs, field.Duplicate(fld.Index(i).Child("ports").Index(j).Child("hostPort"),
					fmt.Sprintf("%s/%d", hp.Protocol, hp.Port)))
			}
			seen[hp] = true
		}
	}
	return errs
}

// validateResources checks a container's requests and limits: only cpu,
// memory and ephemeral-storage, none negative, and no limit below its request (the container
// could never get what placement reserved for it).
func validateResources(r *ResourceRequirements, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(list ResourceList, fld *field.Path) {
		for _, name := range sortedKeys(list) {
			p := resourcePath(fld, name)
			if !slices.Contains(containerResources, name) {
				errs = append(errs, field.NotSupported(p, name, containerResources))
				continue
			}
			q, limit := list[name], maxQuantity[name]
			switch {
			case q.Sign() < 0:
				errs = append(errs, field.Invalid(p, q.String(), isNegativeErrorMsg))
			case q.Cmp(limit) > 0:
				errs = append(errs, field.Invalid(p, q.String(), "must be less than or equal to "+limit.String()))
			}
		}
	}
	check(r.Limits, fld.Child("limits"))
	check(r.Requests, fld.Child("requests"))
	for _, name := range sortedKeys(r.Limits) {
		limit := r.Limits[name]
		request, ok := r.Requests[name]
		if !ok || !slices.Contains(containerResources, name) || request.Sign() < 0 || limit.Sign() < 0 ||
			request.Cmp(maxQuantity[name]) > 0 || limit.Cmp(maxQuantity[name]) > 0 {
			continue
		}
		if limit.Cmp(request) < 0 {
			errs = append(errs, field.Invalid(resourcePath(fld.Child("limits"), name), limit.String(),
				fmt.Sprintf("must be greater than or equal to %s request", name)))
		}
	}
	return errs
}

// validatePodRequests caps the sum of the app containers' requests (a
// limit standing in for a missing request, as PodRequests counts them) at
// maxQuantity, so that the pod's request fits placement's integers. Each
// container's quantities are checked by validateResources; sums that
// include an invalid one are left to that error.
func validatePodRequests(containers []Container, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, name := range containerResources {
		var sum resource.Quantity
		valid := true
		for _, c := range containers {
			q, ok := c.Resources.Requests[name]
			if !ok {
				q, ok = c.Resources.Limits[name]
			}
			if !ok {
				continue
			}
			if q.Sign() < 0 || q.Cmp(maxQuantity[name]) > 0 {
				valid = false
				break
			}
			sum.Add(q)
		}
		if limit := maxQuantity[name]; valid && sum.Cmp(limit) > 0 {
			errs = append(errs, field.Invalid(fld, sum.String(),
				fmt.Sprintf("the containers' %s requests must add up to at most %s", name, limit.String())))
		}
	}
	return errs
}

// resourcePath names a resource in a list: limits.memory, or
// limits[example.com/gpu] for a name that is not an identifier.
func resourcePath(fld *field.Path, name ResourceName) *field.Path {
	if isIdentifier(string(name)) {
		return fld.Child(string(name))
	}
	return fld.Key(string(name))
}

func validateVolumeMounts(mounts []VolumeMount, fld *field.Path, volumes map[string]bool) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		idx := fld.Index(i)
		switch {
		case m.Name == "":
			errs = append(errs, field.Required(idx.Child("name"), ""))
		case !volumes[m.Name]:
			errs = append(errs, field.NotFound(idx.Child("name"), m.Name))
		}
		mp := idx.Child("mountPath")
		switch {
		case m.MountPath == "":
			errs = append(errs, field.Required(mp, ""))
		case !path.IsAbs(m.MountPath):
			errs = append(errs, field.Invalid(mp, m.MountPath, "must be an absolute path"))
		case paths[path.Clean(m.MountPath)]:
			errs = append(errs, field.Invalid(mp, m.MountPath, "must be unique"))
		}
		paths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" {
			errs = append(errs, validateLocalDescendingPath(m.SubPath, idx.Child("subPath"))...)
		}
	}
	return errs
}

// invalidEach turns the messages of one of apimachinery's Is* checks into
// Invalid errors for value at fld.
func invalidEach(fld *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fld, value, msg))
	}
	return errs
}

// sortedKeys returns a map's keys in order, so errors come out in the same
// order every time.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
