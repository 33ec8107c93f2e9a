// Package netlinkutil retries netlink dumps that the kernel interrupted.
//
// A netlink dump (listing links, addresses, routes, neighbours, conntrack
// entries...) spans several messages; when the table changes between two of
// them, the kernel marks the dump with NLM_F_DUMP_INTR, and
// github.com/vishvananda/netlink (v1.3.x, as this module uses) returns what it
// read together with netlink.ErrDumpInterrupted ("results may be incomplete or
// inconsistent"). Such a change is any other process adding or deleting a
// link, an address or a route in the same network namespace — on a node,
// the container runtime, CNI plugins, DHCP; in CI, tests running beside — so an
// interrupted dump is a normal event, not a failure: the answer is to dump
// again. Every dump of gossipod's goes through Retry, so that the retry is
// bounded and the same everywhere.
//
// The package is Linux only, as netlink is.
package netlinkutil
