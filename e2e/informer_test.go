package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// informerNamespace holds the pods of TestInformerThroughLeaderChange.
const informerNamespace = "informer"

// TestInformerThroughLeaderChange is issue 11's "must show": a client-go program
// with a shared pod informer lists and watches through leader changes and sees every
// change exactly once and in order.
//
// The informer talks to one agent, X, the leader at first. A writer goroutine keeps
// creating, patching, updating and deleting pods through all agents that are up,
// before, during and after two leader changes of different kinds:
//
//  1. X is the leader and is cut off the network: the others elect a leader and take
//     writes while X, and the informer's watch on it, hear nothing; after the heal X
//     catches up and the same watch must deliver what it missed;
//  2. X is a follower and the leader is killed (SIGKILL), then started again;
//  3. X itself is stopped (it hands leadership over if it leads) and started again,
//     right after the informer got a deletion: the watch breaks, client-go watches
//     again from the last resourceVersion it saw, and must get neither a change
//     twice nor miss one made while X was down. Right after X is up again, the
//     list a reflector makes when it lists again must not return an older state
//     (checkRelist).
//
// Then every pod's events are judged by checkPodEvents against the writes the API
// acknowledged, and the informer's store must equal a fresh list from every agent,
// all three of which must agree on every pod's resourceVersion.
func TestInformerThroughLeaderChange(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	all := hostsExcept(c, -1)
	x := c.Index(waitFormed(t, c, 3, 0))
	t.Logf("the informer watches through %s, the leader", c.Name(x))

	clients := make([]kubernetes.Interface, c.N())
	for i := range c.N() {
		cfg := restConfig(t, c, i)
		cfg.Timeout = 5 * time.Second
		clients[i] = kubernetes.NewForConfigOrDie(cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := clients[x].CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: informerNamespace}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", informerNamespace, err)
	}

	inf := startPodInformer(ctx, t, restConfig(t, c, x))
	w := startPodWriter(clients, all)
	defer w.stop()
	w.waitAcked(t, 20)

	// 1. The informer's agent is the leader and is cut off.
	if l, err := commonLeader(c, all); err != nil || l != c.Name(x) {
		t.Fatalf("before the cut: leader %q (%v), want the informer's agent %s", l, err, c.Name(x))
	}
	others := hostsExcept(c, x)
	w.setTargets(others)
	c.Cut(x)
	healed := false
	defer func() {
		if !healed {
			c.Heal(x)
		}
	}()
	Eventually(t, electionTimeout, func() error {
		l, err := commonLeader(c, others)
		if err == nil && l == c.Name(x) {
			err = fmt.Errorf("the majority still follows the cut-off %s", l)
		}
		return err
	})
	w.waitAcked(t, 20)
	c.Heal(x)
	healed = true
	healedAt, target := time.Now(), w.lastRV()
	inf.waitSeen(t, target)
	t.Logf("cut of the leader %s: healed, the informer on it caught up to resourceVersion %d in %v",
		c.Name(x), target, inf.firstAtLeast(target).Sub(healedAt).Round(time.Millisecond))
	w.setTargets(all)
	w.waitAcked(t, 20)

	// 2. The informer's agent is a follower and the leader is killed.
	leader := waitLeaderNot(t, c, all, x)
	l := c.Index(leader)
	survivors := hostsExcept(c, l)
	w.setTargets(survivors)
	killedAt := time.Now()
	c.Kill(l)
	Eventually(t, electionTimeout, func() error {
		nl, err := commonLeader(c, survivors)
		if err == nil && nl == leader {
			err = fmt.Errorf("the survivors still follow the killed %s", leader)
		}
		return err
	})
	w.waitAcked(t, 20)
	inf.waitSeen(t, w.lastRV())
	next := w.firstSentAfter(killedAt)
	t.Logf("kill of the leader %s: the first write sent after the kill was acknowledged after %v and seen by the informer on follower %s after %v",
		leader, next.at.Sub(killedAt).Round(time.Millisecond), c.Name(x),
		inf.firstAtLeast(next.rv).Sub(killedAt).Round(time.Millisecond))
	c.Start(l)
	w.setTargets(all)
	w.waitAcked(t, 20)

	// 3. The informer's agent is stopped (handing leadership over if it leads) and
	// started again: its watch breaks, and client-go watches again from the
	// resourceVersion of the last event it got, made a deletion on purpose.
	role := "follower"
	if l, err := commonLeader(c, all); err == nil && l == c.Name(x) {
		role = "leader"
	}
	deleted := w.pauseAfterDelete(t)
	inf.waitDeleted(t, deleted)
	c.Stop(x)
	w.setTargets(hostsExcept(c, x))
	w.resume()
	w.waitAcked(t, 20)
	seen := inf.lastRV()
	c.Start(x)
	startedAt, target := time.Now(), w.lastRV()
	checkRelist(ctx, t, clients[x], seen)
	inf.waitSeen(t, target)
	t.Logf("restart of the informer's agent %s (%s): the informer caught up to resourceVersion %d %v after the agent was up again",
		c.Name(x), role, target, inf.firstAtLeast(target).Sub(startedAt).Round(time.Millisecond))
	w.setTargets(all)
	w.waitAcked(t, 20)

	w.stop()
	writes, acked, retried := w.result()
	final := inf.waitStoreMatches(t, clients)
	events, requests := inf.history()
	lists := 0 // the first list, then any re-list: watch-lists or plain lists
	for _, r := range requests {
		if strings.Contains(r, "sendInitialEvents=true") || !strings.Contains(r, "watch=true") {
			lists++
		}
	}
	t.Logf("%d acknowledged writes (%d attempts retried), %d informer events, %d pods at the end; informer requests: %v",
		acked, retried, len(events), len(final), requests)
	if acked < 100 {
		t.Errorf("only %d acknowledged writes: the churn did not run", acked)
	}
	for _, p := range checkPodEvents(events, writes, lists > 1) {
		t.Error(p)
	}
}

// restConfig is the admin kubeconfig of `gossipod kubeconfig`, loaded by client-go's
// clientcmd as any client-go program does, pointed at host i's agent.
func restConfig(t *testing.T, c *Cluster, i int) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatalf("load kubeconfig: %v", err)
	}
	cfg.Host = c.APIAddr(i)
	cfg.QPS, cfg.Burst = 100, 200
	return cfg
}

// checkRelist lists pods as client-go's reflector does when it lists again after a
// broken watch: at the last resourceVersion it saw, or newer. An agent that has just
// started may still be replaying its log; it must wait for its state to reach that
// version, or refuse with kube-apiserver's 504 "Too large resource version", never
// answer with an older state, which would send the informer back in time.
func checkRelist(ctx context.Context, t *testing.T, cs kubernetes.Interface, rv uint64) {
	t.Helper()
	list, err := cs.CoreV1().Pods(informerNamespace).List(ctx, metav1.ListOptions{
		ResourceVersion: strconv.FormatUint(rv, 10), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	switch {
	case apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge):
		t.Logf("list not older than %d on the just started agent: %v", rv, err)
	case err != nil:
		t.Errorf("list not older than %d on the just started agent: %v", rv, err)
	default:
		got, _ := strconv.ParseUint(list.ResourceVersion, 10, 64)
		if got < rv {
			t.Errorf("list not older than %d on the just started agent returned resourceVersion %q (%d pods): an older state",
				rv, list.ResourceVersion, len(list.Items))
		}
	}
}

// waitLeaderNot waits until the hosts in on agree on a leader other than host not;
// it cuts host not off and heals it again if that is what it takes, since only a
// leader change moves leadership (gossipod has no transfer command).
func waitLeaderNot(t *testing.T, c *Cluster, on []int, not int) string {
	t.Helper()
	for range 3 {
		var leader string
		Eventually(t, electionTimeout, func() error {
			var err error
			leader, err = commonLeader(c, on)
			return err
		})
		if leader != c.Name(not) {
			return leader
		}
		t.Logf("%s leads again after its heal; cutting it off once more", leader)
		c.Cut(not)
		Eventually(t, electionTimeout, func() error {
			l, err := commonLeader(c, hostsExcept(c, not))
			if err == nil && l == leader {
				err = fmt.Errorf("still led by the cut-off %s", l)
			}
			return err
		})
		c.Heal(not)
	}
	t.Fatalf("%s keeps winning the elections", c.Name(not))
	return ""
}

// podInformer is a client-go shared pod informer whose handlers record every call.
type podInformer struct {
	informer cache.SharedIndexInformer
	mu       sync.Mutex
	events   []podEvent
	maxRV    uint64
	requests []string // the informer's HTTP requests, method and URI
}

// startPodInformer starts a SharedInformerFactory's pod informer on the test's
// namespace with resync off, and waits for its first list.
func startPodInformer(ctx context.Context, t *testing.T, cfg *rest.Config) *podInformer {
	t.Helper()
	pi := &podInformer{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			pi.mu.Lock()
			pi.requests = append(pi.requests, r.Method+" "+r.URL.RequestURI())
			pi.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	factory := informers.NewSharedInformerFactoryWithOptions(kubernetes.NewForConfigOrDie(cfg), 0,
		informers.WithNamespace(informerNamespace))
	pi.informer = factory.Core().V1().Pods().Informer()
	_, err := pi.informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			e := eventOf("add", obj)
			e.Initial = initial
			pi.record(e)
		},
		UpdateFunc: func(old, obj any) {
			e := eventOf("update", obj)
			e.OldRV = eventOf("", old).RV
			pi.record(e)
		},
		DeleteFunc: func(obj any) {
			tomb, ok := obj.(cache.DeletedFinalStateUnknown)
			if ok {
				obj = tomb.Obj
			}
			e := eventOf("delete", obj)
			e.Tombstone = ok
			pi.record(e)
		},
	})
	if err != nil {
		t.Fatalf("add event handler: %v", err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(factory.Shutdown)
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), pi.informer.HasSynced) {
		_, requests := pi.history()
		t.Fatalf("pod informer not synced within 30s; requests: %v", requests)
	}
	return pi
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// eventOf makes the record of a handler call for a pod; a resourceVersion that is not a
// number is recorded as 0, which the checks then reject.
func eventOf(typ string, obj any) podEvent {
	e := podEvent{Type: typ, At: time.Now()}
	if p, ok := obj.(*corev1.Pod); ok {
		e.Name, e.UID = p.Name, string(p.UID)
		e.RV, _ = strconv.ParseUint(p.ResourceVersion, 10, 64)
	}
	return e
}

func (pi *podInformer) record(e podEvent) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	pi.events = append(pi.events, e)
	pi.maxRV = max(pi.maxRV, e.RV)
}

// waitDeleted waits until the handlers have seen the named pod deleted.
func (pi *podInformer) waitDeleted(t *testing.T, name string) {
	t.Helper()
	Eventually(t, repairTimeout, func() error {
		pi.mu.Lock()
		defer pi.mu.Unlock()
		if !slices.ContainsFunc(pi.events, func(e podEvent) bool { return e.Type == "delete" && e.Name == name }) {
			return fmt.Errorf("the informer has not seen %s deleted", name)
		}
		return nil
	})
}

// lastRV is the highest resourceVersion the handlers have seen.
func (pi *podInformer) lastRV() uint64 {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return pi.maxRV
}

// waitSeen waits until the handlers have seen resourceVersion rv or a later one.
func (pi *podInformer) waitSeen(t *testing.T, rv uint64) {
	t.Helper()
	Eventually(t, repairTimeout, func() error {
		if got := pi.lastRV(); got < rv {
			return fmt.Errorf("the informer has seen up to resourceVersion %d, want %d", got, rv)
		}
		return nil
	})
}

// firstAtLeast is when the handlers first saw a resourceVersion of rv or later.
func (pi *podInformer) firstAtLeast(rv uint64) time.Time {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	for _, e := range pi.events {
		if e.RV >= rv {
			return e.At
		}
	}
	return time.Time{}
}

// history returns copies of the recorded events and requests.
func (pi *podInformer) history() ([]podEvent, []string) {
	pi.mu.Lock()
	defer pi.mu.Unlock()
	return slices.Clone(pi.events), slices.Clone(pi.requests)
}

// waitStoreMatches waits until a fresh (consistent) list returns the same pods at
// the same resourceVersions from every agent, and the informer's store holds exactly
// those, and fails the test if that does not happen. It returns the final pods by
// name.
func (pi *podInformer) waitStoreMatches(t *testing.T, clients []kubernetes.Interface) map[string]string {
	t.Helper()
	var want map[string]string
	Eventually(t, repairTimeout, func() error {
		for i, cs := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			list, err := cs.CoreV1().Pods(informerNamespace).List(ctx, metav1.ListOptions{})
			cancel()
			if err != nil {
				return fmt.Errorf("list pods on host%d: %w", i, err)
			}
			got := map[string]string{}
			for _, p := range list.Items {
				got[p.Name] = p.ResourceVersion
			}
			// The leader may still be writing (the pods' scheduling status), so
			// lists taken one after the other can differ for a while; they must
			// agree once it is done.
			if i == 0 {
				want = got
			} else if !maps.Equal(got, want) {
				return fmt.Errorf("host%d lists %v, host0 lists %v", i, got, want)
			}
		}
		store := map[string]string{}
		for _, obj := range pi.informer.GetStore().List() {
			p := obj.(*corev1.Pod)
			store[p.Name] = p.ResourceVersion
		}
		if !maps.Equal(store, want) {
			return fmt.Errorf("informer store %v, fresh list %v", store, want)
		}
		return nil
	})
	return want
}

// podWriter churns pods in the test namespace from a goroutine: step k creates pod
// k, patches a label of pod k-1, updates an annotation of pod k-2 (read, then write
// with its resourceVersion) and deletes pod k-3, except every fifth pod, which stays.
// Each write goes to the next of the current target agents and is retried, on the
// next target, until the API acknowledges it; what was acknowledged is recorded.
type podWriter struct {
	clients []kubernetes.Interface
	targets atomic.Pointer[[]int]
	next    atomic.Int64
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
	// attemptAt is when the current attempt started; only run's goroutine
	// uses it.
	attemptAt time.Time
	// holdAfterDelete asks run to stop after its next delete, send the pod's
	// name on held and wait for resumed.
	holdAfterDelete atomic.Bool
	held, resumed   chan string

	mu      sync.Mutex
	pods    map[string]*podWrites
	acks    []podAck
	retried int
	maxRV   uint64
}

// podAck is an acknowledged write: its resourceVersion, when its (last) attempt was
// sent and when it was acknowledged.
type podAck struct {
	rv       uint64
	sent, at time.Time
}

func startPodWriter(clients []kubernetes.Interface, targets []int) *podWriter {
	w := &podWriter{clients: clients, pods: map[string]*podWrites{},
		quit: make(chan struct{}), done: make(chan struct{}),
		held: make(chan string), resumed: make(chan string)}
	w.setTargets(targets)
	go w.run()
	return w
}

// setTargets names the hosts the next writes go to.
func (w *podWriter) setTargets(hosts []int) { w.targets.Store(&hosts) }

// pauseAfterDelete makes the writer stop right after its next acknowledged delete,
// and returns the name of the deleted pod. resume lets it go on.
func (w *podWriter) pauseAfterDelete(t *testing.T) string {
	t.Helper()
	w.holdAfterDelete.Store(true)
	select {
	case name := <-w.held:
		return name
	case <-time.After(repairTimeout):
		t.Fatalf("the writer made no delete within %v", repairTimeout)
		return ""
	}
}

// resume lets a writer paused by pauseAfterDelete go on.
func (w *podWriter) resume() { w.resumed <- "" }

// stop ends the churn after the write in progress and waits for it.
func (w *podWriter) stop() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

func (w *podWriter) run() {
	defer close(w.done)
	name := func(k int) string { return fmt.Sprintf("churn-%03d", k) }
	for k := 0; ; k++ {
		ok := w.create(name(k))
		if ok && k >= 1 {
			ok = w.patch(name(k-1), k)
		}
		if ok && k >= 2 {
			ok = w.update(name(k-2), k)
		}
		if ok && k >= 3 && (k-3)%5 != 0 {
			ok = w.remove(name(k - 3))
			if ok && w.holdAfterDelete.CompareAndSwap(true, false) {
				select {
				case w.held <- name(k - 3):
					// A test that fails while the writer is held stops it
					// without resuming it first.
					select {
					case <-w.resumed:
					case <-w.quit:
						return
					}
				case <-w.quit:
					return
				}
			}
		}
		if !ok {
			return
		}
	}
}

// attempt runs write on the next target agent until it reports done, and reports
// false if the writer was stopped first.
func (w *podWriter) attempt(write func(ctx context.Context, cs kubernetes.Interface, retry bool) (done bool)) bool {
	for retry := false; ; retry = true {
		select {
		case <-w.quit:
			return false
		default:
		}
		hosts := *w.targets.Load()
		cs := w.clients[hosts[int(w.next.Add(1))%len(hosts)]]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		w.attemptAt = time.Now()
		done := write(ctx, cs, retry)
		cancel()
		if done {
			return true
		}
		w.mu.Lock()
		w.retried++
		w.mu.Unlock()
		select {
		case <-w.quit:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ack records an acknowledged write of the named pod.
func (w *podWriter) ack(name string, p *corev1.Pod) {
	rv, err := strconv.ParseUint(p.ResourceVersion, 10, 64)
	w.mu.Lock()
	defer w.mu.Unlock()
	pw := w.pods[name]
	if pw.UID == "" && len(pw.RVs) == 0 {
		pw.UID = string(p.UID)
	}
	if err != nil {
		rv = 0 // the checks reject it: no event has resourceVersion 0
	}
	pw.RVs = append(pw.RVs, rv)
	w.acks = append(w.acks, podAck{rv: rv, sent: w.attemptAt, at: time.Now()})
	w.maxRV = max(w.maxRV, rv)
}

func (w *podWriter) create(name string) bool {
	w.mu.Lock()
	w.pods[name] = &podWrites{}
	w.mu.Unlock()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "churn"}},
		Spec: corev1.PodSpec{
			// No node has this label: the pods stay Pending and unbound, so they
			// cost no containers and their deletion is immediate.
			NodeSelector: map[string]string{"gossipod.e2e/nowhere": "true"},
			Containers:   []corev1.Container{{Name: "app", Image: "localhost/busybox:latest", Command: []string{"sleep", "3600"}}},
		},
	}
	return w.attempt(func(ctx context.Context, cs kubernetes.Interface, retry bool) bool {
		p, err := cs.CoreV1().Pods(informerNamespace).Create(ctx, pod, metav1.CreateOptions{})
		switch {
		case err == nil:
			w.ack(name, p)
			return true
		case retry && apierrors.IsAlreadyExists(err):
			return true // an earlier attempt went through unacknowledged
		}
		return false
	})
}

func (w *podWriter) patch(name string, step int) bool {
	body := fmt.Appendf(nil, `{"metadata":{"labels":{"step":"%d"}}}`, step)
	return w.attempt(func(ctx context.Context, cs kubernetes.Interface, _ bool) bool {
		p, err := cs.CoreV1().Pods(informerNamespace).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{})
		if err != nil {
			return false
		}
		w.ack(name, p)
		return true
	})
}

func (w *podWriter) update(name string, step int) bool {
	return w.attempt(func(ctx context.Context, cs kubernetes.Interface, _ bool) bool {
		p, err := cs.CoreV1().Pods(informerNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations["churn/step"] = strconv.Itoa(step)
		p, err = cs.CoreV1().Pods(informerNamespace).Update(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			return false // a conflict included: read again and retry
		}
		w.ack(name, p)
		return true
	})
}

func (w *podWriter) remove(name string) bool {
	w.mu.Lock()
	w.pods[name].DeleteTried = true
	w.mu.Unlock()
	return w.attempt(func(ctx context.Context, cs kubernetes.Interface, retry bool) bool {
		err := cs.CoreV1().Pods(informerNamespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !(retry && apierrors.IsNotFound(err)) {
			return false
		}
		w.mu.Lock()
		w.pods[name].Deleted = true
		w.mu.Unlock()
		return true
	})
}

// waitAcked waits for n more acknowledged writes.
func (w *podWriter) waitAcked(t *testing.T, n int) {
	t.Helper()
	w.mu.Lock()
	want := len(w.acks) + n
	w.mu.Unlock()
	Eventually(t, repairTimeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.acks) < want {
			return fmt.Errorf("%d writes acknowledged, want %d (%d attempts retried)", len(w.acks), want, w.retried)
		}
		return nil
	})
}

// lastRV is the highest resourceVersion of an acknowledged write.
func (w *podWriter) lastRV() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxRV
}

// firstSentAfter is the first acknowledged write that was sent after t.
func (w *podWriter) firstSentAfter(t time.Time) podAck {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acks {
		if a.sent.After(t) {
			return a
		}
	}
	return podAck{}
}

// result returns what the writer did, once stopped: the writes per pod, the number
// of acknowledged writes and of retried attempts.
func (w *podWriter) result() (map[string]*podWrites, int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pods, len(w.acks), w.retried
}
