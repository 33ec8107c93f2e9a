package clusterdns

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// PodMode says how names under <ns>.pod.<domain> are answered; the values
// are CoreDNS's "pods" option.
type PodMode string

const (
	// PodsInsecure answers any well-formed dashed IP in any namespace,
	// without looking at the pods: kube-dns' historical behaviour, which
	// the Kubernetes DNS specification (2.6) still requires and kubeadm's
	// Corefile configures. The default.
	PodsInsecure PodMode = "insecure"
	// PodsVerified answers a-b-c-d.<ns>.pod.<domain> only when a live pod
	// of that namespace has that IP (its status.podIP), so that a name in
	// someone else's namespace cannot be made up, e.g. to have a
	// certificate issued for it.
	PodsVerified PodMode = "verified"
	// PodsDisabled answers NXDOMAIN for every pod name.
	PodsDisabled PodMode = "disabled"
)

// Config says where the server listens, which zone it owns and where the
// rest of the world is.
type Config struct {
	// Addr is where the server listens for UDP and TCP, "host:port". With
	// port 0 the UDP port is chosen by the kernel and TCP takes the same.
	Addr string
	// FreeBind lets Addr be an address the node does not have yet (Linux's
	// IP_FREEBIND): the agent binds the pods' gateway, which the bridge
	// only carries once the first pod is attached, and the server answers
	// from the moment it does.
	FreeBind bool
	// ClusterDomain is the zone answered from the cluster state and never
	// forwarded; kubelet's --cluster-domain, "cluster.local" unless set.
	ClusterDomain string
	// TTL of every cluster record and of the negative-answer SOA; CoreDNS'
	// kubernetes plugin default is 5 seconds, short so that a pod that
	// moves is found again quickly.
	TTL uint32
	// Upstreams are the resolvers ("ip" or "ip:port") that get every name
	// outside ClusterDomain. Empty means the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is the host file read for Upstreams when none are given;
	// "/etc/resolv.conf" unless set.
	ResolvConf string
	// ForwardTimeout bounds one upstream exchange (per upstream tried).
	ForwardTimeout time.Duration
	// MaxConcurrentForwards bounds the queries waiting on upstreams at
	// once; past it a query gets SERVFAIL at once instead of queueing, so
	// a dead upstream cannot pile up goroutines (CoreDNS' max_concurrent).
	MaxConcurrentForwards int
	// MaxConcurrentQueries bounds the queries being answered at once, local
	// or forwarded; past it a query gets SERVFAIL.
	MaxConcurrentQueries int
	// NameserverIPs are the addresses of the cluster DNS service, answered
	// for ns.dns.<domain> and in the NS record of the zone apex, as CoreDNS
	// does with the kube-dns Service. May be empty.
	NameserverIPs []netip.Addr
	// Pods selects how pod names are answered; PodsInsecure unless set.
	Pods PodMode
	// Logger receives forwarding failures and refused queries;
	// slog.Default() unless set.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; callers add Addr.
func DefaultConfig() Config {
	return Config{
		ClusterDomain: "cluster.local",
		TTL:           5,
		ResolvConf:    "/etc/resolv.conf",
		// CoreDNS' forward plugin gives up on an upstream after about 2s
		// (its read timeout); a stub resolver retries after 5s, so one
		// failover fits inside the client's own timeout.
		ForwardTimeout: 2 * time.Second,
		// Enough for a busy node, small enough that a stuck upstream costs
		// a bounded amount of memory (a goroutine and a buffer each).
		MaxConcurrentForwards: 1000,
		MaxConcurrentQueries:  4000,
		Pods:                  PodsInsecure,
	}
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("clusterdns: invalid config")

// Validate checks cfg and names the field that is wrong. It reads nothing;
// a missing host resolv.conf is reported by New.
func (cfg *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return bad("Addr", "%q: %v", cfg.Addr, err)
	}
	if d := strings.TrimSuffix(cfg.ClusterDomain, "."); d != "" {
		if _, ok := dns.IsDomainName(d); !ok {
			return bad("ClusterDomain", "%q is not a domain name", cfg.ClusterDomain)
		}
	}
	for _, u := range cfg.Upstreams {
		if _, err := upstreamAddr(u); err != nil {
			return bad("Upstreams", "%v", err)
		}
	}
	if cfg.ForwardTimeout < 0 {
		return bad("ForwardTimeout", "negative")
	}
	if cfg.MaxConcurrentForwards < 0 {
		return bad("MaxConcurrentForwards", "negative")
	}
	if cfg.MaxConcurrentQueries < 0 {
		return bad("MaxConcurrentQueries", "negative")
	}
	switch cfg.Pods {
	case "", PodsVerified, PodsInsecure, PodsDisabled:
	default:
		return bad("Pods", "%q is not verified, insecure or disabled", cfg.Pods)
	}
	return nil
}

// withDefaults returns a copy of cfg with unset fields defaulted, so the
// caller's Config is never changed.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = d.ClusterDomain
	}
	cfg.ClusterDomain = strings.ToLower(dns.Fqdn(cfg.ClusterDomain))
	if cfg.TTL == 0 {
		cfg.TTL = d.TTL
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = d.ResolvConf
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = d.ForwardTimeout
	}
	if cfg.MaxConcurrentForwards == 0 {
		cfg.MaxConcurrentForwards = d.MaxConcurrentForwards
	}
	if cfg.MaxConcurrentQueries == 0 {
		cfg.MaxConcurrentQueries = d.MaxConcurrentQueries
	}
	if cfg.Pods == "" {
		cfg.Pods = d.Pods
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Upstreams = append([]string(nil), cfg.Upstreams...)
	cfg.NameserverIPs = append([]netip.Addr(nil), cfg.NameserverIPs...)
	return cfg
}

// upstreamAddr turns "ip" or "ip:port" into "ip:port" (port 53 by default).
func upstreamAddr(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("%q is neither an IP nor an IP:port", s)
	}
	return netip.AddrPortFrom(a, 53).String(), nil
}

// hostUpstreams reads the nameservers of a resolv.conf file, in order.
func hostUpstreams(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	servers, _, _, err := parseResolvConf(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, s := range servers {
		if u, err := upstreamAddr(s); err == nil {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no nameserver", path)
	}
	return out, nil
}
