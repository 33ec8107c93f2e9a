// Package network gives each pod on this node its own IP address and makes every pod
// reachable from every node, as DESIGN.md ("Networking") describes.
//
// A Manager owns four things on the node, all in the network namespace of the
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
//   - The agent-port guard: an nftables table of its own (FilterTable, written over
//     netlink with github.com/google/nftables) that rejects packets from pods to the
//     agent's gossip, Raft and API ports (Config.AgentPorts) on this node's addresses
//     and, for this node's pods, on every other host's, so that a pod cannot pose as
//     an agent or an operator. Pod-to-pod traffic and hostPorts on those port numbers
//     pass. Config.AllowPodAccessToAgent turns it off.
//
// # How the agent and the runtime use it
//
//  1. New once at start, with Root = <data-dir>/network. Root must survive restarts:
//     it holds the CNI result cache, host-local's leases, the persisted pod CIDR and
//     one record per sandbox, written before its ADD and removed after its DEL. The
//     caller needs to persist nothing else for networking.
//  2. GuardAgentPorts right after New, before the agent opens its ports: it replaces
//     whatever table an earlier run left (or removes it, with AllowPodAccessToAgent).
//     Close removes the table again when the agent stops cleanly; after a crash it
//     stays, and keeps protecting the node, until the next start replaces it.
//  3. SetPodCIDR as soon as the node's pod CIDR is known (from the FSM), and again
//     after every restart (same value: a no-op that re-ensures the rules). Setup
//     fails with ErrNoPodCIDR until then; Teardown works without it.
//  4. SyncRoutes at start and on every change to the node list, with every node's
//     pod CIDR and address (this node's own entry is skipped). Nodes that are down
//     may stay in the list; a node removed from the cluster should leave it.
//  5. Setup once the sandbox exists — its pause process holds the namespace, passed
//     as /proc/<pause pid>/ns/net — and before any app container starts; ID is the
//     pod UID. Report Result.IP as status.podIP. Setup is idempotent: for a pod
//     adopted after a restart, call it again to learn its address. A sandbox
//     recreated under the same UID (a new pause) is re-attached, maybe with a new IP.
//  6. Teardown when the sandbox is removed. Either order relative to killing the pause
//     releases everything; after is cheaper (the kernel removes the veth with the
//     namespace: p50 15-25 ms instead of 35-40 ms here), and the recorded namespace identity
//     keeps a reused pid from misdirecting the plugins.
//  7. After a restart, once the wanted pods are known: Teardown(PodNetwork{ID: id}) for
//     every id from Sandboxes whose pod is not wanted on this node any more; a failed
//     Setup or Teardown also leaves its id there, so the same sweep retries it.
//
// Every method acts in the network namespace of the calling OS thread. In the agent
// that is the host's, for any goroutine; never call the Manager from a goroutine
// locked to a thread that has joined another namespace. The plugins run as child
// processes and inherit the calling thread's namespace (the tests rely on that to run
// several "nodes" in one process).
//
// Costs measured on a shared 2-vCPU VM (BenchmarkSetup, p50): Setup 11-20 ms, ~40 ms
// with a hostPort (portmap's iptables calls); Teardown 35-40 ms, ~120 ms with a
// hostPort. The plugins of different pods run one at a time (see Manager).
//
// Only IPv4 is supported, like the rest of gossipod's networking.
package network
