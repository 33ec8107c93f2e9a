package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/image"
)

// In-memory doubles of runtime/image and runtime/container, for the unit
// tests of the lifecycle logic. They do what the real ones promise, in
// memory, and let a test make containers exit.

// fakeImages is an image store holding images by reference.
type fakeImages struct {
	mu       sync.Mutex
	images   map[string]*image.Image
	pullErr  map[string]error // Pull of this ref fails with it
	pulls    map[string]int
	keyrings map[string]*image.Keyring // of the last pull of a ref
	registry map[string]*image.Image   // what a pull can fetch
	// block, when set, makes every pull wait for its context.
	block bool
}

func newFakeImages() *fakeImages {
	return &fakeImages{images: map[string]*image.Image{}, pullErr: map[string]error{},
		pulls: map[string]int{}, registry: map[string]*image.Image{}, keyrings: map[string]*image.Keyring{}}
}

func busyboxImage(ref string) *image.Image {
	return &image.Image{Reference: ref, ID: "sha256:" + fmt.Sprintf("%064x", len(ref)),
		Config: image.ImageConfig{Cmd: []string{"sh"}}}
}

func (f *fakeImages) add(ref string) { f.mu.Lock(); f.images[ref] = busyboxImage(ref); f.mu.Unlock() }

func (f *fakeImages) Get(ref string) (*image.Image, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[ref]
	return img, ok
}

func (f *fakeImages) Pull(ctx context.Context, ref string, policy api.PullPolicy, keyring *image.Keyring) (*image.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls[ref]++
	f.keyrings[ref] = keyring
	if f.block {
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, fmt.Errorf("%w: %w", image.ErrImagePull, ctx.Err())
	}
	if img, ok := f.images[ref]; ok && policy != api.PullAlways {
		return img, nil
	}
	if policy == api.PullNever {
		return nil, fmt.Errorf("%w: %s", image.ErrImageNeverPull, ref)
	}
	if err := f.pullErr[ref]; err != nil {
		return nil, err
	}
	img, ok := f.registry[ref]
	if !ok {
		return nil, fmt.Errorf("%w: %s: not in the registry", image.ErrImagePull, ref)
	}
	f.images[ref] = img
	return img, nil
}

// lastKeyring is the keyring the last pull of ref was given.
func (f *fakeImages) lastKeyring(ref string) *image.Keyring {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keyrings[ref]
}

func (f *fakeImages) pullCount(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pulls[ref]
}

func (f *fakeImages) Load(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	ref := string(b)
	f.add(ref)
	return []string{ref}, nil
}

func (f *fakeImages) List() []image.ImageInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []image.ImageInfo
	for ref, img := range f.images {
		out = append(out, image.ImageInfo{Reference: ref, ID: img.ID})
	}
	return out
}

// fakeRuntime is a container manager: sandboxes and containers in memory.
type fakeRuntime struct {
	mu        sync.Mutex
	sandboxes map[string]*fakeSandbox
	created   int
	destroyed []string
	pids      atomic.Int64
	// createErr, when set, fails CreateSandbox.
	createErr error
	// startErr fails StartContainer of the named container.
	startErr map[string]error
	// onStart, if set, is called with each started container.
	onStart func(*fakeContainer)
	// onExec, if set, answers Exec in a running container (a probe's
	// command) instead of the default echo.
	onExec func(container string, args []string) int
	// podStats answers PodStats by sandbox ID; a sandbox without an
	// entry has no stats (an error).
	podStats map[string]eviction.PodStats
	// destroyGate, when set, holds every sandbox's Destroy until it is
	// closed (or Destroy's context ends): a slow cleanup.
	destroyGate chan struct{}
}

// PodStats is the eviction manager's view of a sandbox's cgroups.
func (f *fakeRuntime) PodStats(id string, containers []string) (eviction.PodStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.podStats[id]
	if !ok {
		return eviction.PodStats{}, fmt.Errorf("sandbox %s: no stats", id)
	}
	return s, nil
}

func newFakeRuntime() *fakeRuntime {
	f := &fakeRuntime{sandboxes: map[string]*fakeSandbox{}, startErr: map[string]error{}}
	f.pids.Store(1000)
	return f
}

func (f *fakeRuntime) CreateSandbox(ctx context.Context, spec sandboxSpec) (podSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, f.createErr
	}
	if f.sandboxes[spec.ID] != nil {
		return nil, fmt.Errorf("sandbox %s: already exists", spec.ID)
	}
	sb := &fakeSandbox{rt: f, spec: spec, done: make(chan struct{}), containers: map[string]*fakeContainer{}}
	f.sandboxes[spec.ID] = sb
	f.created++
	return sb, nil
}

func (f *fakeRuntime) Sandbox(id string) (podSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sb := f.sandboxes[id]; sb != nil {
		return sb, nil
	}
	return nil, fmt.Errorf("sandbox %s: %w", id, errNotFound)
}

func (f *fakeRuntime) Sandboxes() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.sandboxes {
		ids = append(ids, id)
	}
	return ids, nil
}

func (f *fakeRuntime) DestroySandbox(ctx context.Context, id string) error {
	f.mu.Lock()
	sb := f.sandboxes[id]
	f.mu.Unlock()
	if sb == nil {
		return nil
	}
	return sb.Destroy(ctx)
}

func (f *fakeRuntime) sandbox(id string) *fakeSandbox {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sandboxes[id]
}

func (f *fakeRuntime) createdCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

// fakeSandbox is one pod's sandbox.
type fakeSandbox struct {
	rt         *fakeRuntime
	spec       sandboxSpec
	mu         sync.Mutex
	dead       bool
	done       chan struct{}
	containers map[string]*fakeContainer
	starts     []string // container names, in start order
}

func (s *fakeSandbox) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.dead
}

func (s *fakeSandbox) Done() <-chan struct{} { return s.done }

// IP is a fake sandbox's pod address: none, as without a pod network.
func (s *fakeSandbox) IP() string { return "" }

// Dial is refused: a fake sandbox has no network namespace.
func (s *fakeSandbox) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, fmt.Errorf("dial %s: fake sandbox has no network", address)
}

// kill makes the pause die: containers keep running (private PID
// namespaces), as on a real node.
func (s *fakeSandbox) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dead {
		s.dead = true
		close(s.done)
	}
}

func (s *fakeSandbox) StartContainer(ctx context.Context, spec containerSpec) (podContainer, error) {
	s.rt.mu.Lock()
	err := s.rt.startErr[spec.Name]
	onStart := s.rt.onStart
	s.rt.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, fmt.Errorf("pause: %w", errNotRunning)
	}
	if s.containers[spec.Name] != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("container %s: already exists", spec.Name)
	}
	c := &fakeContainer{sb: s, spec: spec, pid: int(s.rt.pids.Add(1)), started: time.Now(), exited: make(chan struct{})}
	s.containers[spec.Name] = c
	s.starts = append(s.starts, spec.Name)
	s.mu.Unlock()
	if spec.StdoutPath != "" {
		if f, err := os.OpenFile(spec.StdoutPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err == nil {
			fmt.Fprintf(f, "%s attempt %d\n", spec.Name, spec.Attempt)
			f.Close()
		}
	}
	if onStart != nil {
		onStart(c)
	}
	return c, nil
}

func (s *fakeSandbox) Container(name string) (podContainer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.containers[name]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("container %s: %w", name, errNotFound)
}

func (s *fakeSandbox) container(name string) *fakeContainer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.containers[name]
}

func (s *fakeSandbox) startOrder() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.starts...)
}

func (s *fakeSandbox) Exec(ctx context.Context, name string, args []string, stdio ExecIO) (int, error) {
	c := s.container(name)
	if c == nil || !c.running() {
		return -1, fmt.Errorf("container %s: %w", name, errNotRunning)
	}
	s.rt.mu.Lock()
	onExec := s.rt.onExec
	s.rt.mu.Unlock()
	if onExec != nil {
		return onExec(name, args), nil
	}
	fmt.Fprintf(stdio.Stdout, "%v\n", args)
	return len(args), nil
}

func (s *fakeSandbox) Destroy(ctx context.Context) error {
	s.rt.mu.Lock()
	gate := s.rt.destroyGate
	s.rt.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	cs := make([]*fakeContainer, 0, len(s.containers))
	for _, c := range s.containers {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.exit(exitStatus{Code: 137, Signal: 9})
	}
	s.kill()
	s.rt.mu.Lock()
	if s.rt.sandboxes[s.spec.ID] == s {
		delete(s.rt.sandboxes, s.spec.ID)
	}
	s.rt.destroyed = append(s.rt.destroyed, s.spec.ID)
	s.rt.mu.Unlock()
	return nil
}

// fakeContainer is one container instance; it runs until exit is called.
type fakeContainer struct {
	sb      *fakeSandbox
	spec    containerSpec
	pid     int
	started time.Time
	once    sync.Once
	exited  chan struct{}
	status  exitStatus
	// ignoreTerm makes Stop wait for the grace period.
	ignoreTerm bool
	// unknown makes Wait report an adopted container's unknown exit.
	unknown bool
}

func (c *fakeContainer) ID() string {
	return fmt.Sprintf("%s-%s-%d", c.sb.spec.ID, c.spec.Name, c.spec.Attempt)
}
func (c *fakeContainer) Pid() int             { return c.pid }
func (c *fakeContainer) StartedAt() time.Time { return c.started }

func (c *fakeContainer) exit(st exitStatus) {
	c.once.Do(func() {
		if st.FinishedAt.IsZero() {
			st.FinishedAt = time.Now()
		}
		c.status = st
		close(c.exited)
	})
}

func (c *fakeContainer) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *fakeContainer) Wait(ctx context.Context) (exitStatus, error) {
	select {
	case <-c.exited:
		st := c.status
		if c.unknown {
			st = exitStatus{Code: 137, Unknown: true, FinishedAt: st.FinishedAt}
		}
		return st, nil
	case <-ctx.Done():
		return exitStatus{}, ctx.Err()
	}
}

func (c *fakeContainer) Stop(ctx context.Context, grace time.Duration) error {
	if !c.ignoreTerm {
		c.exit(exitStatus{Code: 143, Signal: 15})
		return nil
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(grace):
	case <-ctx.Done():
		return ctx.Err()
	}
	c.exit(exitStatus{Code: 137, Signal: 9})
	return nil
}

func (c *fakeContainer) Remove(ctx context.Context) error {
	c.exit(exitStatus{Code: 137, Signal: 9})
	c.sb.mu.Lock()
	defer c.sb.mu.Unlock()
	if c.sb.containers[c.spec.Name] == c {
		delete(c.sb.containers, c.spec.Name)
	}
	return nil
}

var errFake = errors.New("fake failure")
