// Package serviceproxy is the node's service data plane: it programs the
// kernel so that a Service's virtual IP and node ports lead to the pods
// behind it, the way kube-proxy's nftables mode does, and with the same
// chain names where they fit.
//
// It reads nothing itself: Sync takes the desired Services and
// EndpointSlices (Kubernetes' own types) and makes one nftables table —
// and only that table — match them. It knows nothing of raft or gossip;
// the agent feeds it from the replicated state.
//
// # Layout (table ip gossipod-proxy)
//
// Base chains, at kube-proxy's hooks and priorities:
//
//	nat-prerouting  (nat, prerouting, dstnat)  jump services
//	nat-output      (nat, output, dstnat)      jump services
//	nat-postrouting (nat, postrouting, srcnat) jump masquerading
//	filter-input    (filter, input, -110)      ct state new: nodeport-endpoints-check, service-endpoints-check
//	filter-forward  (filter, forward, -110)    ct state new: service-endpoints-check
//	filter-output   (filter, output, -110)     ct state new: nodeport-endpoints-check, service-endpoints-check
//
// "services" looks the destination up in two verdict maps:
// service-ips (ipv4_addr . inet_proto . inet_service) for cluster IPs and,
// when the destination is one of the node's addresses (set nodeport-ips),
// service-nodeports (inet_proto . inet_service). Their elements goto one
// chain per service port:
//
//	service-HASH-ns/name/proto/port   all usable endpoints
//	local-HASH-ns/name/proto/port     this node's usable endpoints (traffic policy Local)
//	external-HASH-ns/name/proto/port  node-port entry: masquerade, then service- or local-
//	endpoint-HASH-ns/name/proto/port__ip/port   hairpin mark, affinity update, DNAT
//
// A service or local chain picks an endpoint with "numgen random mod N vmap";
// with sessionAffinity ClientIP it first sends a client found in an
// endpoint's dynamic set (affinity-HASH-…, timeout = the affinity timeout)
// back to that endpoint. A service port without usable endpoints is instead
// an element of no-endpoint-services / no-endpoint-nodeports, checked by the
// filter chains, whose verdict goes to reject-chain (TCP reset, ICMP port
// unreachable otherwise) — or drop for a Local node port with endpoints on
// other nodes only. Packets are masqueraded in nat-postrouting when marked
// with the masquerade bit: traffic from outside the cluster CIDR to a cluster
// IP, node-port traffic under externalTrafficPolicy Cluster, and hairpin
// traffic (a pod reaching itself through its service).
//
// # Incremental updates
//
// The rule computation is pure (build.go, rules.go): each service port
// becomes a fragment (its chains, affinity sets and map elements), and a
// fragment is recomputed only when its inputs changed. Sync diffs the new
// fragments against what it last programmed (diff.go) and sends one netlink
// transaction that touches only the chains, sets and elements that differ.
// The first Sync, and any Sync after a failed one, rebuilds the whole table
// in one transaction instead (delete it, create it), so a table that was
// changed behind our back is repaired; nothing outside it is touched.
//
// # What the node must provide
//
//   - net.ipv4.ip_forward=1, so DNATed traffic from other hosts and pods is
//     forwarded (the pod network already needs it).
//   - A route that covers the cluster IPs (the default route is enough),
//     so a packet for a service without endpoints reaches the filter chains
//     and is rejected instead of failing with "network unreachable".
//   - Pods on a Linux bridge (gossipod's CNI bridge) need
//     net.bridge.bridge-nf-call-iptables=1 (module br_netfilter): when pod A
//     reaches pod B on the same bridge through a cluster IP, B's reply is
//     bridged straight to A, and only br_netfilter lets conntrack see it and
//     undo the DNAT. Kubernetes requires the same. A pod reaching itself
//     through its service also needs hairpin mode on its bridge port, which
//     gossipod's bridge config (hairpinMode) sets.
//   - Node ports on 127.0.0.1 are not supported (they would need
//     route_localnet), as in kube-proxy's nftables mode.
//
// The package sets no sysctl itself; its tests set ip_forward inside their
// own network namespaces only.
package serviceproxy
