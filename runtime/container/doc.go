// Package container runs pod sandboxes and their containers on this Linux
// node with runc's libcontainer, as kubelet + containerd + runc would, but
// inside the gossipod binary and without a per-container shim.
//
// A sandbox is one pod: a pod-level cgroup <CgroupRoot>/pod<ID> (one child
// per container), a /dev/shm tmpfs shared by its containers, and the pause
// process. The pause is the gossipod binary itself, statically linked,
// whose C constructor (pause_linux.c) takes over a process started as
// /pause before the Go runtime starts, so a pod costs a few dozen KiB of
// memory of its own whatever the agent imports; the binary is
// bind-mounted read-only as /pause into an otherwise empty root filesystem
// and started with new UTS (the pod's hostname), IPC, network, mount and PID
// namespaces. Containers join the pause's network, UTS and IPC namespaces
// (and its PID namespace when the pod shares it) by /proc/<pid>/ns paths,
// and get their own mount namespace and, by default, their own PID
// namespace, so that their main process is PID 1. A namespace the pod
// shares with the host (hostNetwork, which also means the host's UTS
// namespace; hostPID; hostIPC) is neither created for the pause nor
// joined: the pause and the containers stay in the agent's. Each
// container's root filesystem is an overlayfs mounted on the host: the
// image layers as lower dirs and an upper dir of its own.
//
// # Restart safety
//
// Nothing of a pod depends on the agent process staying alive: processes
// are not killed with their parent, a container's stdout and stderr are a
// file it writes to directly (no pipe to the agent), and every piece of
// state lives under Config.Root. A new Manager on the same Root re-adopts
// the sandboxes and containers it finds there (Manager.Sandbox,
// Sandbox.Container) and can destroy what belongs to pods that are gone
// (Manager.DestroySandbox works on half-created leftovers too).
//
// # Known limitation: exit codes of adopted containers
//
// Only the parent of a process can learn its exit status. A container
// adopted after an agent restart is no longer the agent's child (runc has
// the same limit; containerd keeps a shim process per container for it,
// which gossipod avoids to keep the per-pod cost to the pause process).
// Wait on an adopted container therefore watches the process with a pidfd
// and, when it is gone, reports ExitStatus{Unknown: true, Code: 137} - unless
// the container's cgroup counted an OOM kill, in which case it reports
// OOMKilled with code 137. Containers started by this Manager report their
// real exit code and signal.
//
// # Other limits
//
//   - Output files are not size-capped here. They are opened O_APPEND, so
//     whoever caps them can truncate them in place while the container
//     keeps writing.
//   - libcontainer's Run returns before the program is exec'd; StartContainer
//     then watches the process's name change from runc's init to the
//     program. A process that exits with 255 before that is taken as a
//     failed exec (ErrNotStarted), which a program that exits 255 at once
//     would also look like.
//   - The overlay's options (all lower dirs) must fit in one page (4 KiB),
//     which bounds the number of image layers by their path lengths.
//   - Devices are runc's default set; there is no pids limit.
//
// # Seccomp and AppArmor
//
// Each container and each pause runs under the seccomp profile and the
// AppArmor profile its spec names (SeccompProfile, AppArmorProfile),
// applied by libcontainer's init just before it execs the program, and by
// exec's to every process exec'd into the container. RuntimeDefault is
// containerd's default profile, with the rules of the capabilities the
// process gets. Filters need the binary built with the seccomp tag (make
// build); without it a profile is refused, never silently dropped.
//
// # Layout under Root
//
//	<Root>/<podID>/sandbox.json            what CreateSandbox was asked for
//	<Root>/<podID>/state/<name>/           libcontainer state ("_pause" is the pause)
//	<Root>/<podID>/pause-rootfs/           the pause's empty root filesystem
//	<Root>/<podID>/shm/                    the pod's /dev/shm (tmpfs)
//	<Root>/<podID>/private/                tmpfs, root only: <name>.env.json, each container's environment
//	<Root>/<podID>/containers/<name>/      meta.json, upper/, work/, rootfs/ (overlay)
//
// Container names are DNS-1123 labels, as in Kubernetes, so they can never
// collide with the pause's reserved name "_pause".
//
// The binary that uses this package must call Init when started as
// `<binary> init` (libcontainer's re-exec into the new namespaces) before
// doing anything else. The pause needs no call: linking this package with
// cgo brings its constructor.
package container
