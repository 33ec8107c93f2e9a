package runtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
	"github.com/gossipod/gossipod/runtime/image"
)

// Runtime runs the pods bound to this node, as a kubelet does with
// containerd and runc: one worker per pod converges it to its spec and
// reports what happens. It is safe for concurrent use.
//
// Pods survive the Runtime: when Run returns (an agent stopping or being
// upgraded) their processes keep running, and the next Runtime on the same
// Root re-adopts them.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	images  imageService
	sandbox sandboxService
	updates *updateQueue

	// pressure is what the last housekeeping found (Pressure reads it);
	// pressureState, owned by Run's goroutine, remembers when each
	// condition was last observed.
	pressure      atomic.Pointer[nodePressure]
	pressureState eviction.Pressure
	// memory is where memory.available is read; cleanup is what the
	// last evictions wait for (both owned by Run's goroutine).
	memory  eviction.MemorySource
	cleanup *pendingCleanup

	// Knobs the tests turn; fixed before the first SyncPods.
	backoff           backoffPolicy
	logRotateInterval time.Duration
	cleanupTimeout    time.Duration
	// observe measures the node's eviction signals (observeNode);
	// podCleanupTimeout bounds the wait for evicted pods' cleanup.
	observe           func() eviction.Observations
	podCleanupTimeout time.Duration
	// probeUnit is a probe's second: the tests shorten it.
	probeUnit time.Duration
	// startedAt is when this Runtime was made; probes started less than
	// a period after it are jittered, as kubelet's after its start.
	startedAt time.Time

	// ctx ends when Run returns: workers and their goroutines stop, pods
	// stay.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// workers holds one worker per pod UID.
	workers map[string]*podWorker
	// adopted is false until the first SyncPods: until then, the pods
	// found on disk wait to learn whether they are still wanted.
	adopted bool
	// found are the pod records read from disk by New, by UID.
	found map[string]*podState
	// userns hands out the user namespaces of the pods with
	// hostUsers: false.
	userns *usernsAllocator
	// cleaned is closed once the leftovers of pods that are gone are
	// removed: new pods start only after that, so that an agent that
	// comes back stops the pods no longer bound to it before anything
	// else.
	cleaned chan struct{}
}

// New validates cfg, opens the image store and the container manager under
// Root, and reads the pods this node ran before (the agent may have been
// restarted). It starts nothing: the first SyncPods call re-adopts the pods
// that are still wanted and removes the others.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := MakeSearchable(cfg.Root); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	images, sandboxes, err := newBackends(ctx, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	return newRuntime(ctx, cancel, cfg, images, sandboxes)
}

// newRuntime builds a Runtime on the given backends (New passes the real
// ones, the unit tests doubles); cancel ends ctx, the Runtime's lifetime.
func newRuntime(ctx context.Context, cancel context.CancelFunc, cfg Config, images imageService, sandboxes sandboxService) (*Runtime, error) {
	if err := os.MkdirAll(cfg.podsDir(), 0o700); err != nil {
		cancel()
		return nil, fmt.Errorf("runtime: %w", err)
	}
	r := &Runtime{
		cfg:               cfg,
		log:               cfg.logger(),
		now:               cfg.clock(),
		images:            images,
		sandbox:           sandboxes,
		updates:           newUpdateQueue(),
		backoff:           defaultBackoff,
		logRotateInterval: 10 * time.Second,
		cleanupTimeout:    time.Minute,
		probeUnit:         time.Second,
		startedAt:         time.Now(),
		pressureState:     eviction.Pressure{TransitionPeriod: cfg.PressureTransitionPeriod},
		memory:            eviction.HostMemorySource(),
		podCleanupTimeout: podCleanupTimeout,
		ctx:               ctx,
		cancel:            cancel,
		workers:           map[string]*podWorker{},
		cleaned:           make(chan struct{}),
		userns:            newUsernsAllocator(),
	}
	found, err := r.readRecords()
	if err != nil {
		cancel()
		return nil, err
	}
	// The pods found keep their user namespaces: no new pod may get one
	// of their ranges, while they run or until their files are removed.
	for uid, st := range found {
		if st == nil || st.UserNamespace == nil {
			continue
		}
		if err := r.userns.adopt(uid, st.UserNamespace); err != nil {
			r.log.Warn("unusable user namespace in a pod record; the pod's leftovers will be removed", "uid", uid, "error", err)
			found[uid] = nil
		}
	}
	r.found = found
	r.observe = r.observeNode
	return r, nil
}

// Run does the runtime's background work until ctx ends: it delivers
// updates on Updates, keeps container logs under LogMaxBytes, and every
// HousekeepingInterval measures the node's pressure and its pods' local
// storage and evicts (housekeeping). When it
// returns, the pod workers have stopped, but the pods have not: an agent
// restart must leave them running.
func (r *Runtime) Run(ctx context.Context) error {
	defer func() {
		r.cancel()
		r.wg.Wait()
	}()
	if o, ok := r.sandbox.(orphanReaper); ok {
		r.wg.Go(func() { o.ReapOrphans(r.ctx) })
	}
	var forwarder sync.WaitGroup
	forwarder.Go(func() { r.updates.run(ctx) })
	defer forwarder.Wait()

	tick := time.NewTicker(r.logRotateInterval)
	defer tick.Stop()
	every := r.cfg.HousekeepingInterval
	if every <= 0 {
		every = DefaultHousekeepingInterval
	}
	house := time.NewTicker(every)
	defer house.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			r.rotateLogs()
		case <-house.C:
			r.housekeeping()
		}
	}
}

// SyncPods hands the runtime the full set of pods bound to this node. Call
// it whenever that set or a pod in it changes; it is cheap when nothing
// did, and it never waits for a pod: each pod's worker does the work.
//
//   - a new pod gets a worker, which starts it;
//   - a pod with a deletionTimestamp is stopped gracefully (SIGTERM, then
//     SIGKILL after its grace period) and everything of it is removed,
//     reported by an update with Removed;
//   - a pod missing from pods (deleted, or no longer bound here) is killed
//     at once and removed.
//
// The first call after New decides the fate of the pods found on disk: those
// in pods are re-adopted without restarting their containers, the others
// are destroyed before any new pod starts. It must therefore carry the
// agent's current view of its pods, not an empty set while its state is
// still loading.
func (r *Runtime) SyncPods(pods []*api.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desired := make(map[string]*api.Pod, len(pods))
	for _, p := range pods {
		if p == nil || p.UID == "" {
			continue
		}
		if p.Spec.NodeName != "" && p.Spec.NodeName != r.cfg.NodeName {
			continue // bound elsewhere: not ours to run
		}
		if err := checkPodPathNames(p); err != nil {
			// The FSM refuses such pods; this is the last line, before
			// any path is built from them.
			r.log.Error("refusing to run a pod whose names cannot be paths", "pod", p.Namespace+"/"+p.Name, "err", err)
			continue
		}
		desired[string(p.UID)] = p
	}
	if !r.adopted {
		r.adoptLocked(desired)
	}
	for uid, p := range desired {
		w := r.workers[uid]
		if w != nil && !w.isOrphaned() {
			w.update(p)
			continue
		}
		var after <-chan struct{}
		if w != nil {
			after = w.done // the pod came back while being removed
		}
		st := newPodState(p.DeepCopy())
		if api.IsTerminal(p) {
			// Finished before, and unknown here: never run it again.
			st.Terminal, st.frozen, st.Status = true, true, p.Status
		}
		r.startWorkerLocked(st, nil, after)
	}
	for uid, w := range r.workers {
		if desired[uid] == nil {
			w.orphan()
		}
	}
}

// startWorkerLocked starts the worker of a pod. sb is its adopted sandbox,
// if any; after, if not nil, must close before the worker does anything
// (the previous worker of the same pod is still removing it).
func (r *Runtime) startWorkerLocked(st *podState, sb podSandbox, after <-chan struct{}) {
	w := newPodWorker(r, st, sb, after)
	r.workers[string(st.Pod.UID)] = w
	r.wg.Go(w.run)
}

// forget drops a finished worker.
func (r *Runtime) forget(w *podWorker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.workers[w.uid] == w {
		delete(r.workers, w.uid)
	}
}

// Updates returns the channel of pod updates. They come as pods change
// (container started, exited, restarted, pod removed…), not on a timer,
// while Run runs; bursts are coalesced per pod. There is one channel: read
// it from one goroutine.
func (r *Runtime) Updates() <-chan PodUpdate { return r.updates.out }

// Used is the sum of the requests (api.PodRequests) of the pods this node
// runs and that have not finished: what the node must not offer again in
// the free resources it gossips. A pod being deleted counts until it is
// removed.
func (r *Runtime) Used() api.Resources {
	r.mu.Lock()
	ws := make([]*podWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	var sum api.Resources
	for _, w := range ws {
		s := w.snapshot()
		if s.terminal || s.removed {
			continue
		}
		sum = sum.Add(api.PodRequests(s.pod))
	}
	return sum
}

// LoadImage imports an OCI or docker archive into the node's image store
// (`gossipod image load`) and returns the references it added. Pods
// waiting for an image (ErrImageNeverPull, ImagePullBackOff) try again at
// once.
func (r *Runtime) LoadImage(rd io.Reader) ([]string, error) {
	refs, err := r.images.Load(rd)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	for _, w := range r.workers {
		w.imageArrived()
	}
	r.mu.Unlock()
	return refs, nil
}

// Images lists the images on this node (`gossipod image ls`).
func (r *Runtime) Images() []image.ImageInfo { return r.images.List() }

// sameDesire reports whether two versions of a pod ask the same of this
// node: same spec, same deletion. Versions with the same resourceVersion
// are the same; otherwise the specs are compared with Kubernetes' semantic
// equality, which compares quantities by value and nil and empty lists as
// the same.
func sameDesire(a, b *api.Pod) bool {
	if a == b || a.ResourceVersion != "" && a.ResourceVersion == b.ResourceVersion {
		return true
	}
	if !sameTime(a.DeletionTimestamp, b.DeletionTimestamp) ||
		!reflect.DeepEqual(a.DeletionGracePeriodSeconds, b.DeletionGracePeriodSeconds) {
		return false
	}
	return equality.Semantic.DeepEqual(a.Spec, b.Spec)
}

func sameTime(a, b *api.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}
