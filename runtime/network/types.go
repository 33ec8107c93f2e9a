package network

import "net"

// PodNetwork names one pod sandbox to attach or detach.
type PodNetwork struct {
	// ID identifies the sandbox: the pod's UID. It keys the CNI cache, the IP lease
	// and the sandbox record, so it must be the same for Setup and Teardown. Letters,
	// digits, '_', '.' and '-', starting with a letter or digit.
	ID string
	// Namespace and Name are the pod's; they are passed to the plugins as
	// K8S_POD_NAMESPACE and K8S_POD_NAME and appear in the plugins' logs and rules.
	Namespace, Name string
	// NetNSPath is the pod's network namespace, normally /proc/<pause pid>/ns/net.
	// Required by Setup. Teardown accepts an empty, stale or missing path: it then
	// uses what Setup recorded, and skips the in-namespace part of the clean-up when
	// the namespace is gone (or is no longer the one Setup attached, as when the pause
	// process's pid has been reused).
	NetNSPath string
	// HostPorts are the pod's containers' hostPorts, published on the node's addresses
	// by the portmap plugin. Teardown does not need them: the recorded ones are used.
	HostPorts []PortMapping
}

// PortMapping publishes a container port on the node, as a container's
// ports[].hostPort does in a Kubernetes pod spec.
type PortMapping struct {
	// HostPort is the port opened on every address of the node (1..65535). Two pods
	// on one node cannot share a HostPort and protocol; the scheduler must prevent it.
	HostPort int32
	// ContainerPort is the port the pod listens on, at its own IP (1..65535).
	ContainerPort int32
	// Protocol is "tcp" (the default when empty) or "udp"; case is ignored.
	Protocol string
}

// Result is what Setup gave the pod.
type Result struct {
	// IP is the pod's address (status.podIP).
	IP net.IP
	// Gateway is the pods' default gateway: the bridge's address, the first of the
	// pod CIDR.
	Gateway net.IP
	// Interface is the pod-side interface that carries IP ("eth0").
	Interface string
}

// Route says where another node's pods live: PodCIDR is reached through NodeIP.
type Route struct {
	// PodCIDR is the other node's pod CIDR, e.g. "10.88.2.0/24"; it must lie inside
	// Config.ClusterCIDR.
	PodCIDR string
	// NodeIP is the other node's address, which must be directly reachable (on a
	// connected subnet) from this node: host-gw routing has no tunnel.
	NodeIP string
}

// Names the Manager gives what it owns on the node, so that operators (and its own
// sync) can tell gossipod's state apart from everyone else's.
const (
	// RouteProtocol tags the kernel routes SyncRoutes installs ("ip route show proto
	// 103"); routes with any other protocol are never changed. 103 is not assigned in
	// iproute2's rt_protos.
	RouteProtocol = 103
	// MasqChain is the nat-table chain, jumped to from POSTROUTING, that masquerades
	// traffic from this node's pods to destinations outside the cluster CIDR.
	MasqChain = "GOSSIPOD-MASQ"
	// ForwardChain is the filter-table chain, jumped to first from FORWARD, that
	// accepts forwarded traffic from and to the cluster CIDR, so a FORWARD policy of
	// DROP (Docker sets one) does not cut pods off.
	ForwardChain = "GOSSIPOD-FORWARD"
	// FilterTable is the nftables table (family inet) GuardAgentPorts installs and
	// Close removes: "nft list table inet gossipod-filter" shows its rules and their
	// counters.
	FilterTable = "gossipod-filter"
	// GuardInputChain is FilterTable's chain at the input hook: it rejects pods'
	// packets to the agent's ports on any of this node's addresses.
	GuardInputChain = "input"
	// GuardForwardChain is FilterTable's chain at the forward hook: it rejects this
	// node's pods' packets to the agent's ports on any other host (any destination
	// outside the cluster CIDR).
	GuardForwardChain = "forward"
	// NetworkName is the name of the pods' CNI network (the conflist's "name"); the
	// CNI cache and host-local's leases are keyed by it.
	NetworkName = "gossipod"
	// LoopbackNetworkName is the CNI network that only brings up lo in the pod.
	LoopbackNetworkName = "gossipod-loopback"
	// PodInterface is the pod-side name of the pod's veth.
	PodInterface = "eth0"
)
