// Package network gives each pod on this node its own IP address and makes every pod
// reachable from every node, as DESIGN.md ("Networking") describes.
//
// A Manager owns three things on the node, all in the network namespace of the
// process (or, in tests, of the OS thread) that calls it:
//
//   - Pod attachments, through CNI (libcni) and the standard plugins from Debian's
//     containernetworking-plugins: loopback brings lo up; bridge attaches the pod to
//     Config.BridgeName through a veth and host-local hands out addresses from the
//     node's pod CIDR (the bridge owns the first address, the pods' gateway); portmap
//     publishes hostPorts. Setup runs CNI ADD, Teardown CNI DEL.
//   - Host-gw routes: one kernel route per other node, "its pod CIDR via its node
//     address", tagged with RouteProtocol so that only gossipod's routes are ever
//     changed (SyncRoutes).
//   - Forwarding policy: net.ipv4.ip_forward, an iptables nat chain (MasqChain) that
//     masquerades pod traffic leaving the cluster CIDR, and a filter chain
//     (ForwardChain) that accepts forwarded cluster traffic.
//
// # How the runtime uses it
//
//  1. New once at start, with Root under the agent's data directory. Root survives
//     restarts: it holds the CNI result cache, host-local's leases and one record per
//     attached sandbox, which is what makes clean-up after a crash possible.
//  2. SetPodCIDR as soon as the node's pod CIDR is known (from the FSM); again after
//     every restart with the same value.
//  3. SyncRoutes on every state change that adds, removes or moves a node (and once at
//     start), with every other node's pod CIDR and address.
//  4. Setup after the pod's sandbox (its pause process, which holds the network
//     namespace) exists and before any app container starts; put Result.IP in
//     status.podIP. Setup is idempotent for the same sandbox: after a restart, calling
//     it again for an adopted pod returns the address it already has.
//  5. Teardown when the sandbox is removed, before or after the pause process has gone.
//  6. After a restart, Teardown every id from Sandboxes whose pod is no longer
//     wanted; only the id is needed.
//
// The plugins, iptables and the kernel's routing state are all per network namespace,
// and the Manager changes them in the namespace it runs in: the agent's, normally the
// host's. Plugins run as child processes and inherit the calling thread's namespace.
//
// Only IPv4 is supported, like the rest of gossipod's networking.
package network
