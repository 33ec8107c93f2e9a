package runtime

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/image"
)

// The runtime drives two lower layers, runtime/image and runtime/container,
// through the small interfaces below, which say exactly what it uses of
// them (the caller declares the interface). New wires in the real ones;
// the unit tests use in-memory doubles. Every method must be safe for
// concurrent use: pod workers call them in parallel.

// imageService is what the runtime needs of runtime/image's Store.
type imageService interface {
	// Get returns the image ref names if it is on this node.
	Get(ref string) (*image.Image, bool)
	// Pull makes the image available per the pull policy, authenticating
	// with keyring's credentials for the image's registry (the pod's image
	// pull Secrets; nil for none) and then the node's own; its errors are
	// image.ErrImagePull, image.ErrImageNeverPull or
	// image.ErrInvalidImageName for errors.Is.
	Pull(ctx context.Context, ref string, policy api.PullPolicy, keyring *image.Keyring) (*image.Image, error)
	// Load imports an archive and returns the references it added.
	Load(r io.Reader) ([]string, error)
	// List describes the images on this node.
	List() []image.ImageInfo
}

// sandboxService is what the runtime needs of runtime/container's Manager.
type sandboxService interface {
	// CreateSandbox creates and starts a pod's sandbox (cgroup, shm, the
	// pause process with its namespaces); on failure nothing of it stays.
	CreateSandbox(ctx context.Context, spec sandboxSpec) (podSandbox, error)
	// Sandbox returns the sandbox with this ID, re-adopting it from disk
	// after an agent restart; an error wrapping errNotFound if there is
	// none that can be adopted.
	Sandbox(id string) (podSandbox, error)
	// Sandboxes lists the IDs of the sandboxes on disk.
	Sandboxes() ([]string, error)
	// DestroySandbox removes whatever is left of a sandbox by ID, even
	// half-created: processes, mounts, cgroups, state.
	DestroySandbox(ctx context.Context, id string) error
}

// writableLayers is implemented by a sandboxService whose containers have
// a writable layer on the node's disk (an overlay's upper dir): the
// eviction manager measures it as the container's ephemeral storage.
type writableLayers interface {
	UpperDir(sandboxID, name string) string
}

// podStatsReader is implemented by a sandboxService whose pods run in
// cgroups: the eviction manager ranks pods by the memory working set and
// the process count read there under memory or pid pressure.
type podStatsReader interface {
	PodStats(sandboxID string, containers []string) (eviction.PodStats, error)
}

// orphanReaper is implemented by a sandboxService whose container runtime
// can leave zombie children of the agent behind (libcontainer does, when
// an exec fails half-way); Run keeps it reaping them.
type orphanReaper interface {
	ReapOrphans(ctx context.Context)
}

// sandboxSpec is what a pod's sandbox is made of.
type sandboxSpec struct {
	// ID is the pod's UID: one sandbox per pod at a time.
	ID        string
	Name      string
	Namespace string
	Hostname  string
	// SharePID puts the pod's containers in the pause's PID namespace.
	SharePID bool
	// HostNetwork, HostPID and HostIPC keep the pod in the node's
	// network (and UTS), PID and IPC namespaces (the pod's hostNetwork,
	// hostPID, hostIPC). A hostNetwork sandbox gets no pod network: no
	// CNI, no address of its own, no host port rules.
	HostNetwork, HostPID, HostIPC bool
	// ShmSizeBytes is the size of the pod's /dev/shm.
	ShmSizeBytes int64
	// HostPorts are the pod's ports published on the node's addresses.
	HostPorts []hostPort
	// Seccomp is the pause's seccomp profile, the pod-level one.
	Seccomp seccompSpec
	// UserNamespace is the pod's own user namespace; nil for the host's.
	UserNamespace *userNamespace
}

// hostPort publishes a container port on the node (a container's
// ports[].hostPort).
type hostPort struct {
	HostPort, ContainerPort int32
	Protocol                string
}

// podSandbox is one pod's sandbox.
type podSandbox interface {
	// Running reports whether the pause process is alive; a sandbox whose
	// pause died must be destroyed and the pod's containers restarted in
	// a new one.
	Running() bool
	// Done is closed when the pause process has exited, so the pod's
	// worker learns of it without polling.
	Done() <-chan struct{}
	// StartContainer creates and starts a container in the sandbox; a
	// container of the same name must have been removed first.
	StartContainer(ctx context.Context, spec containerSpec) (podContainer, error)
	// Container returns the container of that name (re-adopting it after
	// an agent restart); an error wrapping errNotFound if there is none.
	Container(name string) (podContainer, error)
	// Exec runs a process in a running container and returns its exit
	// code.
	Exec(ctx context.Context, name string, args []string, stdio ExecIO) (int, error)
	// Dial connects to address from inside the pod's network namespace,
	// as if from one of its containers (port-forward).
	Dial(ctx context.Context, network, address string) (net.Conn, error)
	// Destroy kills everything of the sandbox at once and removes it:
	// processes, mounts, cgroups, its pod network, state.
	Destroy(ctx context.Context) error
	// IP is the pod's address on the pod network, "" without one (as on
	// the host's network).
	IP() string
}

// containerSpec is one container instance to start.
type containerSpec struct {
	Name             string
	Attempt          int
	LowerDirs        []string
	Args             []string
	Env              []string
	WorkingDir       string
	Mounts           []mount
	MemoryLimitBytes int64
	MilliCPULimit    int64
	MilliCPURequest  int64
	// StdoutPath is the log file the container writes its stdout and
	// stderr to, directly (nothing of the agent in between).
	StdoutPath string
	// Security is what the pod's and the container's securityContext
	// (and the image's USER) make of the container's process.
	Security securitySpec
	// Seccomp is the container's resolved seccomp profile.
	Seccomp seccompSpec
	// AppArmorProfile is the name of the AppArmor profile it runs under,
	// empty for none.
	AppArmorProfile string
}

// mount is a volume bind-mounted into a container.
type mount struct {
	Source      string
	Destination string
	ReadOnly    bool
	// IDMapped mounts files the node writes (configMaps, secrets, the
	// pod's /etc/hosts) idmapped in a pod with its own user namespace, so
	// that root's files on the node are root's in the pod.
	IDMapped bool
}

// podContainer is one container instance.
type podContainer interface {
	// ID is the container's runtime ID, shown as gossipod://<ID>.
	ID() string
	// Pid is its main process on the host, 0 when not known.
	Pid() int
	// StartedAt is when it started.
	StartedAt() time.Time
	// Wait blocks until the process exits (or ctx ends) and reports how.
	Wait(ctx context.Context) (exitStatus, error)
	// Stop sends SIGTERM, then SIGKILL after grace, and returns once the
	// process has exited.
	Stop(ctx context.Context, grace time.Duration) error
	// Remove deletes the stopped container's state and root filesystem.
	Remove(ctx context.Context) error
}

// exitStatus is how a container's process ended.
type exitStatus struct {
	Code       int
	Signal     int
	OOMKilled  bool
	FinishedAt time.Time
	// Unknown: the process was not the agent's child (adopted after an
	// agent restart), so its exit code could not be learnt.
	Unknown bool
}
