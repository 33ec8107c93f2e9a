//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// ContainerSpec is one container to run in a sandbox, resolved by the
// caller (image config merged with the pod spec, as Kubernetes does).
type ContainerSpec struct {
	// Name is the container's name in the pod, a DNS-1123 label; one
	// container per name at a time.
	Name string
	// Attempt counts restarts (0 for the first run); kept for re-adoption.
	Attempt int
	// LowerDirs are the image's unpacked layers, bottom first: the
	// overlay's lower dirs. They are never written to.
	LowerDirs []string
	// Args is the command line (ENTRYPOINT/CMD resolved); Args[0] is looked
	// up in PATH inside the container.
	Args []string
	// Env is the environment; a default PATH is added when it has none.
	Env []string
	// WorkingDir is the process's working directory; empty means "/".
	WorkingDir string
	// Mounts are the volumes (emptyDir, hostPath), bind-mounted.
	Mounts []Mount
	// MemoryLimitBytes is the memory cgroup limit; 0 means none. Going
	// over it gets the container OOM-killed.
	MemoryLimitBytes int64
	// MilliCPULimit is the CPU limit in millicores (CFS quota over a
	// 100 ms period); 0 means none.
	MilliCPULimit int64
	// MilliCPURequest is the CPU request in millicores, converted to
	// shares (weight on v2) as kubelet does; 0 gets the minimum.
	MilliCPURequest int64
	// User is who the process runs as, in the image config's USER syntax
	// (user, uid, user:group, uid:gid, uid:group, user:gid), resolved in the
	// container's root filesystem as containerd does; empty is root. The
	// caller merges the image's USER with runAsUser and runAsGroup.
	User string
	// SupplementalGroups are added to the user's groups
	// (securityContext's supplementalGroups, and fsGroup).
	SupplementalGroups []int64
	// StrictSupplementalGroups leaves out the user's memberships in the
	// image's /etc/group (supplementalGroupsPolicy: Strict).
	StrictSupplementalGroups bool
	// ReadOnlyRootfs makes the root filesystem read-only
	// (readOnlyRootFilesystem); the volumes, /dev, /dev/shm and the pod's
	// /etc/hosts and the like stay as they are mounted.
	ReadOnlyRootfs bool
	// Privileged gives every capability, the node's devices, and /proc and
	// /sys without masked or read-only paths (securityContext.privileged).
	Privileged bool
	// CapAdd and CapDrop change Docker's default capabilities, with names
	// as Kubernetes writes them (NET_RAW, with or without CAP_) or "ALL".
	CapAdd, CapDrop []string
	// NoNewPrivileges sets no_new_privs on the container's processes
	// (allowPrivilegeEscalation: false); setuid programs stop working.
	NoNewPrivileges bool
	// Sysctls are namespaced sysctls (net.*, kernel.shm_rmid_forced) to
	// set in the pod's namespaces, which the container joins, before its
	// program runs (the pod's securityContext.sysctls).
	Sysctls map[string]string
	// StdoutPath is the file stdout and stderr both append to (O_APPEND).
	// The container writes it directly - no pipe through the agent - so
	// output keeps flowing while the agent restarts. Empty discards output.
	StdoutPath string
	// Seccomp is the container's seccomp filter; the zero value is
	// Unconfined.
	Seccomp SeccompProfile
	// AppArmorProfile is the name of the loaded AppArmor profile the
	// container's processes run under; empty leaves them as the agent
	// is (unconfined on a host without AppArmor).
	AppArmorProfile string
}

// Mount is a bind mount of a host path into a container.
type Mount struct {
	// Source is the host path (an emptyDir's directory, a hostPath).
	Source string
	// Destination is the absolute path in the container.
	Destination string
	// ReadOnly makes the mount read-only for the container.
	ReadOnly bool
	// IDMapped mounts it idmapped with the pod's user namespace, when it
	// has one: files root owns on the node are the pod's root's. For
	// files the node writes (configMaps, secrets, /etc/hosts); a volume
	// the pod writes to is owned by its mapped IDs instead, so that what
	// it writes is theirs on the node too.
	IDMapped bool
}

// validate checks what the runtime cannot fix up itself.
func (spec ContainerSpec) validate() error {
	if err := validateName(spec.Name); err != nil {
		return err
	}
	if len(spec.Args) == 0 || spec.Args[0] == "" {
		return fmt.Errorf("%w: container %q has no command", ErrInvalid, spec.Name)
	}
	if len(spec.LowerDirs) == 0 {
		return fmt.Errorf("%w: container %q has no image layers", ErrInvalid, spec.Name)
	}
	if spec.WorkingDir != "" && !filepath.IsAbs(spec.WorkingDir) {
		return fmt.Errorf("%w: working dir %q is not absolute", ErrInvalid, spec.WorkingDir)
	}
	for _, v := range spec.Mounts {
		if !filepath.IsAbs(v.Source) || !filepath.IsAbs(v.Destination) {
			return fmt.Errorf("%w: mount %q -> %q: paths must be absolute", ErrInvalid, v.Source, v.Destination)
		}
	}
	if spec.MemoryLimitBytes < 0 || spec.MilliCPULimit < 0 || spec.MilliCPURequest < 0 {
		return fmt.Errorf("%w: negative resource in container %q", ErrInvalid, spec.Name)
	}
	if err := checkCapabilities(spec); err != nil {
		return err
	}
	return nil
}

// withDefaultPath adds a PATH to env when it has none, as containerd does.
func withDefaultPath(env []string) []string {
	if slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		return env
	}
	return append([]string{defaultPath}, env...)
}

// Container is one container of a sandbox: its libcontainer container and
// main process. Safe for concurrent use.
type Container struct {
	sb   *Sandbox
	name string
	dir  string
	meta containerMeta
	proc *process
}

// Name returns the container's name in the pod, the key the pod lifecycle
// manager reports statuses under.
func (c *Container) Name() string { return c.name }

// Attempt returns the restart count it was started with, kept on disk so
// that restartCount survives an agent restart.
func (c *Container) Attempt() int { return c.meta.Attempt }

// Pid returns the main process's PID on the host, for logs and for
// finding the container's processes from outside.
func (c *Container) Pid() int { return c.proc.pid }

// Running reports whether the main process still runs, without blocking:
// the pod lifecycle manager polls it when it re-adopts a pod.
func (c *Container) Running() bool { return c.proc.alive() }

// StartedAt is when the main process was started (the container status's
// startedAt); recorded on disk, so an adopted container keeps it.
func (c *Container) StartedAt() time.Time { return c.meta.Started }

// Adopted reports whether this container was re-adopted rather than
// started by this Manager: Wait cannot know its exit code.
func (c *Container) Adopted() bool { return c.proc.done == nil }

// StartContainer starts a container in the sandbox and returns once its
// program runs:
//
//  1. reserve the name (one container per name; refused once Destroy began);
//  2. create its directory and mount the overlay root (on the host), and
//     resolve its user in it;
//  3. record what re-adoption needs (meta.json);
//  4. open the output file, passed to the process as stdout and stderr;
//  5. create the libcontainer container (joined namespaces, cgroup
//     <CgroupRoot>/pod<ID>/<name> with its limits, seccomp and AppArmor);
//  6. run it, and check that the program was really exec'd.
//
// Every acquired resource is rolled back if a later step fails.
func (s *Sandbox) StartContainer(ctx context.Context, spec ContainerSpec) (_ *Container, retErr error) {
	start := time.Now()
	if err := spec.validate(); err != nil {
		return nil, wrapSandbox(s.id, err)
	}
	name := spec.Name
	fail := func(err error) (*Container, error) {
		return nil, wrapSandbox(s.id, fmt.Errorf("container %q: %w", name, err))
	}
	rollback := func(what string, undo func() error) {
		if retErr != nil {
			if err := undo(); err != nil {
				s.m.log.Warn("container rollback failed", "sandbox", s.id, "container", name, "step", what, "err", err)
			}
		}
	}

	// Step 1: reserve the name.
	if err := s.reserveName(name); err != nil {
		return fail(err)
	}
	defer s.releaseName(name)
	if !s.pause.alive() {
		return fail(fmt.Errorf("pause: %w", ErrNotRunning))
	}
	pausePid := s.pause.pid

	// Step 2: directory and overlay root.
	dir := containerDir(s.dir, name)
	userns := s.meta.UserNamespace
	if err := os.MkdirAll(containersDir(s.dir), dirMode(userns)); err != nil {
		return fail(err)
	}
	if err := os.Mkdir(dir, dirMode(userns)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fail(fmt.Errorf("%w: remove the previous container first", ErrExists))
		}
		return fail(err)
	}
	defer rollback("directory", func() error { return os.RemoveAll(dir) })
	rootfs := containerRootfs(dir)
	for _, d := range []string{containerUpper(dir), containerWork(dir), rootfs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail(err)
		}
	}
	defer rollback("overlay", func() error { return unmountUnder(dir) })
	if err := s.mountRootfs(spec.LowerDirs, dir, pausePid); err != nil {
		return fail(err)
	}
	identity, err := resolveIdentity(rootfs, spec.User, spec.SupplementalGroups, spec.StrictSupplementalGroups)
	if err != nil {
		return fail(err)
	}
	if err := userns.checkMapped(identity); err != nil {
		return fail(err)
	}

	// Step 3: what re-adoption needs.
	env := withDefaultPath(spec.Env)
	cwd := spec.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	meta := containerMeta{Name: name, Attempt: spec.Attempt, Args: spec.Args, Env: env, WorkingDir: cwd,
		StdoutPath: spec.StdoutPath, Identity: identity}

	// Step 4: the output file.
	out, err := openOutput(spec.StdoutPath)
	if err != nil {
		return fail(err)
	}
	if out != nil {
		defer out.Close() // the process has its own copy
	}

	// Step 5: the libcontainer container.
	cfg, err := s.containerConfig(spec, rootfs, pausePid)
	if err != nil {
		return fail(err)
	}
	// After the capabilities are final: RuntimeDefault's rules follow them.
	if err := withSecurity(cfg, spec.Seccomp, spec.AppArmorProfile); err != nil {
		return fail(err)
	}
	lc, err := libcontainer.Create(stateRoot(s.dir), name, cfg)
	if err != nil {
		if errors.Is(err, libcontainer.ErrExist) {
			return fail(fmt.Errorf("%w: libcontainer state", ErrExists))
		}
		return fail(fmt.Errorf("create: %w", err))
	}
	defer rollback("libcontainer", func() error { return destroyLibcontainer(lc) })

	// Step 6: run, and make sure the program runs.
	proc := &libcontainer.Process{Args: spec.Args, Env: env, Cwd: cwd, Init: true,
		UID: identity.UID, GID: identity.GID, AdditionalGroups: identity.AdditionalGroups}
	if out != nil {
		proc.Stdout, proc.Stderr = out, out
	}
	meta.Started = time.Now().UTC()
	if err := s.writeMeta(dir, meta); err != nil {
		return fail(fmt.Errorf("write meta: %w", err))
	}
	if err := lc.Run(proc); err != nil {
		return fail(fmt.Errorf("start: %w", err))
	}
	state, err := lc.State()
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		return fail(fmt.Errorf("state after start: %w", err))
	}
	p, err := startReaper(lc, proc, state.CgroupPaths)
	if err != nil {
		_ = proc.Signal(unix.SIGKILL)
		return fail(err)
	}
	defer rollback("process", func() error {
		_ = p.signal(unix.SIGKILL)
		select {
		case <-p.done:
			return nil
		case <-time.After(cleanupTimeout):
			return fmt.Errorf("pid %d not reaped after SIGKILL", p.pid)
		}
	})
	if err := p.awaitExec(ctx); err != nil {
		return fail(err)
	}

	c := &Container{sb: s, name: name, dir: dir, meta: meta, proc: p}
	s.mu.Lock()
	s.containers[name] = c
	s.mu.Unlock()
	s.m.log.Info("container started", "sandbox", s.id, "container", name, "attempt", spec.Attempt, "pid", p.pid, "ms", ms(start))
	return c, nil
}

// mountRootfs mounts the container's overlay root in dir. With a user
// namespace, the overlay's lower dirs are idmapped mounts of the image's
// layers (the image's root-owned files are the pod's root's, and the
// shared layers stay as they are) and its upper dir belongs to the pod's
// root, so that what the container writes is owned by its mapped IDs on
// the node.
func (s *Sandbox) mountRootfs(lowers []string, dir string, pausePid int) error {
	userns := s.meta.UserNamespace
	if userns != nil {
		ns, err := openUserns(pausePid)
		if err != nil {
			return err
		}
		defer ns.Close()
		if lowers, err = idmapLowers(lowers, dir, ns); err != nil {
			return err
		}
		if err := os.Chown(containerUpper(dir), int(userns.HostUID), int(userns.HostGID)); err != nil {
			return fmt.Errorf("chown the upper dir to the pod's root: %w", err)
		}
	}
	return mountOverlay(lowers, containerUpper(dir), containerWork(dir), containerRootfs(dir))
}

// dirMode is the mode of the directories on the path to a container's
// root filesystem: private (0700) to the host's root, or searchable by
// others (0711, not listable) when the pod's root, an unprivileged user on
// the node, must reach its root filesystem (libcontainer's init mounts it
// by path from inside the user namespace).
func dirMode(userns *UserNamespace) os.FileMode {
	if userns != nil {
		return 0o711
	}
	return 0o700
}

// openOutput opens the container's output file for appending; both
// stdout and stderr get this one descriptor, so lines interleave as
// written.
func openOutput(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open output file: %w", err)
	}
	return f, nil
}

// reserveName claims a container name for StartContainer and counts it
// as in flight, for Destroy to wait on.
func (s *Sandbox) reserveName(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return ErrSandboxDestroyed
	}
	if s.reserved[name] || s.containers[name] != nil {
		return ErrExists
	}
	s.reserved[name] = true
	s.inflight.Add(1)
	return nil
}

func (s *Sandbox) releaseName(name string) {
	s.mu.Lock()
	delete(s.reserved, name)
	s.mu.Unlock()
	s.inflight.Done()
}

// Container returns the named container: the live object, or re-adopted
// from disk (its exit status will then be unknown, see the package doc).
func (s *Sandbox) Container(name string) (*Container, error) {
	if err := validateName(name); err != nil {
		return nil, wrapSandbox(s.id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.containers[name]; c != nil {
		return c, nil
	}
	if s.reserved[name] {
		return nil, wrapSandbox(s.id, fmt.Errorf("container %q: %w: still starting", name, ErrNotFound))
	}
	dir := containerDir(s.dir, name)
	meta, err := s.readMeta(dir, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = ErrNotFound
		}
		return nil, wrapSandbox(s.id, fmt.Errorf("container %q: %w", name, err))
	}
	lc, err := libcontainer.Load(stateRoot(s.dir), name)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			err = ErrNotFound
		}
		return nil, wrapSandbox(s.id, fmt.Errorf("container %q: load: %w", name, err))
	}
	st, err := lc.State()
	if err != nil {
		return nil, wrapSandbox(s.id, fmt.Errorf("container %q: state: %w", name, err))
	}
	c := &Container{sb: s, name: name, dir: dir, meta: meta, proc: &process{lc: lc, pid: st.InitProcessPid}}
	s.containers[name] = c
	return c, nil
}

// Containers lists the names of the containers present on disk, running or
// not.
func (s *Sandbox) Containers() ([]string, error) {
	entries, err := os.ReadDir(containersDir(s.dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapSandbox(s.id, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && validateName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Wait returns how the main process ended, blocking until it does or ctx
// ends. For a container this Manager started it is the real status; for
// an adopted one it is Unknown (or OOMKilled), as the package doc says.
func (c *Container) Wait(ctx context.Context) (ExitStatus, error) {
	return c.proc.wait(ctx)
}

// Signal sends sig to the main process. SIGKILL kills every process of the
// container when the PID namespace is shared (with a private one the
// kernel does that when PID 1 dies). ErrNotRunning once it has exited.
func (c *Container) Signal(sig os.Signal) error {
	if err := c.proc.signal(sig); err != nil {
		return wrapSandbox(c.sb.id, fmt.Errorf("container %q: signal %v: %w", c.name, sig, err))
	}
	return nil
}

// Stop asks the container to stop (SIGTERM) and kills it (SIGKILL) if it
// has not exited after grace, as kubelet does with
// terminationGracePeriodSeconds; it returns the exit status.
func (c *Container) Stop(ctx context.Context, grace time.Duration) (ExitStatus, error) {
	if err := c.Signal(unix.SIGTERM); err != nil && !errors.Is(err, ErrNotRunning) {
		return ExitStatus{}, err
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	st, err := c.Wait(gctx)
	cancel()
	if err == nil {
		return st, nil
	}
	if ctx.Err() != nil {
		return ExitStatus{}, ctx.Err()
	}
	c.sb.m.log.Info("container ignored SIGTERM, killing", "sandbox", c.sb.id, "container", c.name, "grace", grace)
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return ExitStatus{}, err
	}
	return c.Wait(ctx)
}

// Remove deletes the container: kills it if it still runs, destroys the
// libcontainer container (state and cgroup), unmounts its overlay
// (MNT_DETACH) and removes its directory with the upper dir. Its output
// file is the caller's and stays. Idempotent.
func (c *Container) Remove(ctx context.Context) error {
	s := c.sb
	wrap := func(err error) error { return wrapSandbox(s.id, fmt.Errorf("container %q: remove: %w", c.name, err)) }
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if c.proc.alive() {
		if err := c.proc.signal(unix.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
			return wrap(err)
		}
		if _, err := c.Wait(ctx); err != nil {
			return wrap(err)
		}
	}
	var errs []error
	if err := destroyLibcontainer(c.proc.lc); err != nil {
		errs = append(errs, err)
	}
	// The leaf cgroup again, for a container whose libcontainer state was
	// lost half-way.
	if cm, err := manager.New(&cgroups.Cgroup{Path: s.m.containerCgroupPath(s.id, c.name), Resources: &cgroups.Resources{}}); err == nil {
		if err := cm.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountUnder(c.dir); err != nil {
		errs = append(errs, err)
	}
	if mps, err := mountsUnder(c.dir); err != nil || len(mps) > 0 {
		errs = append(errs, fmt.Errorf("not removing %s: still mounted %v (%v)", c.dir, mps, err))
	} else if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(containerEnvPath(s.dir, c.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return wrap(err)
	}
	s.mu.Lock()
	if s.containers[c.name] == c {
		delete(s.containers, c.name)
	}
	s.mu.Unlock()
	s.m.log.Info("container removed", "sandbox", s.id, "container", c.name)
	return nil
}

// destroyLibcontainer removes a stopped libcontainer container's cgroup and
// state; a container already destroyed is fine.
func destroyLibcontainer(lc *libcontainer.Container) error {
	if err := lc.Destroy(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("destroy libcontainer container: %w", err)
	}
	return nil
}

// writeMeta records meta for re-adoption: the environment on the sandbox's
// private tmpfs, the rest in the container's directory. A sandbox made by an
// agent from before the private tmpfs has none, and keeps the environment
// in meta.json as that agent did.
func (s *Sandbox) writeMeta(dir string, meta containerMeta) error {
	if _, err := os.Stat(privateDir(s.dir)); err == nil {
		if err := writeJSONFile(containerEnvPath(s.dir, meta.Name), meta.Env); err != nil {
			return err
		}
		meta.Env = nil
	}
	return writeJSONFile(containerMetaPath(dir), meta)
}

// readMeta reads what writeMeta wrote.
func (s *Sandbox) readMeta(dir, name string) (containerMeta, error) {
	var meta containerMeta
	if err := readJSONFile(containerMetaPath(dir), &meta); err != nil {
		return meta, err
	}
	if meta.Env == nil {
		if err := readJSONFile(containerEnvPath(s.dir, name), &meta.Env); err != nil {
			return meta, fmt.Errorf("read environment: %w", err)
		}
	}
	return meta, nil
}
