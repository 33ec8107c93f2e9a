//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
)

// defaultShmSize is a pod's /dev/shm unless told otherwise (Docker's and
// containerd's default).
const defaultShmSize = 64 << 20

// cleanupTimeout bounds a rollback or a teardown: it runs on a context of
// its own, so a cancelled caller cannot leave half a sandbox behind, and a
// stuck step cannot hang the agent.
const cleanupTimeout = 30 * time.Second

// SandboxSpec is what a pod needs from its sandbox.
type SandboxSpec struct {
	// ID is the pod's UID: it names the sandbox's directory and cgroup
	// (pod<ID>), so it must be unique on the node.
	ID string
	// Name and Namespace are the pod's, for logs and for the hostname when
	// Hostname is empty.
	Name, Namespace string
	// Hostname is the pod's hostname (spec.hostname, else the pod's name);
	// ignored with HostNetwork, where the pod has the node's.
	Hostname string
	// SharePID puts every container in the pause's PID namespace
	// (shareProcessNamespace): they see and can signal each other's
	// processes, and the pause is PID 1. HostPID overrides it, as in
	// Kubernetes.
	SharePID bool
	// HostNetwork leaves the pause and every container in the agent's
	// network namespace (hostNetwork), and, as kubelet and containerd do,
	// in its UTS namespace: the pod has the node's interfaces, addresses
	// and hostname, and no network of its own to set up or tear down.
	HostNetwork bool
	// HostPID leaves them in the agent's PID namespace (hostPID): the
	// pod's processes see every process of the node.
	HostPID bool
	// HostIPC leaves them in the agent's IPC namespace (hostIPC), with
	// the node's /dev/shm, as containerd gives such a pod.
	HostIPC bool
	// ShmSizeBytes is the size of the pod's /dev/shm; 0 means 64 MiB.
	ShmSizeBytes int64
	// Seccomp is the pause's seccomp filter: the pod-level profile, as
	// kubelet gives the sandbox; the zero value is Unconfined.
	Seccomp SeccompProfile
	// AppArmorProfile is the AppArmor profile the pause runs under; empty
	// for none.
	AppArmorProfile string
	// UserNamespace, when set, gives the pod a user namespace of its own
	// (spec.hostUsers: false), created by the pause with these mappings
	// and joined by every container. Nil: the host's.
	UserNamespace *UserNamespace
}

// withDefaults validates the spec and fills in the defaults.
func (spec SandboxSpec) withDefaults() (SandboxSpec, error) {
	if err := validateID(spec.ID); err != nil {
		return spec, err
	}
	if spec.HostNetwork {
		// The host's UTS namespace: the pod's hostname is the node's.
		h, err := os.Hostname()
		if err != nil {
			return spec, fmt.Errorf("the node's hostname, for a hostNetwork pod: %w", err)
		}
		spec.Hostname = h
	}
	if spec.HostPID {
		spec.SharePID = false // the host's PID namespace is shared by all
	}
	if spec.Hostname == "" {
		spec.Hostname = spec.Name
	}
	if spec.Hostname == "" {
		spec.Hostname = spec.ID
	}
	if len(spec.Hostname) > 64 {
		return spec, fmt.Errorf("%w: hostname %q longer than 64 bytes", ErrInvalid, spec.Hostname)
	}
	if spec.ShmSizeBytes < 0 {
		return spec, fmt.Errorf("%w: ShmSizeBytes %d", ErrInvalid, spec.ShmSizeBytes)
	}
	if spec.ShmSizeBytes == 0 {
		spec.ShmSizeBytes = defaultShmSize
	}
	if err := spec.UserNamespace.validate(); err != nil {
		return spec, err
	}
	return spec, nil
}

// Sandbox is one pod's sandbox: its pause process, cgroup, /dev/shm, and
// the containers started in it. Safe for concurrent use: containers can
// start concurrently; Destroy waits for starts in progress and then
// refuses new ones.
type Sandbox struct {
	m     *Manager
	id    string
	dir   string
	meta  sandboxMeta
	pause *process

	mu         sync.Mutex
	containers map[string]*Container // live objects, started or adopted
	reserved   map[string]bool       // names whose StartContainer is in progress
	destroyed  bool
	inflight   sync.WaitGroup
}

func newSandbox(m *Manager, id, dir string, meta sandboxMeta) *Sandbox {
	return &Sandbox{m: m, id: id, dir: dir, meta: meta, containers: map[string]*Container{}, reserved: map[string]bool{}}
}

// ID returns the pod UID the sandbox was created for: the key under which
// the pod lifecycle manager finds it again after a restart.
func (s *Sandbox) ID() string { return s.id }

// Pid returns the pause process's PID on the host; its /proc/<pid>/ns/*
// are the pod's namespaces.
func (s *Sandbox) Pid() int { return s.pause.pid }

// NetNSPath is the pod's network namespace, for CNI (ADD and DEL).
func (s *Sandbox) NetNSPath() string { return nsPath(s.pause.pid, "net") }

// Hostname returns the pod's hostname, as set in the pause's UTS
// namespace (the node's with HostNetwork), for the pod's /etc/hosts and
// status.
func (s *Sandbox) Hostname() string { return s.meta.Hostname }

// SharePID tells whether the containers share the pause's PID namespace
// (recorded on disk, so containers started after a restart join it too).
func (s *Sandbox) SharePID() bool { return s.meta.SharePID }

// HostNetwork tells whether the pod is in the agent's network (and UTS)
// namespace: then NetNSPath is the agent's own, which no pod network
// set-up or teardown may ever touch. Recorded on disk, so a re-adopted
// sandbox knows it too.
func (s *Sandbox) HostNetwork() bool { return s.meta.HostNetwork }

// Running reports whether the pause still runs; a pod whose pause died
// has lost its namespaces and must be destroyed and recreated.
func (s *Sandbox) Running() bool { return s.pause.alive() }

// Wait blocks until the pause exits (or ctx ends): then the pod has lost
// its namespaces and must be destroyed and recreated, so the pod
// lifecycle manager watches this instead of polling Running. The status
// is real for a pause this Manager started, Unknown for an adopted one.
func (s *Sandbox) Wait(ctx context.Context) (ExitStatus, error) {
	st, err := s.pause.wait(ctx)
	if err != nil {
		return st, wrapSandbox(s.id, fmt.Errorf("wait for pause: %w", err))
	}
	return st, nil
}

// CreateSandbox creates a pod's sandbox and returns once its pause process
// runs:
//
//  1. reserve the ID and create <Root>/<ID>;
//  2. record the spec (sandbox.json) for re-adoption;
//  3. create the pod cgroup <CgroupRoot>/pod<ID>;
//  4. mount the pod's /dev/shm tmpfs;
//  5. create the pause container (libcontainer state, empty rootfs);
//  6. run the pause and check that it exec'd;
//  7. with a user namespace, check that the filesystems of the pod's
//     files support idmapped mounts (ErrUserNamespacesUnsupported).
//
// Each step that acquires something registers its rollback right away;
// on failure they run in reverse order on a bounded context of their own.
func (m *Manager) CreateSandbox(ctx context.Context, spec SandboxSpec) (_ *Sandbox, retErr error) {
	start := time.Now()
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	id := spec.ID
	rollback := func(what string, undo func(context.Context) error) {
		if retErr == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := undo(cctx); err != nil {
			m.log.Warn("sandbox rollback failed", "sandbox", id, "step", what, "err", err)
		}
	}

	// Step 1: reserve the ID and create the directory.
	if err := m.reserve(id); err != nil {
		return nil, wrapSandbox(id, err)
	}
	defer m.unreserve(id)
	dir := m.sandboxDir(id)
	if err := os.Mkdir(dir, dirMode(spec.UserNamespace)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, wrapSandbox(id, fmt.Errorf("%w: %s", ErrExists, dir))
		}
		return nil, wrapSandbox(id, err)
	}
	defer rollback("directory", func(context.Context) error { return os.RemoveAll(dir) })

	// Step 2: record the spec.
	meta := sandboxMeta{ID: id, Name: spec.Name, Namespace: spec.Namespace, Hostname: spec.Hostname,
		SharePID: spec.SharePID, HostNetwork: spec.HostNetwork, HostPID: spec.HostPID, HostIPC: spec.HostIPC,
		ShmSize: spec.ShmSizeBytes, UserNamespace: spec.UserNamespace, Created: time.Now().UTC()}
	if err := writeJSONFile(sandboxMetaPath(dir), meta); err != nil {
		return nil, wrapSandbox(id, fmt.Errorf("write sandbox meta: %w", err))
	}

	// Step 3: the pod cgroup.
	if err := m.createPodCgroup(id); err != nil {
		return nil, wrapSandbox(id, err)
	}
	defer rollback("pod cgroup", func(context.Context) error { return m.removePodCgroup(id) })

	// Step 4: the pod's /dev/shm.
	if err := os.Mkdir(shmDir(dir), 0o755); err != nil {
		return nil, wrapSandbox(id, err)
	}
	if err := mountShm(shmDir(dir), spec.ShmSizeBytes); err != nil {
		return nil, wrapSandbox(id, err)
	}
	defer rollback("shm", func(context.Context) error { return unmountUnder(shmDir(dir)) })
	// The containers' environments (Secrets' values among them) live on
	// a tmpfs of the pod's own, never on the node's disk.
	if err := os.Mkdir(privateDir(dir), 0o700); err != nil {
		return nil, wrapSandbox(id, err)
	}
	if err := mountPrivate(privateDir(dir)); err != nil {
		return nil, wrapSandbox(id, err)
	}
	defer rollback("private tmpfs", func(context.Context) error { return unmountUnder(privateDir(dir)) })

	// Step 5: the pause container.
	if err := os.Mkdir(pauseRootfs(dir), 0o755); err != nil {
		return nil, wrapSandbox(id, err)
	}
	if u := spec.UserNamespace; u != nil {
		// libcontainer's init, the pod's root by then, makes the mount
		// points in it (before making it read-only).
		if err := os.Chown(pauseRootfs(dir), int(u.HostUID), int(u.HostGID)); err != nil {
			return nil, wrapSandbox(id, fmt.Errorf("chown the pause's root to the pod's root: %w", err))
		}
	}
	cfg := m.pauseConfig(id, pauseRootfs(dir), meta)
	if err := withSecurity(cfg, spec.Seccomp, spec.AppArmorProfile); err != nil {
		return nil, wrapSandbox(id, err)
	}
	lc, err := libcontainer.Create(stateRoot(dir), pauseID, cfg)
	if err != nil {
		return nil, wrapSandbox(id, fmt.Errorf("create pause container: %w", err))
	}
	defer rollback("pause container", func(context.Context) error { return lc.Destroy() })

	// Step 6: run the pause. GOMAXPROCS=1 keeps its Go runtime small.
	proc := &libcontainer.Process{Args: []string{"/pause"}, Env: []string{"GOMAXPROCS=1"}, Init: true}
	if err := lc.Run(proc); err != nil {
		return nil, wrapSandbox(id, fmt.Errorf("start pause: %w", err))
	}
	pause, err := startReaper(lc, proc, nil)
	if err != nil {
		return nil, wrapSandbox(id, fmt.Errorf("pause pid: %w", err))
	}
	defer rollback("pause process", func(ctx context.Context) error { return m.killPodProcesses(ctx, id) })
	if err := pause.awaitExec(ctx); err != nil {
		return nil, wrapSandbox(id, fmt.Errorf("pause: %w", err))
	}
	if pause.exited() {
		return nil, wrapSandbox(id, fmt.Errorf("%w: pause exited at once (%+v)", ErrNotStarted, pause.exit))
	}
	// Step 7: with a user namespace, the filesystems of the pod's files
	// must take idmapped mounts of it, or no container could start.
	if spec.UserNamespace != nil {
		if err := m.checkIDMapped(pause.pid, dir); err != nil {
			return nil, wrapSandbox(id, err)
		}
	}

	s := newSandbox(m, id, dir, meta)
	s.pause = pause
	m.mu.Lock()
	m.sandboxes[id] = s
	m.mu.Unlock()
	m.log.Info("sandbox created", "sandbox", id, "pod", spec.Namespace+"/"+spec.Name, "pausePid", pause.pid, "ms", ms(start))
	return s, nil
}

// reserve claims an ID for CreateSandbox (or for DestroySandbox of a
// sandbox that is not loaded).
func (m *Manager) reserve(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sandboxes[id] != nil {
		return ErrExists
	}
	if m.creating[id] {
		return ErrBusy
	}
	m.creating[id] = true
	return nil
}

func (m *Manager) unreserve(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.creating, id)
}

// Destroy removes the sandbox and everything of it: every process of the
// pod (containers, exec'd processes, the pause) is SIGKILLed, then the
// containers' libcontainer state and leaf cgroups, the overlays and the
// shm tmpfs, the pod cgroup in every controller, and <Root>/<ID>. It is
// idempotent and works on a half-created or re-adopted sandbox; it waits
// for StartContainer calls in progress, and afterwards refuses new ones.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	s.destroyed = true
	s.mu.Unlock()
	s.inflight.Wait()
	err := s.m.destroy(ctx, s.id, s)
	if err == nil {
		s.m.forget(s)
	}
	return err
}

// DestroySandbox removes whatever exists of sandbox id, whether or not
// Sandbox(id) can load it: the clean-up for pods that are gone after an
// agent restart, half-created ones included. Nothing existing is success;
// an ID whose CreateSandbox is still running is ErrBusy (its own rollback
// cleans up if it fails).
func (m *Manager) DestroySandbox(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	m.mu.Lock()
	s, creating := m.sandboxes[id], m.creating[id]
	if s == nil && !creating {
		// Hold the ID while tearing down, so that no CreateSandbox of the
		// same ID starts under our feet.
		m.creating[id] = true
		defer m.unreserve(id)
	}
	m.mu.Unlock()
	switch {
	case s != nil:
		return s.Destroy(ctx)
	case creating:
		return wrapSandbox(id, ErrBusy)
	}
	return m.destroy(ctx, id, nil)
}

// destroy tears a sandbox down from what exists (cgroup tree, state dirs,
// mountinfo), not from what this Manager remembers, so that it also
// finishes what a crashed agent left half-done:
//
//  1. kill every process in the pod cgroup tree and wait until it is empty;
//  2. wait for this Manager's reapers, so no zombie is left;
//  3. destroy each libcontainer container (state dir, leaf cgroup);
//  4. unmount everything under <Root>/<ID>;
//  5. remove the pod cgroup tree in every controller;
//  6. remove <Root>/<ID> - only once nothing is mounted under it.
func (m *Manager) destroy(ctx context.Context, id string, s *Sandbox) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	dir := m.sandboxDir(id)
	var errs []error

	// Step 1: kill.
	if err := m.killPodProcesses(ctx, id); err != nil {
		errs = append(errs, err)
	}
	// Step 2: reap.
	if s != nil {
		for _, p := range s.children() {
			select {
			case <-p.done:
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("reap pid %d: %w", p.pid, ctx.Err()))
			}
		}
	}
	// Step 3: libcontainer state and leaf cgroups.
	if entries, err := os.ReadDir(stateRoot(dir)); err == nil {
		for _, e := range entries {
			if lc, err := libcontainer.Load(stateRoot(dir), e.Name()); err == nil {
				if err := destroyExited(ctx, lc); err != nil {
					errs = append(errs, fmt.Errorf("destroy container %s: %w", e.Name(), err))
				}
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	// Step 4: mounts.
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	// Step 5: the pod cgroup tree.
	if err := m.removePodCgroup(id); err != nil {
		errs = append(errs, err)
	}
	// Step 6: the directory, never through a mount that is still there.
	if mps, err := mountsUnder(dir); err != nil || len(mps) > 0 {
		errs = append(errs, fmt.Errorf("not removing %s: still mounted: %v (%v)", dir, mps, err))
	} else if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		m.log.Warn("sandbox destroy incomplete", "sandbox", id, "err", err)
		return wrapSandbox(id, err)
	}
	m.log.Info("sandbox destroyed", "sandbox", id, "ms", ms(start))
	return nil
}

// children lists the processes of the sandbox this Manager started and is
// reaping: the pause and the containers.
func (s *Sandbox) children() []*process {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []*process
	if s.pause != nil && s.pause.done != nil {
		ps = append(ps, s.pause)
	}
	for _, c := range s.containers {
		if c.proc.done != nil {
			ps = append(ps, c.proc)
		}
	}
	return ps
}

// destroyExited destroys a container whose processes were all killed. A
// killed process leaves its cgroup before it becomes a zombie, so for a
// moment libcontainer may still see it running (ErrRunning): that is waited
// out, within ctx.
func destroyExited(ctx context.Context, lc *libcontainer.Container) error {
	for {
		err := lc.Destroy()
		if !errors.Is(err, libcontainer.ErrRunning) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
