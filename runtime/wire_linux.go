package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gossipod/gossipod/runtime/container"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/image"
	"github.com/gossipod/gossipod/runtime/network"
)

// newBackends opens the real image store and container manager under
// cfg.Root. ctx bounds the goroutines the adapters start (sandbox
// watches); it ends when the Runtime stops.
func newBackends(ctx context.Context, cfg Config) (imageService, sandboxService, error) {
	images, err := image.New(image.Config{
		Root:               cfg.imagesDir(),
		InsecureRegistries: cfg.InsecureRegistries,
		Logger:             cfg.logger().With("component", "image"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: image store: %w", err)
	}
	m, err := container.NewManager(container.Config{
		Root:            cfg.containersDir(),
		CgroupRoot:      cfg.CgroupRoot,
		PauseBinary:     cfg.PauseBinary,
		PodPidsLimit:    cfg.PodPidsLimit,
		PodsPidsLimit:   cfg.PodsPidsLimit,
		PodsMemoryLimit: cfg.PodsMemoryLimit,
		// What a pod with a user namespace sees besides its sandbox: the
		// image layers and its volumes.
		IDMapPaths: []string{cfg.imagesDir(), cfg.podsDir()},
		Logger:     cfg.logger().With("component", "container"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: %w", err)
	}
	return images, &managerAdapter{ctx: ctx, m: m, net: cfg.Network}, nil
}

// managerAdapter presents container.Manager, with the pod network, as a
// sandboxService: a sandbox is the pause's namespaces plus the pod's place
// on the network, set up and torn down together.
type managerAdapter struct {
	ctx context.Context
	m   *container.Manager
	net *network.Manager // nil: no pod network (loopback only)
}

// UpperDir is a container's writable layer, for the eviction manager.
func (a *managerAdapter) UpperDir(sandboxID, name string) string {
	return a.m.UpperDir(sandboxID, name)
}

// PodStats reads a sandbox's memory and process use, for the eviction
// manager.
func (a *managerAdapter) PodStats(sandboxID string, containers []string) (eviction.PodStats, error) {
	s, err := a.m.PodStats(sandboxID, containers)
	if err != nil {
		return eviction.PodStats{}, err
	}
	return eviction.PodStats{MemoryWorkingSet: s.MemoryWorkingSet,
		ContainerMemoryWorkingSet: s.ContainerMemoryWorkingSet, Processes: s.Processes}, nil
}

// ReapOrphans reaps the zombies libcontainer leaves when an exec fails
// half-way, until ctx ends.
func (a *managerAdapter) ReapOrphans(ctx context.Context) { a.m.ReapOrphans(ctx) }

// CreateSandbox creates the pod's sandbox with the container manager.
func (a *managerAdapter) CreateSandbox(ctx context.Context, spec sandboxSpec) (podSandbox, error) {
	s, err := a.m.CreateSandbox(ctx, container.SandboxSpec{
		ID:           spec.ID,
		Name:         spec.Name,
		Namespace:    spec.Namespace,
		Hostname:     spec.Hostname,
		SharePID:     spec.SharePID,
		HostNetwork:  spec.HostNetwork,
		HostPID:      spec.HostPID,
		HostIPC:      spec.HostIPC,
		ShmSizeBytes: spec.ShmSizeBytes,
		Seccomp:      container.SeccompProfile(spec.Seccomp),
		UserNamespace: func() *container.UserNamespace {
			if u := spec.UserNamespace; u != nil {
				return &container.UserNamespace{HostUID: u.hostUID(), HostGID: u.hostGID(), Size: u.UIDMappings[0].Length}
			}
			return nil
		}(),
	})
	if err != nil {
		return nil, mapContainerErr(err)
	}
	sb := newSandboxAdapter(a.ctx, s, a.net)
	if a.net != nil && !spec.HostNetwork {
		var ports []network.PortMapping
		for _, p := range spec.HostPorts {
			ports = append(ports, network.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
		}
		res, err := a.net.Setup(ctx, network.PodNetwork{ID: spec.ID, Namespace: spec.Namespace, Name: spec.Name, NetNSPath: s.NetNSPath(), HostPorts: ports})
		if err != nil {
			// The sandbox is useless without its network: take it down on a
			// context of its own, so a cancelled caller cannot leave it.
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = sb.Destroy(dctx)
			return nil, fmt.Errorf("failed to setup network for sandbox %q: %w", spec.ID, err)
		}
		sb.ip = res.IP.String()
	}
	return sb, nil
}

// Sandbox re-adopts (or returns) the sandbox with this ID, with the address
// the pod network recorded for it; one on the host's network has none of
// its own.
func (a *managerAdapter) Sandbox(id string) (podSandbox, error) {
	s, err := a.m.Sandbox(id)
	if err != nil {
		return nil, mapContainerErr(err)
	}
	sb := newSandboxAdapter(a.ctx, s, a.net)
	if a.net != nil && s.Running() && !s.HostNetwork() {
		// Setup of an attached sandbox returns what it recorded.
		res, err := a.net.Setup(a.ctx, network.PodNetwork{ID: id, Namespace: s.ID(), Name: s.ID(), NetNSPath: s.NetNSPath()})
		if err != nil {
			return nil, fmt.Errorf("recover the network of sandbox %q: %w", id, err)
		}
		sb.ip = res.IP.String()
	}
	return sb, nil
}

// Sandboxes lists the sandbox IDs on disk, with those the pod network
// still holds something for (a half torn-down pod), so the clean-up after
// a restart sees them all.
func (a *managerAdapter) Sandboxes() ([]string, error) {
	ids, err := a.m.Sandboxes()
	if err != nil || a.net == nil {
		return ids, err
	}
	netIDs, err := a.net.Sandboxes()
	if err != nil {
		return ids, fmt.Errorf("list pod network sandboxes: %w", err)
	}
	for _, id := range netIDs {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// DestroySandbox removes whatever is left of a sandbox, its pod network
// included.
func (a *managerAdapter) DestroySandbox(ctx context.Context, id string) error {
	var netErr error
	if a.net != nil {
		netErr = a.net.Teardown(ctx, network.PodNetwork{ID: id})
	}
	err := mapContainerErr(a.m.DestroySandbox(ctx, id))
	if errors.Is(err, errNotFound) && netErr == nil && a.net != nil {
		err = nil // only its network was left, and it is gone now
	}
	return errors.Join(netErr, err)
}

// sandboxAdapter presents a container.Sandbox as a podSandbox, adding Done:
// a watch on the pause process, so that a pod's worker learns at once that
// its sandbox died.
type sandboxAdapter struct {
	ctx  context.Context
	s    *container.Sandbox
	net  *network.Manager
	ip   string
	once sync.Once
	done chan struct{}
	stop chan struct{} // closed by Destroy: the watch ends
}

func newSandboxAdapter(ctx context.Context, s *container.Sandbox, net *network.Manager) *sandboxAdapter {
	return &sandboxAdapter{ctx: ctx, s: s, net: net, done: make(chan struct{}), stop: make(chan struct{})}
}

// IP is the pod's address on the pod network ("" on the host's network,
// where the pod has the node's).
func (a *sandboxAdapter) IP() string { return a.ip }

// Running reports whether the pause process runs.
func (a *sandboxAdapter) Running() bool { return a.s.Running() }

// Done is closed when the pause process exits. The watch starts on the
// first call and ends with the pause, with Destroy or with the runtime.
func (a *sandboxAdapter) Done() <-chan struct{} {
	a.once.Do(func() {
		go func() {
			ctx, cancel := context.WithCancel(a.ctx)
			defer cancel()
			go func() {
				select {
				case <-a.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			if waitPidExit(ctx, a.s.Pid(), a.s.Running) == nil {
				close(a.done)
			}
		}()
	})
	return a.done
}

// StartContainer translates the spec and starts the container. An
// instance of that name the runtime does not know of (its agent died
// between starting it and recording it) is a leftover: it is killed and
// removed, and the container started anew, as kubelet kills containers
// it has no record of.
func (a *sandboxAdapter) StartContainer(ctx context.Context, spec containerSpec) (podContainer, error) {
	mounts := make([]container.Mount, len(spec.Mounts))
	for i, m := range spec.Mounts {
		mounts[i] = container.Mount{Source: m.Source, Destination: m.Destination, ReadOnly: m.ReadOnly, IDMapped: m.IDMapped}
	}
	cs := container.ContainerSpec{
		Name:             spec.Name,
		Attempt:          spec.Attempt,
		LowerDirs:        spec.LowerDirs,
		Args:             spec.Args,
		Env:              spec.Env,
		WorkingDir:       spec.WorkingDir,
		Mounts:           mounts,
		MemoryLimitBytes: spec.MemoryLimitBytes,
		MilliCPULimit:    spec.MilliCPULimit,
		MilliCPURequest:  spec.MilliCPURequest,
		StdoutPath:       spec.StdoutPath,

		User:                     spec.Security.User,
		SupplementalGroups:       spec.Security.SupplementalGroups,
		StrictSupplementalGroups: spec.Security.StrictSupplementalGroups,
		ReadOnlyRootfs:           spec.Security.ReadOnlyRootfs,
		Privileged:               spec.Security.Privileged,
		CapAdd:                   spec.Security.CapAdd,
		CapDrop:                  spec.Security.CapDrop,
		NoNewPrivileges:          spec.Security.NoNewPrivileges,
		Sysctls:                  spec.Security.Sysctls,
		Seccomp:                  container.SeccompProfile(spec.Seccomp),
		AppArmorProfile:          spec.AppArmorProfile,
	}
	c, err := a.s.StartContainer(ctx, cs)
	if errors.Is(err, container.ErrExists) {
		if rerr := a.s.RemoveContainer(ctx, spec.Name); rerr != nil {
			return nil, fmt.Errorf("remove the leftover instance of container %q: %w", spec.Name, mapContainerErr(rerr))
		}
		c, err = a.s.StartContainer(ctx, cs)
	}
	if err != nil {
		return nil, mapContainerErr(err)
	}
	return &containerAdapter{sandboxID: a.s.ID(), c: c}, nil
}

// Container returns (or re-adopts) the named container.
func (a *sandboxAdapter) Container(name string) (podContainer, error) {
	c, err := a.s.Container(name)
	if err != nil {
		return nil, mapContainerErr(err)
	}
	return &containerAdapter{sandboxID: a.s.ID(), c: c}, nil
}

// Exec runs a process in a running container.
func (a *sandboxAdapter) Exec(ctx context.Context, name string, args []string, stdio ExecIO) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the resize relay
	code, err := a.s.Exec(ctx, name, args, container.ExecIO{
		Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr,
		TTY: stdio.TTY, Resize: relaySizes(ctx, stdio.Resize),
	})
	return code, mapContainerErr(err)
}

// relaySizes passes terminal sizes from in to the channel it returns, in
// the container package's type, until in closes or ctx ends; nil for nil.
func relaySizes(ctx context.Context, in <-chan TerminalSize) <-chan container.TerminalSize {
	if in == nil {
		return nil
	}
	out := make(chan container.TerminalSize)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- container.TerminalSize{Width: s.Width, Height: s.Height}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// Dial connects from inside the pod's network namespace.
func (a *sandboxAdapter) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := a.s.Dial(ctx, network, address)
	return conn, mapContainerErr(err)
}

// Destroy releases the pod's network (IP, veth, host-port rules), removes
// the sandbox and ends the watch on its pause. A sandbox on the host's
// network is never given to the pod network as a namespace: its
// namespace is the node's own. (Teardown by ID alone still releases
// whatever a record might hold, touching no namespace.)
func (a *sandboxAdapter) Destroy(ctx context.Context) error {
	var netErr error
	if a.net != nil {
		pn := network.PodNetwork{ID: a.s.ID()}
		if !a.s.HostNetwork() {
			pn.NetNSPath = a.s.NetNSPath()
		}
		netErr = a.net.Teardown(ctx, pn)
		if netErr != nil {
			netErr = fmt.Errorf("failed to teardown network for sandbox %q: %w", a.s.ID(), netErr)
		}
	}
	err := a.s.Destroy(ctx)
	if err == nil {
		select {
		case <-a.stop:
		default:
			close(a.stop)
		}
	}
	return errors.Join(netErr, mapContainerErr(err))
}

// containerAdapter presents a container.Container as a podContainer.
type containerAdapter struct {
	sandboxID string
	c         *container.Container
}

// ID names the instance: pod UID, container name and attempt, which is
// unique on the node and says where its state lives.
func (a *containerAdapter) ID() string {
	return a.sandboxID + "-" + a.c.Name() + "-" + strconv.Itoa(a.c.Attempt())
}

// Pid is the container's main process on the host.
func (a *containerAdapter) Pid() int { return a.c.Pid() }

// StartedAt is when the container was started.
func (a *containerAdapter) StartedAt() time.Time { return a.c.StartedAt() }

// Wait returns how the container's main process ended.
func (a *containerAdapter) Wait(ctx context.Context) (exitStatus, error) {
	st, err := a.c.Wait(ctx)
	if err != nil {
		return exitStatus{}, mapContainerErr(err)
	}
	return exitStatus{Code: st.Code, Signal: st.Signal, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt, Unknown: st.Unknown}, nil
}

// Stop sends SIGTERM, then SIGKILL after grace.
func (a *containerAdapter) Stop(ctx context.Context, grace time.Duration) error {
	_, err := a.c.Stop(ctx, grace)
	return mapContainerErr(err)
}

// Remove deletes the container's state and root filesystem.
func (a *containerAdapter) Remove(ctx context.Context) error {
	return mapContainerErr(a.c.Remove(ctx))
}

// containerErr keeps the container package's error and adds the runtime's
// own sentinel for errors.Is.
type containerErr struct {
	err  error
	kind error
}

// Error is the container package's message.
func (e *containerErr) Error() string { return e.err.Error() }

// Unwrap gives both the container package's error and the runtime's sentinel.
func (e *containerErr) Unwrap() []error { return []error{e.err, e.kind} }

// mapContainerErr adds errNotFound to the container package's "not found"
// and "not running" errors, the cases the runtime acts on.
func mapContainerErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, container.ErrNotFound):
		return &containerErr{err: err, kind: errNotFound}
	case errors.Is(err, container.ErrNotRunning):
		return &containerErr{err: err, kind: errNotRunning}
	case errors.Is(err, container.ErrNoUsersFound), errors.Is(err, container.ErrNoGroupsFound),
		errors.Is(err, container.ErrIDNotMapped):
		// The image's USER names no one, or an ID outside the pod's user
		// namespace: kubelet's CreateContainerConfigError, as for a
		// runAsNonRoot refusal.
		return &configError{err: err}
	}
	return err
}

// waitPidExit blocks until process pid has exited, or ctx ends. alive
// re-checks after the pidfd is open, which closes the window in which the
// PID could have been reused. Without pidfds it looks every 100 ms.
func waitPidExit(ctx context.Context, pid int, alive func() bool) error {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
		defer f.Close()
		if !alive() {
			return nil
		}
		if rc, err := f.SyscallConn(); err == nil {
			stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
			defer stop()
			calls := 0
			// The first call returns false: the poller parks us until the
			// pidfd is readable (the process exited) or the deadline hits.
			err = rc.Read(func(uintptr) bool { calls++; return calls > 1 })
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil {
				return nil
			}
		}
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for alive() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
