// Package runtime runs pods on this Linux node: images, root filesystems,
// the pause sandbox, containers, cgroups, volumes, the pod network, logs,
// exec, and adoption after an agent restart. It also describes the machine
// the agent runs on. It knows nothing of Raft or gossip.
//
// The package itself is the pod lifecycle manager, kubelet's part: it
// drives runtime/image (the node's image store) and runtime/container
// (libcontainer sandboxes and containers) through small interfaces it
// declares (deps.go), and turns what they do into Kubernetes' pod
// semantics.
//
// # How a pod runs
//
// The agent hands the runtime the full set of pods bound to the node
// (SyncPods). Each pod gets a worker goroutine that sleeps until something
// happens to its pod: a new spec or a deletion, a container exit, the
// sandbox's pause dying, a back-off ending. It then syncs the pod as
// kubelet's SyncPod does: a pure plan (computePodActions: what to kill,
// whether to create a sandbox, which init or app containers to start or
// hold back) carried out in numbered steps (syncPod), after which the
// status is recomputed from the container records (computeStatus) and sent
// on Updates if it changed, with the events of the sync.
//
// # On disk
//
//	<Root>/images/                      the image store (runtime/image)
//	<Root>/containers/<uid>/            the sandbox and containers (runtime/container)
//	<Root>/pods/<uid>/pod.json          the pod record: spec, restart counts, back-offs, statuses, user namespace
//	<Root>/pods/<uid>/volumes/<name>/   emptyDir volumes (a tmpfs for medium Memory)
//	<Root>/pods/<uid>/etc/              the pod's managed /etc/hosts, hostname, resolv.conf
//	<Root>/pods/<uid>/logs/<c>/<n>.log  the n-th instance of container c's stdout and stderr
//
// <uid>, <name> and <c> come from the pod, so they are checked before any
// of these paths is built (api.ValidatePodPathNames at SyncPods, the uid
// again before a pod directory is removed): a crafted uid such as
// "../../etc" never names a directory outside Root. A hostPath volume is
// set up and mounted only under Config.AllowedHostPaths (the agent's
// --allowed-host-paths, empty by default), symlinks resolved; otherwise
// the pod waits with a FailedMount event.
//
// configMap, secret, downwardAPI and projected volumes are written by the
// node from the replicated state (Config.ConfigMap, Config.Secret) with
// kubelet's atomic writer layout (writeAtomic): a reader never sees half
// of an update. Secrets, and the downwardAPI and projected kinds, live on
// a tmpfs mounted for the volume, never on the node's disk, and go with
// the pod. A missing non-optional ConfigMap or Secret holds the pod in
// ContainerCreating with a FailedMount event until it appears; while the
// pod runs its volumes are compared with the state every projectedResync
// and rewritten when they differ.
//
// A pod with spec.hostUsers: false gets a user namespace of its own
// (userns.go), as kubelet's user namespace manager gives one: 65536 host
// IDs at a multiple of 65536, disjoint from every other pod's and from
// the host's, recorded in pod.json before anything the pod owns is made
// and freed when its directory is removed; a restarted agent re-adopts
// the ranges of the records it finds before any new pod gets one. Its
// emptyDirs belong to the pod's root on the node; the files the node
// writes for it (configMaps, secrets, /etc/hosts) and the image's layers
// are idmapped mounts (runtime/container).
//
// Every HousekeepingInterval (10 s) Run does kubelet's eviction manager's
// round (housekeeping, evict.go, with the decisions in runtime/eviction):
// the node's memory, disk and pid signals against Config.EvictionHard give
// the pressure conditions (Pressure); each running pod's local ephemeral
// storage (its containers' upper dirs, its logs, its emptyDirs on disk) is
// measured, and a pod over an emptyDir's sizeLimit, its containers' total
// ephemeral-storage limit or a container's own is evicted (Failed,
// Evicted, killed at once); under node pressure the first non-critical pod
// in kubelet's ranking for the signal is (memory working set and process
// count read from the pod cgroups), and nothing more until the evicted
// pods are cleaned up. A terminated pod's volumes are unmounted, so that
// its tmpfs volumes give their memory back.
//
// Every container runs under the seccomp profile kubelet would pick
// (seccomp.go: the container's seccompProfile, else the pod's, else
// RuntimeDefault when Config.SeccompDefault is on, as Docker does), the
// sandbox under the pod's; Localhost profiles are read from
// Config.SeccompProfileRoot, and one that cannot be read holds the
// container in CreateContainerConfigError. On a host with AppArmor,
// containers get the profile containerd's CRI would give them
// (runtime/apparmor).
//
// Containers write their logs themselves, and nothing of a pod depends on
// the agent's process, so an agent can stop (Run returns) and a new one on
// the same Root re-adopts the pods from their records and sandboxes
// without restarting a container.
//
// # Known limits
//
// A container that exits while no agent runs (or after it was re-adopted)
// reports ContainerStatusUnknown with exit code 137, as kubelet does when
// it cannot know: only a process's parent learns its exit code (see
// runtime/container). Without a pod network (Config.Network nil) pods get
// loopback only and podIP stays empty. A hostNetwork pod never has a pod
// network: it is on the node's, with the node's address (Config.HostIP)
// as its podIP, as kubelet reports it.
//
// # Probes
//
// A container's livenessProbe, readinessProbe and startupProbe run as
// kubelet runs them (probe.go, probe_worker.go): one goroutine per
// running container instance and probe, asleep on a timer between probes
// and stopped with the instance; handlers exec (in the container, killed
// at timeoutSeconds), httpGet and tcpSocket (to the pod's IP, or, for a
// pod without one, to its loopback from inside its network namespace).
// Readiness makes a container ready, and with it the pod's Ready and
// ContainersReady conditions; a startup probe holds the other two back; a
// liveness (or startup) failure kills the container, with the probe's
// terminationGracePeriodSeconds if it has one, and it restarts per the
// pod's restart policy and back-off. Results are not persisted: after an
// agent restart, re-adopted containers are probed afresh (not ready until
// their readiness probe passes), as after a kubelet restart.
//
// # Lifecycle hooks and sidecars
//
// A container's postStart hook (lifecycle.go) runs right after its
// process starts, on the worker: the container is not reported running,
// not probed, and the next container does not start until the hook
// returns; a failed hook kills the container (FailedPostStartHook, then
// Killing), which waits as PostStartHookError and restarts per restart
// policy. A preStop hook runs before SIGTERM whenever a running container
// is stopped (deletion, failed probe, changed spec, failed postStart),
// within the grace period, which it shares with the stop: SIGTERM comes
// when the hook ends or the grace period does, SIGKILL when the rest of it
// (at least kubelet's 2 s) is over. The hooks' exec and httpGet reuse the
// probes' handlers; sleep waits in the agent.
//
// Native sidecars (init containers with restartPolicy Always) are planned
// with the init containers (plan.go): the next one starts once a sidecar
// has started, sidecars are restarted whatever the pod's restart policy
// and never hold the pod's completion back; at termination (kill.go) the
// app containers are signalled first and the sidecars after them, in
// reverse order, each once those before it have exited.
package runtime
