// Package e2e holds gossipod's multi-host end-to-end tests and the harness they
// share.
//
// A real deployment is several machines on one LAN. The harness reproduces that on a
// single Linux machine without VMs: every "host" is a network namespace with its own
// address on a private bridge, and each runs an unmodified `gossipod agent` entered with
// nsenter. The agents therefore gossip, elect and fail over exactly as on separate
// machines, while the test process (and the CLI it runs) reaches every host from the
// root namespace through the bridge. Partitions are made by taking a host's link down,
// which is what a pulled cable looks like to memberlist and Raft.
//
// The harness needs root, `ip` (iproute2) and `nsenter` (util-linux). Without them the
// tests skip, except under CI=true, where a skip would hide a broken pipeline, so they
// fail instead (see RequireRoot). TestDebianKubectl also needs apt and dpkg, to fetch
// Debian's kubectl once into the user's cache directory (see DebianKubectl), by the
// same rule.
//
// Nothing in production code may import this package.
package e2e
