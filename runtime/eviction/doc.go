// Package eviction is the node's eviction manager, after kubelet's
// (pkg/kubelet/eviction): it reads the node's signals (memory.available,
// nodefs.available, nodefs.inodesFree, imagefs.available,
// imagefs.inodesFree, pid.available), compares them with the hard
// eviction thresholds (--eviction-hard, in kubelet's syntax and with
// kubelet's defaults), and says which node conditions (MemoryPressure,
// DiskPressure, PIDPressure) hold; it measures the local ephemeral storage
// of each pod (its containers' writable layers, their logs, its emptyDirs
// on disk) and says which pod must be evicted for going over its limits,
// with kubelet's messages; and it picks the threshold to act on and ranks
// pods for eviction under memory, pid or disk pressure as kubelet does
// (rank.go), with kubelet's eviction message.
//
// The decisions are pure functions (thresholds and observations in,
// conditions and verdicts out), tested on tables; the measuring (statfs,
// /proc/meminfo and the root cgroup, a bounded directory walk) is apart,
// in measure.go.
package eviction
