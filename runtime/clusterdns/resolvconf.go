package clusterdns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The limits kubelet applies to a pod's resolv.conf (Kubernetes'
// validation constants, ExpandedDNSConfig being GA): glibc reads three
// nameservers at most, and some resolvers abort on longer search lines.
const (
	// MaxDNSNameservers is glibc's MAXNS: further nameservers are dropped.
	MaxDNSNameservers = 3
	// MaxDNSSearchPaths bounds the search list; the paths after it are dropped.
	MaxDNSSearchPaths = 32
	// MaxDNSSearchListChars bounds the search line (with its spaces);
	// paths are dropped from its end until it fits.
	MaxDNSSearchListChars = 2048

	maxSearchPathLength     = 253 // DNS1123SubdomainMaxLength
	maxResolvConfFileLength = 10 << 20
)

// defaultDNSOptions are kubelet's options for ClusterFirst pods: ndots:5,
// so that <svc>.<ns> (one dot) still walks the search path first.
var defaultDNSOptions = []string{"ndots:5"}

// PodDNSParams is what the node knows about DNS, kubelet's flags.
type PodDNSParams struct {
	// ClusterDNS are the cluster DNS server addresses (--cluster-dns).
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster domain (--cluster-domain), without a
	// trailing dot; empty adds no cluster search paths.
	ClusterDomain string
	// HostResolvConf is the content of the host file pods of policy
	// Default inherit (--resolv-conf).
	HostResolvConf []byte
	// NoHostResolvConf is kubelet's --resolv-conf="": pods inherit no host
	// resolvers and get a nameserver on localhost per node address family
	// instead (NodeIPs), with the search path ".".
	NoHostResolvConf bool
	// NodeIPs decide the localhost nameservers when NoHostResolvConf.
	NodeIPs []netip.Addr
}

// PodDNSConfig is a pod's resolver configuration, as kubelet hands it to
// the container runtime.
type PodDNSConfig struct {
	// Servers are the nameserver lines, in order (at most 3).
	Servers []string
	// Searches is the search line, in order.
	Searches []string
	// Options are the options line's entries, e.g. "ndots:5".
	Options []string
}

// Warning is an event kubelet records while forming a pod's DNS: the
// reason and the message, in kubelet's words.
type Warning struct {
	Reason  string // "DNSConfigForming" or "MissingClusterDNS"
	Message string
}

// ErrHostResolvConf wraps the errors of reading the host's resolv.conf.
var ErrHostResolvConf = errors.New("invalid host resolv.conf")

// PodDNS is kubelet's GetPodDNS: the resolver configuration for pod,
// following its dnsPolicy and merging its dnsConfig, cut to the limits.
// The warnings are the events kubelet would record; an error means the
// host resolv.conf could not be read and the pod cannot be given DNS.
func PodDNS(pod *corev1.Pod, p PodDNSParams) (PodDNSConfig, []Warning, error) {
	var cfg PodDNSConfig
	var warnings []Warning
	if !p.NoHostResolvConf {
		servers, searches, options, err := parseResolvConf(p.HostResolvConf)
		if err != nil {
			return PodDNSConfig{}, nil, fmt.Errorf("%w: %w", ErrHostResolvConf, err)
		}
		cfg = PodDNSConfig{Servers: servers, Searches: searches, Options: options}
	}

	policy := pod.Spec.DNSPolicy
	switch policy {
	case "", corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone:
	default:
		// kubelet logs "Failed to get DNS type for pod. Falling back to
		// DNSClusterFirst policy." with this error.
		warnings = append(warnings, Warning{Reason: "DNSConfigForming", Message: fmt.Sprintf("invalid DNSPolicy=%v", policy)})
		policy = corev1.DNSClusterFirstWithHostNet // cluster DNS, whatever the network
	}
	if policy == "" {
		policy = corev1.DNSClusterFirst // the API default
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault // host-network pods fall back to the node's DNS
	}

	switch policy {
	case corev1.DNSNone:
		cfg = PodDNSConfig{}
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		if len(p.ClusterDNS) > 0 {
			// The cluster DNS server is the only nameserver: it forwards
			// what it does not answer itself.
			cfg.Servers = make([]string, len(p.ClusterDNS))
			for i, ip := range p.ClusterDNS {
				cfg.Servers[i] = ip.String()
			}
			cfg.Searches = clusterSearches(cfg.Searches, pod.Namespace, p.ClusterDomain)
			cfg.Options = defaultDNSOptions
			break
		}
		msg := fmt.Sprintf("kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.", corev1.DNSClusterFirst, corev1.DNSDefault)
		warnings = append(warnings, Warning{Reason: "MissingClusterDNS", Message: fmt.Sprintf("pod: %q. %s", podDesc(pod), msg)})
		fallthrough
	case corev1.DNSDefault:
		if p.NoHostResolvConf {
			for _, ip := range p.NodeIPs {
				if ip.Is6() && !ip.Is4In6() {
					cfg.Servers = append(cfg.Servers, "::1")
				} else {
					cfg.Servers = append(cfg.Servers, "127.0.0.1")
				}
			}
			if len(cfg.Servers) == 0 {
				cfg.Servers = []string{"127.0.0.1"}
			}
			cfg.Searches = []string{"."}
		}
	}

	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = omitDuplicates(append(cfg.Servers, dc.Nameservers...))
		cfg.Searches = omitDuplicates(append(cfg.Searches, dc.Searches...))
		cfg.Options = mergeDNSOptions(cfg.Options, dc.Options)
	}

	if len(cfg.Servers) > MaxDNSNameservers {
		cfg.Servers = cfg.Servers[:MaxDNSNameservers]
		warnings = append(warnings, Warning{Reason: "DNSConfigForming", Message: fmt.Sprintf(
			"Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s", strings.Join(cfg.Servers, " "))})
	}
	var cut bool
	if cfg.Searches, cut = searchFitsLimits(cfg.Searches); cut {
		warnings = append(warnings, Warning{Reason: "DNSConfigForming", Message: fmt.Sprintf(
			"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s", strings.Join(cfg.Searches, " "))})
	}
	return cfg, warnings, nil
}

// podDesc is kubelet's format.Pod: name_namespace(uid).
func podDesc(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// clusterSearches puts <ns>.svc.<domain>, svc.<domain>, <domain> before
// the host's search paths.
func clusterSearches(hostSearch []string, namespace, domain string) []string {
	if domain == "" {
		return hostSearch
	}
	s := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return omitDuplicates(append(s, hostSearch...))
}

// searchFitsLimits is kubelet's formDNSSearchFitsLimits: at most
// MaxDNSSearchPaths paths, none longer than 253 characters, and the
// line no longer than MaxDNSSearchListChars (cut from the end).
func searchFitsLimits(search []string) ([]string, bool) {
	cut := false
	if len(search) > MaxDNSSearchPaths {
		search = search[:MaxDNSSearchPaths]
		cut = true
	}
	kept := search[:0:0]
	for _, s := range search {
		if len(s) > maxSearchPathLength {
			cut = true
			continue
		}
		kept = append(kept, s)
	}
	search = kept
	if l := len(strings.Join(search, " ")); l > MaxDNSSearchListChars {
		n, removed := 0, 0
		for i := len(search) - 1; i >= 0; i-- {
			removed += len(search[i]) + 1
			n++
			if l-removed <= MaxDNSSearchListChars {
				break
			}
		}
		search = search[:len(search)-n]
		cut = true
	}
	return search, cut
}

func omitDuplicates(strs []string) []string {
	seen := make(map[string]bool, len(strs))
	var out []string
	for _, s := range strs {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeDNSOptions is kubelet's: an option of the pod's dnsConfig replaces
// the one of the same name. kubelet rebuilds the list from a map, so its
// order is random; here it is the order of first appearance.
func mergeDNSOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, op := range existing {
		if name, value, ok := strings.Cut(op, ":"); ok {
			set(name, value)
		} else {
			set(op, "")
		}
	}
	for _, op := range pod {
		v := ""
		if op.Value != nil {
			v = *op.Value
		}
		set(op.Name, v)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if v := values[n]; v != "" {
			out = append(out, n+":"+v)
		} else {
			out = append(out, n)
		}
	}
	return out
}

// parseResolvConf is kubelet's: nameserver lines accumulate; the last
// search line and the last options line win; a search path loses its
// trailing dot.
func parseResolvConf(b []byte) (nameservers, searches, options []string, err error) {
	if len(b) > maxResolvConfFileLength {
		return nil, nil, nil, fmt.Errorf("resolv.conf is longer than %d bytes", maxResolvConfFileLength)
	}
	nameservers, searches, options = []string{}, []string{}, []string{}
	var errs []error
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) >= 2 {
				nameservers = append(nameservers, fields[1])
			} else {
				errs = append(errs, errors.New("nameserver list is empty "))
			}
		case "search":
			searches = []string{}
			for _, s := range fields[1:] {
				searches = append(searches, strings.TrimSuffix(s, "."))
			}
		case "options":
			options = fields[1:]
		}
	}
	return nameservers, searches, options, errors.Join(errs...)
}

// ResolvConf is the file the container runtime writes from c (containerd's
// layout: search, nameservers, options). A configuration with nothing in
// it gives nil: the runtime then copies the host's resolv.conf as is.
func (c PodDNSConfig) ResolvConf() []byte {
	var b strings.Builder
	if len(c.Searches) > 0 {
		b.WriteString("search " + strings.Join(c.Searches, " ") + "\n")
	}
	for _, s := range c.Servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(c.Options) > 0 {
		b.WriteString("options " + strings.Join(c.Options, " ") + "\n")
	}
	if b.Len() == 0 {
		return nil
	}
	return []byte(b.String())
}
