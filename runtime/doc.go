// Package runtime runs pods on this Linux node: images, root filesystems,
// the pause sandbox, containers, cgroups, volumes, the pod network, logs,
// exec, and adoption after an agent restart. It also describes the machine
// the agent runs on. It knows nothing of Raft or gossip.
package runtime
