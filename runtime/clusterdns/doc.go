// Package clusterdns is the node's cluster DNS: a DNS server that answers
// the cluster domain the way CoreDNS' kubernetes plugin does (following the
// Kubernetes DNS specification), forwards every other name to the host's
// resolvers, and kubelet's rules for the resolv.conf a pod gets.
//
// It reads nothing itself and knows nothing of raft or gossip: the agent
// calls Server.Update with Kubernetes' own objects (core/v1 Services and
// Pods, discovery/v1 EndpointSlices) whenever they change. Update builds an
// immutable index and swaps it in; a query reads one index without a lock,
// with map lookups only, so answering costs the same with 10 services or
// 10,000.
//
// # Names answered (zone = the cluster domain, cluster.local by default)
//
//	<svc>.<ns>.svc.<zone>                A/AAAA: the cluster IPs; headless: the ready endpoints;
//	                                     ExternalName: CNAME to the target (plus its addresses)
//	<host>.<svc>.<ns>.svc.<zone>         A/AAAA of the endpoint whose hostname is <host>, or
//	                                     whose address is <host> with dashes (10-1-2-3)
//	_<port>._<proto>.<svc>.<ns>.svc.<zone>  SRV for a named port: the service name for a
//	                                     cluster IP, one per endpoint for a headless service,
//	                                     targets' addresses in the additional section
//	<a-b-c-d>.<ns>.pod.<zone>            A of a pod (Config.Pods: any address, as the spec asks,
//	                                     or only live pods' addresses)
//	<reverse>.in-addr.arpa, ip6.arpa     PTR of cluster IPs and endpoint addresses
//	dns-version.<zone>                   TXT: the schema version, 1.1.0
//	ns.dns.<zone>, <zone> NS and SOA     the nameserver (Config.NameserverIPs)
//
// A name that exists without records of the asked type (a namespace, a
// service asked for another family) is NODATA; a name that cannot exist is
// NXDOMAIN; both carry the zone's SOA in the authority section, with the
// record TTL (5 s) as its minimum, so negative answers are cached no longer
// than positive ones. Names under the cluster domain are never forwarded.
// Reverse lookups of addresses that are not the cluster's are forwarded,
// as CoreDNS' default Corefile does ("fallthrough in-addr.arpa ip6.arpa").
//
// # Forwarding
//
// Other names go to Config.Upstreams, by default the nameservers of the
// host's /etc/resolv.conf, in order: over UDP, again over TCP when the
// answer is truncated, each exchange bounded by ForwardTimeout. At most
// MaxConcurrentForwards queries wait on upstreams at once; past that a
// query is answered SERVFAIL at once rather than queued.
//
// # Pod resolv.conf
//
// PodDNS computes what kubelet's GetPodDNS computes for a pod (dnsPolicy,
// dnsConfig, the limits on nameservers and search paths, with kubelet's
// warning texts) and PodDNSConfig.ResolvConf writes it as the container
// runtime does.
package clusterdns
