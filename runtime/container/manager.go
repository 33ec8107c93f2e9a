//go:build linux

package container

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/opencontainers/runc/libcontainer"
)

// Manager creates, re-adopts and destroys the sandboxes of this node. It is
// safe for concurrent use; operations on different sandboxes do not wait
// for each other.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// sandboxes holds the live objects this Manager created or adopted,
	// so that every caller of Sandbox(id) shares one object (and with it
	// the exit statuses of the containers this Manager started).
	sandboxes map[string]*Sandbox
	// creating reserves IDs while CreateSandbox runs.
	creating map[string]bool
}

// NewManager validates cfg and prepares Root. It starts nothing: existing
// sandboxes are re-adopted on demand by Sandbox(id).
func NewManager(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("container runtime config: %w", err)
	}
	if !cgoEnabled {
		return nil, ErrNoCgo
	}
	// Searchable, not listable: the root of a pod with a user namespace
	// of its own is an unprivileged user on the node, and must reach its
	// sandbox's directory (see dirMode); every other one is 0700.
	if err := os.MkdirAll(cfg.Root, 0o711); err != nil {
		return nil, fmt.Errorf("container runtime root: %w", err)
	}
	if err := os.Chmod(cfg.Root, 0o711); err != nil {
		return nil, fmt.Errorf("container runtime root: %w", err)
	}
	// Mount points are matched against /proc/self/mountinfo, which shows
	// paths with symlinks resolved.
	root, err := filepath.EvalSymlinks(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("container runtime root: %w", err)
	}
	cfg.Root = root
	m := &Manager{
		cfg:       cfg,
		log:       cfg.logger(),
		sandboxes: map[string]*Sandbox{},
		creating:  map[string]bool{},
	}
	if err := m.setupCgroupRoot(); err != nil {
		return nil, err
	}
	return m, nil
}

// Config returns the validated configuration in use (Root with symlinks
// resolved).
func (m *Manager) Config() Config { return m.cfg }

// Sandboxes lists the IDs of the sandboxes present on disk, running or not,
// complete or half-created: after an agent restart, those the pod
// lifecycle manager does not know belong to pods that are gone, and go to
// DestroySandbox.
func (m *Manager) Sandboxes() ([]string, error) {
	entries, err := os.ReadDir(m.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && validateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Sandbox returns the sandbox with this ID: the live object if this Manager
// has it, else re-adopted from Root (after an agent restart). A sandbox
// whose pause has died is returned too (Running reports false); one
// without pause state is ErrNotFound, for DestroySandbox to clean up.
func (m *Manager) Sandbox(id string) (*Sandbox, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.sandboxes[id]; s != nil {
		return s, nil
	}
	if m.creating[id] {
		return nil, wrapSandbox(id, fmt.Errorf("%w: still being created", ErrNotFound))
	}
	s, err := m.adoptSandbox(id)
	if err != nil {
		return nil, wrapSandbox(id, err)
	}
	m.sandboxes[id] = s
	return s, nil
}

// adoptSandbox rebuilds a Sandbox from its files and libcontainer state.
func (m *Manager) adoptSandbox(id string) (*Sandbox, error) {
	dir := m.sandboxDir(id)
	var meta sandboxMeta
	if err := readJSONFile(sandboxMetaPath(dir), &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read sandbox meta: %w", err)
	}
	lc, err := libcontainer.Load(stateRoot(dir), pauseID)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, fmt.Errorf("%w: no pause state", ErrNotFound)
		}
		return nil, fmt.Errorf("load pause: %w", err)
	}
	st, err := lc.State()
	if err != nil {
		return nil, fmt.Errorf("pause state: %w", err)
	}
	s := newSandbox(m, id, dir, meta)
	s.pause = &process{lc: lc, pid: st.InitProcessPid}
	m.log.Info("sandbox adopted", "sandbox", id, "pausePid", s.pause.pid, "running", s.Running())
	return s, nil
}

// forget drops a destroyed sandbox from the live set.
func (m *Manager) forget(s *Sandbox) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sandboxes[s.id] == s {
		delete(m.sandboxes, s.id)
	}
}

// wrapSandbox puts the sandbox ID in an error, as containerd does: a log
// line or an event must say which pod failed.
func wrapSandbox(id string, err error) error { return fmt.Errorf("sandbox %q: %w", id, err) }
