package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Bounds of the Deployment tests: hang detectors, not performance targets (the
// benchmarks in bench_deployments_test.go measure the speed).
const (
	// settleTimeout bounds a Deployment's convergence to its spec with the image
	// present: placement, sandbox and container start of a handful of pods.
	settleTimeout = 90 * time.Second
	// recoverTimeout bounds the replacement of a lost host's replicas: gossip's
	// detection, --node-lost-timeout (10 s) and the new pods' start.
	recoverTimeout = 45 * time.Second
	// sampleEvery is how often the availability monitor reads the pods.
	sampleEvery = 100 * time.Millisecond
	// maxSampleGap is the longest the monitor may go without a good sample: a
	// longer gap would hide a dip in availability.
	maxSampleGap = 5 * time.Second
)

// Deployment is the part of an apps/v1 Deployment (`get deployments NAME -o json`)
// the tests read, decoded from the wire format as NodeList and PodList are.
type Deployment struct {
	Metadata struct {
		Name       string `json:"name"`
		UID        string `json:"uid"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration int64 `json:"observedGeneration"`
		Replicas           int   `json:"replicas"`
		UpdatedReplicas    int   `json:"updatedReplicas"`
		ReadyReplicas      int   `json:"readyReplicas"`
		AvailableReplicas  int   `json:"availableReplicas"`
	} `json:"status"`
}

// DeploymentPod is a pod as the Deployment tests read it: with its labels, owner,
// deletion mark and failure reason, which Pod leaves out.
type DeploymentPod struct {
	Metadata struct {
		Name              string            `json:"name"`
		Namespace         string            `json:"namespace"`
		UID               string            `json:"uid"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
		OwnerReferences   []struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase      string         `json:"phase"`
		Reason     string         `json:"reason"`
		Conditions []PodCondition `json:"conditions"`
	} `json:"status"`
}

// Hash is the pod's pod-template-hash label: which template it runs.
func (p DeploymentPod) Hash() string { return p.Metadata.Labels["pod-template-hash"] }

// OwnedBy reports whether the pod is Deployment name's: its owner is the
// ReplicaSet the Deployment made for the pod's template,
// <name>-<pod-template-hash>, or (a pod stored before ReplicaSets) the
// Deployment itself.
func (p DeploymentPod) OwnedBy(name string) bool {
	for _, o := range p.Metadata.OwnerReferences {
		if o.Kind == "Deployment" && o.Name == name || o.Kind == "ReplicaSet" && o.Name == name+"-"+p.Hash() {
			return true
		}
	}
	return false
}

// Terminating reports a pod being deleted (its node has not confirmed yet).
func (p DeploymentPod) Terminating() bool { return p.Metadata.DeletionTimestamp != "" }

// Finished reports a pod that ended: Succeeded, or Failed (NodeLost among others).
func (p DeploymentPod) Finished() bool {
	return p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed"
}

// Available is Kubernetes' availability of a Deployment's pod (minReadySeconds 0):
// Running, Ready, and not being deleted.
func (p DeploymentPod) Available() bool {
	if p.Terminating() || p.Status.Phase != "Running" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// String is a one-line summary for failure messages.
func (p DeploymentPod) String() string {
	s := fmt.Sprintf("%s(%s on %q", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName)
	if p.Status.Reason != "" {
		s += " " + p.Status.Reason
	}
	if p.Terminating() {
		s += " terminating"
	}
	if p.Status.Phase == "Running" && !p.Available() {
		s += " not ready"
	}
	return s + ")"
}

// errNotFound is apiGet's error for a 404.
var errNotFound = errors.New("not found")

// apiGet decodes the JSON answer to GET path from host i's API. It does not touch the
// test, so a monitoring goroutine may call it; host i must be a valid index.
func (c *Cluster) apiGet(i int, path string, v any) error {
	resp, err := c.client.Get(c.net.hosts[i].apiURL() + path)
	if err != nil {
		return fmt.Errorf("%s: %w", c.hosts[i].name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s: GET %s: %w", c.hosts[i].name, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: GET %s: %w: %s", c.hosts[i].name, path, errNotFound, body)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: GET %s: %s: %s", c.hosts[i].name, path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: GET %s: decode: %w", c.hosts[i].name, path, err)
	}
	return nil
}

// apiURL is the base URL of a host's API, computed without the test (for goroutines).
func (h netHost) apiURL() string { return fmt.Sprintf("https://%s:%d", h.ip, APIPort) }

// GetDeployment reads Deployment name (default namespace) from host i's replica.
func (c *Cluster) GetDeployment(i int, name string) (Deployment, error) {
	var d Deployment
	err := c.apiGet(i, "/apis/apps/v1/namespaces/default/deployments/"+url.PathEscape(name), &d)
	return d, err
}

// DeploymentPods lists the pods Deployment name controls in host i's replica,
// whatever their phase, sorted by name. Their UIDs are remembered for the final
// leftover check.
func (c *Cluster) DeploymentPods(i int, name string) ([]DeploymentPod, error) {
	var list struct {
		Items []DeploymentPod `json:"items"`
	}
	if err := c.apiGet(i, "/api/v1/namespaces/default/pods", &list); err != nil {
		return nil, err
	}
	var out []DeploymentPod
	for _, p := range list.Items {
		if p.OwnedBy(name) {
			out = append(out, p)
		}
	}
	c.trackDeploymentPods(out...)
	slices.SortFunc(out, func(a, b DeploymentPod) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	return out, nil
}

// trackDeploymentPods hands the pods' UIDs to the pod helpers' bookkeeping, so that
// CleanupPods checks that nothing of them is left on the machine.
func (c *Cluster) trackDeploymentPods(pods ...DeploymentPod) {
	for _, dp := range pods {
		var p Pod
		p.Metadata.Name, p.Metadata.Namespace, p.Metadata.UID = dp.Metadata.Name, dp.Metadata.Namespace, dp.Metadata.UID
		c.track(p)
	}
}

// deploymentManifest is a busybox httpd Deployment like examples/deployment.yaml:
// name, replicas, 25% surge and unavailability, and an env var VERSION whose change
// rolls the pods. busybox httpd, as its container's PID 1, ignores SIGTERM, so the
// pods get 2 s rather than the default 30 s to stop, as a server that handles SIGTERM
// would take.
func deploymentManifest(name string, replicas int, version string) string {
	return slowDeploymentManifest(name, replicas, version, 0)
}

// slowDeploymentManifest is deploymentManifest whose pods, when startSeconds > 0,
// first run an init container that sleeps that long, so that each new pod takes
// a while to become available, as a real server's start-up does, and a rollout
// takes several steps of the controller.
func slowDeploymentManifest(name string, replicas int, version string, startSeconds int) string {
	init := ""
	if startSeconds > 0 {
		init = fmt.Sprintf(`
      initContainers:
      - name: start-up
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sleep", "%d"]`, startSeconds)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels:
      app: %[1]s
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%%
      maxUnavailable: 25%%
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      terminationGracePeriodSeconds: 2%[4]s
      containers:
      - name: httpd
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["httpd", "-f", "-p", "8080"]
        env:
        - name: VERSION
          value: "%[3]s"
        resources:
          requests:
            cpu: 50m
            memory: 16Mi
`, name, replicas, version, init)
}

// settled is nil when Deployment name, as host i sees it, has converged to n
// replicas: exactly n pods, every one available, of one template (and not of the
// template hash notHash, when given), none terminating or finished; and a status that
// says so for the current generation. It returns the pods.
func (c *Cluster) settled(i int, name string, n int, notHash string) ([]DeploymentPod, error) {
	d, err := c.GetDeployment(i, name)
	if err != nil {
		return nil, err
	}
	pods, err := c.DeploymentPods(i, name)
	if err != nil {
		return nil, err
	}
	if len(pods) != n {
		return pods, fmt.Errorf("%s: %d pods of %s, want %d: %v", c.Name(i), len(pods), name, n, pods)
	}
	hashes := map[string]bool{}
	for _, p := range pods {
		if !p.Available() {
			return pods, fmt.Errorf("%s: pod %v of %s is not available: %v", c.Name(i), p, name, pods)
		}
		hashes[p.Hash()] = true
	}
	if len(hashes) != 1 || hashes[notHash] {
		return pods, fmt.Errorf("%s: pods of %s have template hashes %v, want one, not %q: %v", c.Name(i), name, slices.Sorted(maps.Keys(hashes)), notHash, pods)
	}
	st := d.Status
	if st.ObservedGeneration < d.Metadata.Generation || st.Replicas != n || st.UpdatedReplicas != n || st.AvailableReplicas != n || st.ReadyReplicas != n {
		return pods, fmt.Errorf("%s: deployment %s generation %d has status %+v, want generation observed and %d replicas, all updated, ready and available",
			c.Name(i), name, d.Metadata.Generation, st, n)
	}
	return pods, nil
}

// WaitSettled waits until Deployment name has settled to n replicas as host i sees it
// (see settled), and returns its pods.
func (c *Cluster) WaitSettled(i int, name string, n int, notHash string, timeout time.Duration) []DeploymentPod {
	c.t.Helper()
	var pods []DeploymentPod
	Eventually(c.t, timeout, func() error {
		var err error
		pods, err = c.settled(i, name, n, notHash)
		return err
	})
	return pods
}

// podsByNode counts pods per node name.
func podsByNode(pods []DeploymentPod) map[string]int {
	m := map[string]int{}
	for _, p := range pods {
		m[p.Spec.NodeName]++
	}
	return m
}

// uidsOf returns the pods' UIDs.
func uidsOf(pods []DeploymentPod) []string {
	var uids []string
	for _, p := range pods {
		uids = append(uids, p.Metadata.UID)
	}
	return uids
}

// leaderIndex waits until the hosts in on agree on a leader and returns its index.
func leaderIndex(t testing.TB, c *Cluster, on []int) int {
	t.Helper()
	var leader string
	Eventually(t, electionTimeout, func() error {
		var err error
		leader, err = commonLeader(c, on)
		return err
	})
	return c.Index(leader)
}

// CleanupDeployments registers, to run before CleanupPods' deletion of every pod, the
// deletion of every Deployment (through the first agent that answers), so that no
// controller replaces the pods CleanupPods deletes. Call it right after CleanupPods.
// The Deployments' pods are then deleted by force: a pod deleted with its Deployment
// gets its own grace period (30 s by default, which busybox's PID 1 sits out), and a
// later, shorter delete does not shorten it; CleanupPods still checks that nothing of
// them is left on the hosts.
func (c *Cluster) CleanupDeployments() {
	c.t.Cleanup(func() {
		c.t.Helper()
		if err := c.deleteAllDeployments(); err != nil {
			c.t.Errorf("clean up deployments: %v", err)
		}
	})
}

// deleteAllDeployments deletes every Deployment, and then its pods at once, through
// the first agent that lists them.
func (c *Cluster) deleteAllDeployments() error {
	var errs []error
	for i := range c.N() {
		if !c.Running(i) {
			continue
		}
		var list struct {
			Items []Deployment `json:"items"`
		}
		if err := c.apiGet(i, "/apis/apps/v1/deployments", &list); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range list.Items {
			name := d.Metadata.Name
			if res := c.RunOn(i, "delete", "deployment", name, "--wait=false", "--ignore-not-found"); res.Err() != nil {
				errs = append(errs, res.Err())
				continue
			}
			pods, err := c.DeploymentPods(i, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if len(pods) == 0 {
				continue
			}
			args := []string{"delete", "pods", "--force", "--grace-period", "0", "--ignore-not-found"}
			for _, p := range pods {
				args = append(args, p.Metadata.Name)
			}
			if res := c.RunOn(i, args...); res.Err() != nil {
				errs = append(errs, res.Err())
			}
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("no running agent lists the deployments: %w", errors.Join(errs...))
}

// availabilityMonitor samples, from a goroutine, how many pods of one Deployment are
// available, through the first of its hosts that answers, and remembers the lowest
// count and every sample below the floor.
type availabilityMonitor struct {
	c     *Cluster
	name  string
	floor int
	hosts []int
	stop  chan struct{}
	done  chan struct{}

	// Written by the goroutine, read after done is closed.
	samples    int
	failed     int
	lowest     int
	lowestAt   string // the sample's pods, for the report
	below      []string
	maxGap     time.Duration
	lastErr    error
	start, end time.Time
}

// MonitorAvailable starts sampling Deployment name's available pods every
// sampleEvery through the hosts in via (the first that answers), expecting at least
// floor. Finish stops it and fails the test on any sample below floor.
func (c *Cluster) MonitorAvailable(name string, floor int, via []int) *availabilityMonitor {
	for _, i := range via {
		c.host(i) // check indexes on the test goroutine
	}
	m := &availabilityMonitor{c: c, name: name, floor: floor, hosts: slices.Clone(via),
		stop: make(chan struct{}), done: make(chan struct{}), lowest: -1}
	c.t.Cleanup(m.halt)
	go m.run()
	return m
}

func (m *availabilityMonitor) run() {
	defer close(m.done)
	m.start = time.Now()
	last := m.start
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		if n, pods, err := m.sample(); err != nil {
			m.failed++
			m.lastErr = err
		} else {
			now := time.Now()
			m.maxGap = max(m.maxGap, now.Sub(last))
			last = now
			m.samples++
			if m.lowest < 0 || n < m.lowest {
				m.lowest, m.lowestAt = n, fmt.Sprint(pods)
			}
			if n < m.floor && len(m.below) < 10 {
				m.below = append(m.below, fmt.Sprintf("%s: %d available: %v", now.Format("15:04:05.000"), n, pods))
			}
		}
		select {
		case <-m.stop:
			m.end = time.Now()
			m.maxGap = max(m.maxGap, m.end.Sub(last))
			return
		case <-tick.C:
		}
	}
}

// sample counts the available pods through the first host that answers.
func (m *availabilityMonitor) sample() (int, []DeploymentPod, error) {
	var errs []error
	for _, i := range m.hosts {
		var list struct {
			Items []DeploymentPod `json:"items"`
		}
		// The agent's own replica (resourceVersion=0): a consistent read needs a
		// leader, and the monitor must go on sampling through an election.
		if err := m.c.apiGet(i, "/api/v1/namespaces/default/pods?resourceVersion=0", &list); err != nil {
			errs = append(errs, err)
			continue
		}
		n := 0
		var pods []DeploymentPod
		for _, p := range list.Items {
			if p.OwnedBy(m.name) {
				pods = append(pods, p)
				if p.Available() {
					n++
				}
			}
		}
		m.c.trackDeploymentPods(pods...)
		return n, pods, nil
	}
	return 0, nil, errors.Join(errs...)
}

// halt stops the goroutine and waits for it; calling it again is harmless.
func (m *availabilityMonitor) halt() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// Finish stops the monitor and fails the test if any sample was below the floor, if
// there were no samples, or if samples were missing for longer than maxSampleGap.
func (m *availabilityMonitor) Finish(t testing.TB) {
	t.Helper()
	m.halt()
	t.Logf("availability of %s: %d samples over %v (%d failed reads, longest gap %v), lowest %d available (floor %d)",
		m.name, m.samples, m.end.Sub(m.start).Round(time.Millisecond), m.failed, m.maxGap.Round(time.Millisecond), m.lowest, m.floor)
	if m.samples == 0 {
		t.Fatalf("availability of %s: no sample succeeded; last error: %v", m.name, m.lastErr)
	}
	if len(m.below) > 0 {
		t.Errorf("availability of %s dropped below replicas − maxUnavailable = %d:\n  %s", m.name, m.floor, strings.Join(m.below, "\n  "))
	}
	if m.maxGap > maxSampleGap {
		t.Errorf("availability of %s went unsampled for %v (> %v); last read error: %v", m.name, m.maxGap, maxSampleGap, m.lastErr)
	}
}

// podEventLog records, from a goroutine, the pod watch stream of one host: for every
// pod UID, the phases, reasons and deletion it went through.
type podEventLog struct {
	mu     sync.Mutex
	events map[string][]string // UID -> "MODIFIED Failed/NodeLost", "DELETED", ...
	errs   []string
	cancel context.CancelFunc
	done   chan struct{}
}

// WatchPods starts following `GET /api/v1/namespaces/default/pods?watch=1` on host
// i, reconnecting if the stream ends, until the test ends or Stop is called.
func (c *Cluster) WatchPods(i int) *podEventLog {
	c.host(i)
	ctx, cancel := context.WithCancel(context.Background())
	l := &podEventLog{events: map[string][]string{}, cancel: cancel, done: make(chan struct{})}
	client := c.stream // no timeout: a stream
	base := c.net.hosts[i].apiURL()
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			err := l.follow(ctx, client, base+"/api/v1/namespaces/default/pods?watch=1")
			if ctx.Err() != nil {
				return
			}
			l.mu.Lock()
			l.errs = append(l.errs, fmt.Sprintf("%s: watch ended: %v", time.Now().Format("15:04:05.000"), err))
			l.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	c.t.Cleanup(l.Stop)
	return l
}

func (l *podEventLog) follow(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev struct {
			Type   string        `json:"type"`
			Object DeploymentPod `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decode event %q: %w", sc.Text(), err)
		}
		p := ev.Object
		entry := ev.Type
		if ev.Type != "DELETED" {
			entry += " " + p.Status.Phase
			if p.Status.Reason != "" {
				entry += "/" + p.Status.Reason
			}
			if p.Terminating() {
				entry += " terminating"
			}
		}
		l.mu.Lock()
		if evs := l.events[p.Metadata.UID]; len(evs) == 0 || evs[len(evs)-1] != entry {
			l.events[p.Metadata.UID] = append(evs, entry)
		}
		l.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// Stop ends the watch and waits for its goroutine; calling it again is harmless.
func (l *podEventLog) Stop() {
	l.cancel()
	<-l.done
}

// Of returns the events recorded for a pod UID so far.
func (l *podEventLog) Of(uid string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events[uid])
}

// Errors returns the times the stream ended and why.
func (l *podEventLog) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// TestDeploymentSurvivesPartition is issue 6's first must-show: a 4-replica
// Deployment spread over 3 hosts; one host (a follower, so the majority keeps its
// leader) is cut off the network with its agent still running. Within recoverTimeout
// 4 replicas run on the other two hosts; the cut-off host's pods are marked Failed
// with reason NodeLost and then removed from the API. When the partition heals, the
// cut-off host stops its stale pods (no process, mount or cgroup of them remains) and
// exactly 4 pods of the Deployment run, all Running, as every agent sees it.
func TestDeploymentSurvivesPartition(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	leader := c.Index(waitFormed(t, c, 3, 0))
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name, replicas = "web", 4
	c.MustApply(leader, example(t, "deployment.yaml"))
	before := c.WaitSettled(leader, name, replicas, "", settleTimeout)
	spread := podsByNode(before)
	t.Logf("%d replicas of %s per node: %v", replicas, name, spread)
	if len(spread) < 2 {
		t.Fatalf("all %d replicas run on one host, want them spread: %v", replicas, before)
	}

	// The victim: the follower running the most replicas.
	victim := -1
	for i := range c.N() {
		if i != leader && (victim < 0 || spread[c.Name(i)] > spread[c.Name(victim)]) {
			victim = i
		}
	}
	if spread[c.Name(victim)] == 0 {
		t.Fatalf("no follower runs a replica: %v", spread)
	}
	var stale []DeploymentPod
	for _, p := range before {
		if p.Spec.NodeName == c.Name(victim) {
			stale = append(stale, p)
		}
	}
	survivors := hostsExcept(c, victim)
	events := c.WatchPods(leader)

	c.Cut(victim)
	cut := time.Now()
	healed := false
	t.Cleanup(func() {
		if !healed {
			c.Heal(victim) // so that the cleanups can reach it
		}
	})
	t.Logf("cut off %s, which runs %v", c.Name(victim), stale)

	// The survivors run 4 replicas again, on themselves.
	var replaced []DeploymentPod
	Eventually(t, recoverTimeout, func() error {
		pods, err := c.DeploymentPods(leader, name)
		if err != nil {
			return err
		}
		replaced = replaced[:0]
		for _, p := range pods {
			if p.Spec.NodeName != c.Name(victim) && p.Status.Phase == "Running" && !p.Terminating() {
				replaced = append(replaced, p)
			}
		}
		if len(replaced) != replicas {
			return fmt.Errorf("%d pods of %s Running on %s, want %d: %v", len(replaced), name, names(c, survivors), replicas, pods)
		}
		return nil
	})
	t.Logf("%d replicas Running on %s %v after the cut", replicas, names(c, survivors), time.Since(cut).Round(100*time.Millisecond))

	// The cut-off host's pods went through Failed (NodeLost) and are gone from the API.
	Eventually(t, recoverTimeout, func() error {
		pods, err := c.DeploymentPods(leader, name)
		if err != nil {
			return err
		}
		for _, s := range stale {
			for _, p := range pods {
				if p.Metadata.UID == s.Metadata.UID {
					return fmt.Errorf("pod %v of the cut-off host is still in the API", p)
				}
			}
			evs := events.Of(s.Metadata.UID)
			lost := slices.Index(evs, "MODIFIED Failed/NodeLost")
			deleted := slices.Index(evs, "DELETED")
			if lost < 0 || deleted < lost {
				return fmt.Errorf("pod %s of the cut-off host went through %v, want MODIFIED Failed/NodeLost, then DELETED (watch errors: %v)",
					s.Metadata.Name, evs, events.Errors())
			}
		}
		return nil
	})
	// The cut-off host cannot know its pods were replaced; whether it still runs
	// them is not asserted, but those processes (the /pause included) must be gone
	// after the heal.
	var staleProcs []proc
	for _, s := range stale {
		ps := processesInPodCgroup(s.Metadata.UID)
		staleProcs = append(staleProcs, ps...)
		var desc []string
		for _, pr := range ps {
			desc = append(desc, fmt.Sprintf("%d %q", pr.pid, pr.cmdline))
		}
		t.Logf("while cut off, %s still runs %d processes of its pod %s: %v", c.Name(victim), len(ps), s.Metadata.Name, desc)
	}

	c.Heal(victim)
	healed = true
	healedAt := time.Now()
	c.WaitNoLeftovers(uidsOf(stale)...)
	t.Logf("%s stopped its %d stale pods %v after the heal", c.Name(victim), len(stale), time.Since(healedAt).Round(100*time.Millisecond))

	// Exactly 4 run, as every agent (the healed one included) sees it, and it stays so.
	for _, i := range hostsExcept(c, -1) {
		c.WaitSettled(i, name, replicas, "", settleTimeout)
	}
	for range 6 {
		time.Sleep(500 * time.Millisecond)
		for _, i := range hostsExcept(c, -1) {
			if _, err := c.settled(i, name, replicas, ""); err != nil {
				t.Fatalf("after the heal: %v", err)
			}
		}
	}
	if err := c.LeftoversOf(uidsOf(stale)...); err != nil {
		t.Fatalf("stale pods came back: %v", err)
	}
	for _, pr := range staleProcs {
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pr.pid)); err == nil &&
			strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")) == pr.cmdline {
			t.Errorf("process %d %q of a stale pod still runs after the heal", pr.pid, pr.cmdline)
		}
	}
}

// TestRolloutSurvivesLeaderKill is issue 6's second must-show: the leader is
// SIGKILLed while it rolls a 6-replica Deployment (25% surge, 25% unavailable) to a new
// template. A new leader is elected and the killed agent is restarted (as systemd
// would, so its node, whose pods survive the agent, is not lost meanwhile). Each pod
// takes 2 s to start (an init container), so that the rollout takes several steps and
// the kill lands in its middle. The rollout completes under the new leader: every pod runs the new template and the
// status says updated = available = replicas; and a monitor sampling the pods through
// the other agents throughout never sees fewer than replicas − maxUnavailable = 5
// available.
func TestRolloutSurvivesLeaderKill(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	leader := c.Index(waitFormed(t, c, 3, 0))
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name, replicas, floor = "roll", 6, 5 // maxUnavailable: 25% of 6, rounded down
	const startSeconds = 2                     // each pod's start-up time
	others := hostsExcept(c, leader)
	c.MustApply(others[0], slowDeploymentManifest(name, replicas, "1", startSeconds))
	v1 := c.WaitSettled(others[0], name, replicas, "", settleTimeout)
	oldHash := v1[0].Hash()
	t.Logf("v1 (%s) runs %v; leader is %s", oldHash, podsByNode(v1), c.Name(leader))

	monitor := c.MonitorAvailable(name, floor, others)
	c.MustApply(others[0], slowDeploymentManifest(name, replicas, "2", startSeconds))

	// Kill the leader as soon as the rollout is under way: a pod of the new template
	// exists while pods of the old one still run.
	var atKill []DeploymentPod
	for deadline := time.Now().Add(settleTimeout); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rollout did not start within %v: %v", settleTimeout, atKill)
		}
		pods, err := c.DeploymentPods(others[0], name)
		if err != nil {
			continue
		}
		atKill = pods
		newPods, oldPods := 0, 0
		for _, p := range pods {
			switch {
			case p.Terminating() || p.Finished():
			case p.Hash() == oldHash:
				oldPods++
			default:
				newPods++
			}
		}
		if newPods > 0 && oldPods > 0 {
			break
		}
	}
	c.Kill(leader)
	t.Logf("killed leader %s during the rollout; pods then: %v", c.Name(leader), atKill)

	newLeader := ""
	Eventually(t, electionTimeout, func() error {
		l, err := commonLeader(c, others)
		if err == nil && l == c.Name(leader) {
			err = fmt.Errorf("%v still follow the killed %s", names(c, others), l)
		}
		newLeader = l
		return err
	})
	t.Logf("new leader: %s", newLeader)
	c.Start(leader)

	res := c.RunOn(others[1], "rollout", "status", "deployment", name, "--timeout", settleTimeout.String())
	if err := res.Err(); err != nil {
		t.Fatalf("rollout status: %v", err)
	}
	if !strings.Contains(res.Stdout, "successfully rolled out") {
		t.Errorf("rollout status did not report success:\n%s", res)
	}
	v2 := c.WaitSettled(others[1], name, replicas, oldHash, settleTimeout)
	monitor.Finish(t)
	t.Logf("v2 (%s) runs %v", v2[0].Hash(), podsByNode(v2))
	for _, i := range hostsExcept(c, -1) {
		c.WaitSettled(i, name, replicas, oldHash, settleTimeout)
	}
	c.WaitNoLeftovers(uidsOf(v1)...)
}

// TestDeploymentScaleAndDelete is issue 6's third must-show: `scale` takes a
// Deployment from 4 to 6 and then to 2 replicas, and the pods follow (the removed
// ones leave nothing on their hosts); `delete deployment` removes it and its pods,
// which leave nothing behind either, and nothing recreates them.
func TestDeploymentScaleAndDelete(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name = "scaled"
	c.MustApply(0, deploymentManifest(name, 4, "1"))
	pods := c.WaitSettled(0, name, 4, "", settleTimeout)
	seen := uidsOf(pods)

	for _, n := range []int{6, 2} {
		via := n % c.N() // a different agent each time
		res := c.RunOn(via, "scale", "deployment", name, "--replicas", fmt.Sprint(n))
		if err := res.Err(); err != nil {
			t.Fatalf("scale to %d: %v", n, err)
		}
		if !strings.Contains(res.Stdout, "deployment.apps/"+name+" scaled") {
			t.Errorf("scale to %d printed %q, want deployment.apps/%s scaled", n, res.Stdout, name)
		}
		prev := pods
		pods = c.WaitSettled(via, name, n, "", settleTimeout)
		seen = append(seen, uidsOf(pods)...)
		t.Logf("scaled to %d: %v", n, podsByNode(pods))
		if byNode := podsByNode(pods); len(byNode) < min(n, c.N()) {
			// Not part of issue 6's must-show, so not asserted: Kubernetes' scale-down
			// deletes first the pods on nodes that run more of the same ReplicaSet.
			t.Logf("note: %d replicas on %d nodes of %d after scaling: the scale-down did not keep them spread", n, len(byNode), c.N())
		}
		var removed []string
		for _, p := range prev {
			if !slices.Contains(uidsOf(pods), p.Metadata.UID) {
				removed = append(removed, p.Metadata.UID)
			}
		}
		if n > len(prev) && len(removed) > 0 {
			t.Errorf("scaling up from %d to %d replaced running pods %v", len(prev), n, removed)
		}
		c.WaitNoLeftovers(removed...)
	}

	// The CLI shows the same Deployment.
	var d Deployment
	if err := c.decodeJSON(1, &d, "get", "deployments", name, "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 || d.Status.UpdatedReplicas != 2 {
		t.Errorf("get deployments %s -o json: spec.replicas %v, status %+v, want 2 replicas, all updated and available", name, d.Spec.Replicas, d.Status)
	}

	res := c.RunOn(2, "delete", "deployment", name, "--timeout", podGoneTimeout.String())
	if err := res.Err(); err != nil {
		t.Fatalf("delete deployment: %v", err)
	}
	for _, i := range hostsExcept(c, -1) {
		Eventually(t, podGoneTimeout, func() error {
			if _, err := c.GetDeployment(i, name); !errors.Is(err, errNotFound) {
				return fmt.Errorf("deployment %s still readable through %s (%v)", name, c.Name(i), err)
			}
			left, err := c.DeploymentPods(i, name)
			if err == nil && len(left) > 0 {
				err = fmt.Errorf("%s still lists pods of the deleted %s: %v", c.Name(i), name, left)
			}
			return err
		})
	}
	c.WaitNoLeftovers(seen...)
	time.Sleep(2 * time.Second) // nothing recreates them
	if left, err := c.DeploymentPods(0, name); err != nil || len(left) > 0 {
		t.Fatalf("pods of the deleted %s came back (%v): %v", name, err, left)
	}
}

// nodeSpec is the part of a Node that cordon changes, with its name.
type nodeSpec struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Unschedulable bool `json:"unschedulable"`
	} `json:"spec"`
}

// unschedulable reads node name's spec.unschedulable through host i.
func (c *Cluster) unschedulable(i int, name string) (bool, error) {
	var n nodeSpec
	err := c.apiGet(i, "/api/v1/nodes/"+url.PathEscape(name), &n)
	return n.Spec.Unschedulable, err
}

// TestDrainNode is issue 6's fourth must-show: `drain` refuses a node that runs a pod
// no controller manages (it cordons it and evicts nothing); with --force it empties
// the node: the Deployment's pods are evicted and replaced on the other hosts, the
// bare pod is deleted and not replaced, and a monitor never sees fewer than
// replicas − maxUnavailable available meanwhile. The node stays cordoned until
// `uncordon`, after which new replicas are placed on it again.
func TestDrainNode(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	leader := c.Index(waitFormed(t, c, 3, 0))
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name, replicas, floor = "drained", 6, 5
	c.MustApply(0, deploymentManifest(name, replicas, "1"))
	before := c.WaitSettled(0, name, replicas, "", settleTimeout)
	spread := podsByNode(before)
	// The node to drain: a follower's with the most replicas.
	target := -1
	for i := range c.N() {
		if i != leader && (target < 0 || spread[c.Name(i)] > spread[c.Name(target)]) {
			target = i
		}
	}
	node := c.Name(target)
	var onTarget []DeploymentPod
	for _, p := range before {
		if p.Spec.NodeName == node {
			onTarget = append(onTarget, p)
		}
	}
	t.Logf("replicas per node %v; draining %s", spread, node)
	if len(onTarget) == 0 {
		t.Fatalf("%s runs no replica of %s: %v", node, name, before)
	}
	c.MustApply(0, bareOnNode(t, node))
	barePod := c.WaitPod(0, "bare", scheduleTimeout+runTimeout, boundTo(node))

	// Without --force: refused, the node cordoned, nothing evicted.
	res := c.RunOn(1, "drain", node, "--timeout", "30s")
	if res.ExitCode == 0 || res.TimedOut || !strings.Contains(res.Stderr, "Pods that declare no controller") || !strings.Contains(res.Stderr, "default/bare") {
		t.Fatalf("drain without --force of a node with a bare pod: want a refusal naming default/bare (Pods that declare no controller), got:\n%s", res)
	}
	for i := range c.N() {
		if u, err := c.unschedulable(i, node); err != nil || !u {
			t.Fatalf("after a refused drain, %s sees %s unschedulable = %t (%v), want cordoned", c.Name(i), node, u, err)
		}
	}
	if _, err := c.settled(0, name, replicas, ""); err != nil {
		t.Fatalf("the refused drain disturbed %s: %v", name, err)
	}
	if p, err := c.Pod(0, "bare"); err != nil || p.Running() != nil || p.Metadata.DeletionTimestamp != "" {
		t.Fatalf("the refused drain disturbed the bare pod (%v): %+v", err, p)
	}

	monitor := c.MonitorAvailable(name, floor, hostsExcept(c, -1))
	start := time.Now()
	res = c.RunOn(1, "drain", node, "--force", "--timeout", "90s")
	if err := res.Err(); err != nil {
		t.Fatalf("drain --force: %v", err)
	}
	t.Logf("drain --force took %v:\n%s%s", time.Since(start).Round(100*time.Millisecond), res.Stdout, res.Stderr)
	if !strings.Contains(res.Stdout, "node/"+node+" drained") {
		t.Errorf("drain did not say node/%s drained:\n%s", node, res)
	}
	after := c.WaitSettled(0, name, replicas, "", settleTimeout)
	monitor.Finish(t)

	if n := podsByNode(after)[node]; n > 0 {
		t.Errorf("%d replicas still on the drained %s: %v", n, node, after)
	}
	var all PodList
	Eventually(t, podGoneTimeout, func() error {
		var err error
		if all, err = c.Pods(0, "-A", "--field-selector", "spec.nodeName="+node); err == nil && len(all.Items) > 0 {
			err = fmt.Errorf("pods still on the drained %s: %+v", node, all.Items)
		}
		return err
	})
	if _, err := c.Pod(0, "bare"); err == nil {
		t.Errorf("the bare pod was recreated after drain --force")
	}
	c.WaitNoLeftovers(append(uidsOf(onTarget), barePod.Metadata.UID)...)
	if u, err := c.unschedulable(0, node); err != nil || !u {
		t.Fatalf("after drain, %s unschedulable = %t (%v), want cordoned", node, u, err)
	}

	// uncordon: schedulable again, and new replicas go there (spread favours the
	// empty node).
	res = c.RunOn(2, "uncordon", node)
	if err := res.Err(); err != nil || !strings.Contains(res.Stdout, "node/"+node+" uncordoned") {
		t.Fatalf("uncordon: %v\n%s", err, res)
	}
	for _, i := range hostsExcept(c, -1) {
		Eventually(t, scheduleTimeout, func() error {
			if u, err := c.unschedulable(i, node); err != nil || u {
				return fmt.Errorf("%s sees %s unschedulable = %t (%v) after uncordon", c.Name(i), node, u, err)
			}
			return nil
		})
	}
	if res := c.RunOn(0, "scale", "deployment", name, "--replicas", fmt.Sprint(replicas+2)); res.Err() != nil {
		t.Fatalf("scale: %v", res.Err())
	}
	grown := c.WaitSettled(0, name, replicas+2, "", settleTimeout)
	if podsByNode(grown)[node] == 0 {
		t.Errorf("after uncordon, no new replica landed on the empty %s: %v", node, grown)
	}
}

// bareOnNode is a pod without a controller, bound to node by its manifest.
func bareOnNode(t testing.TB, node string) string {
	t.Helper()
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: bare
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests:
        cpu: 10m
        memory: 8Mi
`, node)
}
