package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Benchmarks of whole clusters of real agents (issue 4): apply to Running, the
// agent's memory with and without pods, and leader failover. They build their own
// clusters, so each runs alone:
//
//	go test ./e2e -run '^$' -bench BenchmarkApplyToRunning -benchtime 1x
//
// Each reports its figures with b.ReportMetric; ns/op is the wall time of the timed
// part and means little by itself.

// benchPods is how many pods a latency or memory figure is taken over.
const benchPods = 50

// benchPod returns a pod with n containers that each sleep, with small requests, for
// the default namespace, labelled bench=<label>; node, when set, pins it there by the
// kubernetes.io/hostname label.
func benchPod(name, label, node string, n int) map[string]any {
	var ctrs []any
	for k := range n {
		ctrs = append(ctrs, map[string]any{
			"name":            fmt.Sprintf("c%d", k),
			"image":           "localhost/busybox:latest",
			"imagePullPolicy": "IfNotPresent",
			"command":         []string{"sleep", "3600"},
			"resources": map[string]any{
				"requests": map[string]string{"cpu": "10m", "memory": "8Mi"},
			},
		})
	}
	spec := map[string]any{"terminationGracePeriodSeconds": 1, "containers": ctrs}
	if node != "" {
		spec["nodeSelector"] = map[string]string{"kubernetes.io/hostname": node}
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": name, "namespace": "default", "labels": map[string]string{"bench": label}},
		"spec":       spec,
	}
}

// postPod POSTs a pod to host i's API, as `gossipod apply` does for a new pod.
func postPod(c *Cluster, i int, pod map[string]any) error {
	body, err := json.Marshal(pod)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRunTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.APIAddr(i)+"/api/v1/namespaces/default/pods", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create pod through %s: %s: %s", c.Name(i), resp.Status, msg)
	}
	return nil
}

// runningWatch follows the pods of the default namespace through one watch stream of an
// agent and remembers when it first saw each pod in phase Running.
type runningWatch struct {
	client  *http.Client // the cluster's stream client
	mu      sync.Mutex
	running map[string]time.Time
	err     error         // why the stream ended, if it did
	changed chan struct{} // closed and replaced on every change
	cancel  func()
	done    chan struct{}
}

// watchRunning opens a watch of the default namespace's pods on host i (?watch=1, newline
// delimited events) and follows it until stop; a stream the server ends is resumed
// from the last resourceVersion seen.
func watchRunning(c *Cluster, i int) *runningWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &runningWatch{client: c.stream, running: map[string]time.Time{}, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	url := c.APIAddr(i) + "/api/v1/namespaces/default/pods?watch=1"
	go func() {
		defer close(w.done)
		rv := ""
		for ctx.Err() == nil {
			err := w.follow(ctx, url, &rv)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				w.finish(err)
				return
			}
		}
	}()
	return w
}

// follow reads one watch stream to its end.
func (w *runningWatch) follow(ctx context.Context, url string, rv *string) error {
	if *rv != "" {
		url += "&resourceVersion=" + *rv
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("watch %s: %s: %s", url, resp.Status, msg)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var e struct {
			Type   string `json:"type"`
			Object Pod    `json:"object"`
		}
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("watch %s: %w", url, err)
		}
		seen := time.Now()
		if e.Type == "ERROR" {
			return fmt.Errorf("watch %s: ERROR event %+v", url, e.Object)
		}
		if e.Object.Metadata.ResourceVersion != "" {
			*rv = e.Object.Metadata.ResourceVersion
		}
		if e.Type != "DELETED" && e.Object.Status.Phase == "Running" {
			w.mu.Lock()
			if _, ok := w.running[e.Object.Metadata.Name]; !ok {
				w.running[e.Object.Metadata.Name] = seen
				close(w.changed)
				w.changed = make(chan struct{})
			}
			w.mu.Unlock()
		}
	}
}

// finish records why the watch ended and wakes every waiter.
func (w *runningWatch) finish(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
	close(w.changed)
	w.changed = make(chan struct{})
}

// waitRunning returns when the watch first saw pod name Running.
func (w *runningWatch) waitRunning(name string, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		at, ok := w.running[name]
		err, changed := w.err, w.changed
		w.mu.Unlock()
		switch {
		case ok:
			return at, nil
		case err != nil:
			return time.Time{}, err
		}
		select {
		case <-changed:
		case <-deadline:
			return time.Time{}, fmt.Errorf("the watch did not show pod %s Running within %v", name, timeout)
		}
	}
}

// stop ends the watch.
func (w *runningWatch) stop() {
	w.cancel()
	<-w.done
}

// percentileMs returns the p-th percentile (0 < p <= 100) of ds by the nearest-rank
// method, in milliseconds.
func percentileMs(ds []time.Duration, p float64) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return float64(s[rank]) / float64(time.Millisecond)
}

// deleteBenchPods deletes the pods labelled bench=label through host i and waits for
// them to be gone.
func deleteBenchPods(c *Cluster, i int, label string) {
	c.t.Helper()
	res := c.RunOn(i, "delete", "pods", "-l", "bench="+label, "--now", "--timeout", podGoneTimeout.String())
	if err := res.Err(); err != nil {
		c.t.Fatalf("delete the bench=%s pods: %v", label, err)
	}
}

// slowStart is the apply-to-Running latency beyond which BenchmarkApplyToRunning
// shows the pod's description (its events and their times), to explain outliers.
const slowStart = time.Second

// BenchmarkApplyToRunning measures, on 3 hosts with the image present, the latency
// from submitting a pod (POST to host 0's API, what `gossipod apply` does) to its
// phase Running as seen on one watch stream of the same agent, for benchPods pods
// created one at a time; sub-benchmarks for a 1- and a 3-container pod. It reports
// p50_ms and p99_ms.
func BenchmarkApplyToRunning(b *testing.B) {
	c := NewCluster(b, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	leader := waitFormed(b, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	const via = 0
	b.Logf("submitting to %s; the leader is %s", c.Name(via), leader)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			c := c.WithT(b)
			label := fmt.Sprintf("start%d", n)
			w := watchRunning(c, via)
			defer w.stop()
			var lat []time.Duration
			var slow []string
			b.ResetTimer()
			for it := range b.N {
				for k := range benchPods {
					name := fmt.Sprintf("start-%dc-%d-%d", n, it, k)
					submitted := time.Now()
					if err := postPod(c, via, benchPod(name, label, "", n)); err != nil {
						b.Fatal(err)
					}
					running, err := w.waitRunning(name, scheduleTimeout+runTimeout)
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, running.Sub(submitted))
					if d := running.Sub(submitted); d > slowStart {
						slow = append(slow, fmt.Sprintf("%s took %v", name, d.Round(time.Millisecond)))
					}
				}
			}
			b.StopTimer()
			for _, s := range slow {
				name, _, _ := strings.Cut(s, " ")
				b.Logf("slow: %s; its description:\n%s", s, c.RunOn(via, "describe", "pod", name).Stdout)
			}
			b.ReportMetric(percentileMs(lat, 50), "p50_ms")
			b.ReportMetric(percentileMs(lat, 99), "p99_ms")
			b.Logf("%d pods of %d containers: p50 %.0f ms, p99 %.0f ms, max %.0f ms",
				len(lat), n, percentileMs(lat, 50), percentileMs(lat, 99), percentileMs(lat, 100))
			deleteBenchPods(c, via, label)
		})
	}
}

// BenchmarkAgentRSS measures the resident memory (VmRSS) of one agent process of a
// 3-host cluster, a follower with the image loaded: idle with no pod, and with
// benchPods running pods of one container (small requests) on its host, or as many
// as GOSSIPOD_BENCH_PODS says (issue 14 asks for 100). It reports rss0_MiB and
// rss<N>_MiB, and the mean memory of those pods' pause processes: pause_rss_KiB
// (VmRSS), pause_anon_KiB (RssAnon) and pause_pss_KiB (Pss).
func BenchmarkAgentRSS(b *testing.B) {
	c := NewCluster(b, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	leader := c.Index(waitFormed(b, c, 3, 0))
	host := (leader + 1) % c.N()
	c.LoadImage(host)
	b.Logf("measuring %s (pid %d, a follower; the leader is %s)", c.Name(host), c.AgentPid(host), c.Name(leader))
	pods := benchPods
	if v := os.Getenv("GOSSIPOD_BENCH_PODS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 110 {
			b.Fatalf("GOSSIPOD_BENCH_PODS=%q: want 1 to 110 (a node's pod slots)", v)
		}
		pods = n
	}

	for it := range b.N {
		rss0 := settledRSS(b, c.AgentPid(host))

		label := fmt.Sprintf("rss%d", it)
		var items []any
		for k := range pods {
			items = append(items, benchPod(fmt.Sprintf("rss-%d-%d", it, k), label, c.Name(host), 1))
		}
		manifest, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
		if err != nil {
			b.Fatal(err)
		}
		c.MustApply(host, string(manifest))
		var pl PodList
		Eventually(b, scheduleTimeout+2*runTimeout, func() (err error) {
			if pl, err = c.Pods(host, "-l", "bench="+label); err != nil {
				return err
			}
			if len(pl.Items) != pods {
				return fmt.Errorf("%d pods labelled %s, want %d", len(pl.Items), label, pods)
			}
			for _, p := range pl.Items {
				if err := boundTo(c.Name(host))(p); err != nil {
					return err
				}
			}
			return nil
		})
		rssN := settledRSS(b, c.AgentPid(host))
		pause := pauseMem(b, pl)

		b.ReportMetric(float64(rss0)/1024, "rss0_MiB")
		b.ReportMetric(float64(rssN)/1024, fmt.Sprintf("rss%d_MiB", pods))
		b.ReportMetric(pause.rss, "pause_rss_KiB")
		b.ReportMetric(pause.anon, "pause_anon_KiB")
		b.ReportMetric(pause.pss, "pause_pss_KiB")
		b.Logf("agent VmRSS %d KiB idle, %d KiB with %d pods; pause processes on average: VmRSS %.0f KiB, RssAnon %.0f KiB, Pss %.0f KiB",
			rss0, rssN, pods, pause.rss, pause.anon, pause.pss)
		b.StopTimer()
		deleteBenchPods(c, host, label)
		b.StartTimer()
	}
}

// settledRSS waits for an agent to settle (the Go runtime returns freed memory to the
// kernel in the background) and returns the median of a few VmRSS samples, in KiB.
func settledRSS(b *testing.B, pid int) int {
	b.Helper()
	time.Sleep(5 * time.Second)
	var samples []int
	for range 5 {
		kib, err := vmRSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, kib)
		time.Sleep(time.Second)
	}
	slices.Sort(samples)
	return samples[len(samples)/2]
}

// vmRSS reads a process's VmRSS from /proc/<pid>/status, in KiB.
func vmRSS(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no such agent process (pid %d)", pid)
	}
	m, err := procKiB(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	kib, ok := m["VmRSS"]
	if !ok {
		return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return kib, nil
}

// procKiB reads the "Name: N kB" lines of a /proc file (status, smaps_rollup).
func procKiB(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		v, kb := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok || !kb {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			m[name] = n
		}
	}
	return m, sc.Err()
}

// pauseMemory is the mean memory of pods' pause processes, in KiB: resident (VmRSS,
// shared pages of the executable included), anonymous (RssAnon, its own) and
// proportional (Pss, shared pages divided among their users).
type pauseMemory struct{ rss, anon, pss float64 }

// pauseMem measures the pause processes of pods: in each pod's cgroups, the process
// that is not the container's `sleep`.
func pauseMem(b *testing.B, pl PodList) pauseMemory {
	b.Helper()
	var sum pauseMemory
	n := 0
	for _, p := range pl.Items {
		for _, pr := range processesInPodCgroup(p.Metadata.UID) {
			if strings.HasPrefix(pr.cmdline, "sleep") {
				continue
			}
			dir := filepath.Join("/proc", strconv.Itoa(pr.pid))
			status, err := procKiB(filepath.Join(dir, "status"))
			if err != nil {
				continue // gone meanwhile
			}
			rollup, err := procKiB(filepath.Join(dir, "smaps_rollup"))
			if err != nil {
				continue
			}
			if n == 0 {
				b.Logf("pause process of %s: pid %d %q", p.Metadata.Name, pr.pid, pr.cmdline)
			}
			sum.rss += float64(status["VmRSS"])
			sum.anon += float64(status["RssAnon"])
			sum.pss += float64(rollup["Pss"])
			n++
		}
	}
	if n != len(pl.Items) {
		b.Fatalf("found %d pause processes for %d pods", n, len(pl.Items))
	}
	return pauseMemory{sum.rss / float64(n), sum.anon / float64(n), sum.pss / float64(n)}
}

// BenchmarkFailover SIGKILLs the leader of 3 hosts and measures the time until both
// survivors name the same new leader in their Raft configuration (GET /v1/raft/peers,
// what `gossipod raft peers -o json` prints, polled every 10 ms); the killed agent is
// started again, outside the timing, before the next round. It reports failover_ms,
// the mean over b.N rounds, and max_ms.
func BenchmarkFailover(b *testing.B) {
	c := NewCluster(b, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	var total, worst time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		old := waitFormed(b, c, 3, 0)
		dead := c.Index(old)
		survivors := hostsExcept(c, dead)
		b.StartTimer()

		start := time.Now()
		c.Kill(dead)
		var next string
		deadline := start.Add(electionTimeout)
		for {
			l, err := newLeader(c, survivors, old)
			if err == nil {
				next = l
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no common new leader within %v of killing %s: %v", electionTimeout, old, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		d := time.Since(start)

		b.StopTimer()
		total += d
		worst = max(worst, d)
		b.Logf("killed leader %s: %s leads after %v", old, next, d.Round(time.Millisecond))
		c.Start(dead)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/float64(b.N)/float64(time.Millisecond), "failover_ms")
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "max_ms")
}

// newLeader returns the leader every host in on names in GET /v1/raft/peers, as long
// as it is not old, and an error otherwise.
func newLeader(c *Cluster, on []int, old string) (string, error) {
	var leader string
	for _, i := range on {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.APIAddr(i)+"/v1/raft/peers", nil)
		if err != nil {
			cancel()
			return "", err
		}
		resp, err := c.stream.Do(req)
		if err != nil {
			cancel()
			return "", err
		}
		var peers []RaftPeer
		err = json.NewDecoder(resp.Body).Decode(&peers)
		resp.Body.Close()
		cancel()
		if err != nil {
			return "", fmt.Errorf("%s: decode raft peers: %w", c.Name(i), err)
		}
		var l string
		for _, p := range peers {
			if p.Leader {
				l = p.ID
			}
		}
		switch {
		case l == "" || l == old:
			return "", fmt.Errorf("%s follows %q", c.Name(i), l)
		case leader != "" && l != leader:
			return "", fmt.Errorf("%s follows %s, %s follows %s", c.Name(on[0]), leader, c.Name(i), l)
		}
		leader = l
	}
	return leader, nil
}
