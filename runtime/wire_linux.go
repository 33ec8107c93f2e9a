package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gossipod/gossipod/runtime/container"
	"github.com/gossipod/gossipod/runtime/image"
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
		Root:        cfg.containersDir(),
		CgroupRoot:  cfg.CgroupRoot,
		PauseBinary: cfg.PauseBinary,
		Logger:      cfg.logger().With("component", "container"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("runtime: %w", err)
	}
	return images, &managerAdapter{ctx: ctx, m: m}, nil
}

// managerAdapter presents container.Manager as a sandboxService.
type managerAdapter struct {
	ctx context.Context
	m   *container.Manager
}

// CreateSandbox creates the pod's sandbox with the container manager.
func (a *managerAdapter) CreateSandbox(ctx context.Context, spec sandboxSpec) (podSandbox, error) {
	s, err := a.m.CreateSandbox(ctx, container.SandboxSpec{
		ID:           spec.ID,
		Name:         spec.Name,
		Namespace:    spec.Namespace,
		Hostname:     spec.Hostname,
		SharePID:     spec.SharePID,
		ShmSizeBytes: spec.ShmSizeBytes,
	})
	if err != nil {
		return nil, mapContainerErr(err)
	}
	return newSandboxAdapter(a.ctx, s), nil
}

// Sandbox re-adopts (or returns) the sandbox with this ID.
func (a *managerAdapter) Sandbox(id string) (podSandbox, error) {
	s, err := a.m.Sandbox(id)
	if err != nil {
		return nil, mapContainerErr(err)
	}
	return newSandboxAdapter(a.ctx, s), nil
}

// Sandboxes lists the sandbox IDs on disk.
func (a *managerAdapter) Sandboxes() ([]string, error) { return a.m.Sandboxes() }

// DestroySandbox removes whatever is left of a sandbox.
func (a *managerAdapter) DestroySandbox(ctx context.Context, id string) error {
	return mapContainerErr(a.m.DestroySandbox(ctx, id))
}

// sandboxAdapter presents a container.Sandbox as a podSandbox, adding Done:
// a watch on the pause process, so that a pod's worker learns at once that
// its sandbox died.
type sandboxAdapter struct {
	ctx  context.Context
	s    *container.Sandbox
	once sync.Once
	done chan struct{}
	stop chan struct{} // closed by Destroy: the watch ends
}

func newSandboxAdapter(ctx context.Context, s *container.Sandbox) *sandboxAdapter {
	return &sandboxAdapter{ctx: ctx, s: s, done: make(chan struct{}), stop: make(chan struct{})}
}

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

// StartContainer translates the spec and starts the container.
func (a *sandboxAdapter) StartContainer(ctx context.Context, spec containerSpec) (podContainer, error) {
	mounts := make([]container.Mount, len(spec.Mounts))
	for i, m := range spec.Mounts {
		mounts[i] = container.Mount{Source: m.Source, Destination: m.Destination, ReadOnly: m.ReadOnly}
	}
	c, err := a.s.StartContainer(ctx, container.ContainerSpec{
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
	})
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
func (a *sandboxAdapter) Exec(ctx context.Context, name string, args []string, stdin io.Reader, stdout, stderr io.Writer, tty bool) (int, error) {
	code, err := a.s.Exec(ctx, name, args, stdin, stdout, stderr, tty)
	return code, mapContainerErr(err)
}

// Destroy removes the sandbox and ends the watch on its pause.
func (a *sandboxAdapter) Destroy(ctx context.Context) error {
	err := a.s.Destroy(ctx)
	if err == nil {
		select {
		case <-a.stop:
		default:
			close(a.stop)
		}
	}
	return mapContainerErr(err)
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
