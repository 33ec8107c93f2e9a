package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/pki"
)

// The fan-out of issue 11: 100 watchers while 1,000 pods are created.
const (
	fanOutWatchers = 100
	// fanOutTableWatchers of the watchers ask for Tables, as `kubectl get
	// -w` does; the others watch plain objects, as client-go's informers.
	fanOutTableWatchers = 20
	fanOutPods          = 1000
	fanOutCreators      = 8
	// fanOutAgentEnv names the directory where the agent process of
	// BenchmarkWatchFanOut writes its address and credentials.
	fanOutAgentEnv = "GOSSIPOD_FANOUT_AGENT_DIR"
	// fanOutCPUProfileEnv, when set, names the file the agent process
	// writes its CPU profile to (go tool pprof agent.test FILE).
	fanOutCPUProfileEnv = "GOSSIPOD_FANOUT_CPUPROFILE"
)

// TestHelperFanOutAgent is not a test: it is the agent process of
// BenchmarkWatchFanOut, which runs this test binary again with
// fanOutAgentEnv set, so the agent's CPU time and memory are measured
// apart from the watchers'. It starts one agent, writes its API address
// and an admin client certificate into the directory, and serves until
// its stdin closes.
func TestHelperFanOutAgent(t *testing.T) {
	dir := os.Getenv(fanOutAgentEnv)
	if dir == "" {
		t.Skip("the agent process of BenchmarkWatchFanOut")
	}
	a := startOneAgent(t, func(c *Config) {
		// The watchers and the creators are one client; leave it room.
		c.Limits.MaxWatchesPerClient = fanOutWatchers + 10
	})
	leaf, err := a.tls.ca.Issue(pki.Request{CommonName: "admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"ca.pem": a.tls.ca.CertPEM(), "cert.pem": leaf.CertPEM, "key.pem": leaf.KeyPEM,
		"addr": []byte("https://" + a.apiListener.Addr().String()),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// fanOutAgent is the agent process of the benchmark, seen from outside.
type fanOutAgent struct {
	cmd   *exec.Cmd
	stdin io.Closer
	base  string
	tls   *tls.Config
}

// startFanOutAgent runs the agent process and waits for its credentials.
func startFanOutAgent(b *testing.B) *fanOutAgent {
	b.Helper()
	dir := b.TempDir()
	args := []string{"-test.run=^TestHelperFanOutAgent$", "-test.timeout=30m"}
	if prof := os.Getenv(fanOutCPUProfileEnv); prof != "" {
		args = append(args, "-test.cpuprofile="+prof)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), fanOutAgentEnv+"="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the agent process: %v", err)
	}
	ag := &fanOutAgent{cmd: cmd, stdin: stdin}
	b.Cleanup(ag.stop)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the agent process did not start within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	read := func(name string) []byte {
		v, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return v
	}
	cert, err := tls.X509KeyPair(read("cert.pem"), read("key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(read("ca.pem"))
	ag.base = string(read("addr"))
	ag.tls = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}
	return ag
}

func (ag *fanOutAgent) stop() {
	if ag.stdin == nil {
		return
	}
	_ = ag.stdin.Close()
	ag.stdin = nil
	done := make(chan struct{})
	go func() { _ = ag.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = ag.cmd.Process.Kill()
		<-done
	}
}

// client is an HTTPS client of the agent with its own connections, as a
// separate kubectl or controller process has.
func (ag *fanOutAgent) client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: ag.tls.Clone(), MaxIdleConnsPerHost: fanOutCreators}}
}

// cpuSeconds is the user+system CPU time of the agent process so far.
func (ag *fanOutAgent) cpuSeconds(b *testing.B) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ag.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses: state
	// is field 3, utime 14 and stime 15 (proc(5)).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// memory is the agent process's resident memory: all of it (VmRSS), and
// its anonymous part (RssAnon: heap, stacks; not the pages of the test
// binary, which the page cache shares and which vary from run to run).
// Zeros if /proc cannot be read.
func (ag *fanOutAgent) memory() (rss, anon float64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", ag.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(status)) {
		name, rest, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		switch name {
		case "VmRSS":
			rss = kb * 1024
		case "RssAnon":
			anon = kb * 1024
		}
	}
	return rss, anon
}

// fanOutWatcher is one watch of the benchmark and what it saw.
type fanOutWatcher struct {
	table  bool
	events int // every event, MODIFIED and BOOKMARK included
	added  int // distinct pods seen ADDED
	seen   []bool
	lags   []time.Duration // create to delivery, per ADDED
	err    error
}

// watchEventLine is what the benchmark reads of an event: the pod's name,
// from a plain object or from a one-row Table.
type watchEventLine struct {
	Type   string `json:"type"`
	Object struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Rows []struct {
			Cells []any `json:"cells"`
		} `json:"rows"`
	} `json:"object"`
}

// run reads the watch until it has seen every pod ADDED.
func (w *fanOutWatcher) run(body io.Reader, created []atomic.Int64, done func()) {
	defer done()
	w.seen = make([]bool, fanOutPods)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for w.added < fanOutPods && sc.Scan() {
		now := time.Now()
		var ev watchEventLine
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			w.err = fmt.Errorf("event %q: %w", sc.Bytes(), err)
			return
		}
		w.events++
		if ev.Type == "ERROR" {
			w.err = fmt.Errorf("watch error: %s", sc.Bytes())
			return
		}
		if ev.Type != "ADDED" {
			continue
		}
		name := ev.Object.Metadata.Name
		if w.table {
			if len(ev.Object.Rows) != 1 || len(ev.Object.Rows[0].Cells) == 0 {
				w.err = fmt.Errorf("table event without one row: %s", sc.Bytes())
				return
			}
			name, _ = ev.Object.Rows[0].Cells[0].(string)
		}
		i, err := strconv.Atoi(strings.TrimPrefix(name, "fan-"))
		if err != nil || i < 0 || i >= fanOutPods {
			w.err = fmt.Errorf("unexpected pod %q", name)
			return
		}
		if !w.seen[i] {
			w.seen[i] = true
			w.added++
			w.lags = append(w.lags, now.Sub(time.Unix(0, created[i].Load())))
		}
	}
	if w.added < fanOutPods && w.err == nil {
		w.err = fmt.Errorf("watch ended after %d of %d pods: %v", w.added, fanOutPods, sc.Err())
	}
}

// BenchmarkWatchFanOut is issue 11's watch figure: one agent, in a
// process of its own so its CPU time and memory can be read from /proc,
// serves 100 concurrent HTTPS watches of pods (80 plain, as client-go's
// informers; 20 asking for Tables, as `kubectl get -w`; each on its own
// connection, from the list's resourceVersion with bookmarks allowed) while
// 8 clients create 1,000 pods through its API. It runs until every watcher
// has seen every pod ADDED, and reports the events delivered per second
// (all watchers together), the ADDED events per second, the create to
// delivery lag (p50, p99), the agent's CPU seconds over the run and its
// resident memory before and at the peak of the run.
//
// The pods select a node label no node has, so they stay Pending: the
// events are the creates and the leader's PodScheduled=False updates, not
// a runtime's. watchers=0 is the same run without watches: what the
// creates alone cost the agent.
func BenchmarkWatchFanOut(b *testing.B) {
	for _, n := range []int{0, fanOutWatchers} {
		b.Run(fmt.Sprintf("watchers=%d", n), func(b *testing.B) {
			for range b.N {
				runWatchFanOut(b, n)
			}
		})
	}
}

func runWatchFanOut(b *testing.B, nWatchers int) {
	ag := startFanOutAgent(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	creators := ag.client()

	// The list a client makes before it watches, once the agent leads and
	// the default namespace exists.
	var rv string
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := creators.Get(ag.base + "/api/v1/namespaces/default")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("namespace default not there within a minute: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	{
		resp, err := creators.Get(ag.base + "/api/v1/pods")
		if err != nil {
			b.Fatal(err)
		}
		var list api.PodList
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil || list.ResourceVersion == "" {
			b.Fatalf("list pods: %v (%d)", err, resp.StatusCode)
		}
		rv = list.ResourceVersion
	}

	created := make([]atomic.Int64, fanOutPods)
	watchers := make([]*fanOutWatcher, nWatchers)
	var reading sync.WaitGroup
	for i := range watchers {
		w := &fanOutWatcher{table: i < fanOutTableWatchers}
		watchers[i] = w
		path := "/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=" + rv
		if w.table {
			path = "/api/v1/namespaces/default/pods?watch=true&resourceVersion=" + rv
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ag.base+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		if w.table {
			req.Header.Set("Accept", kubectlTableAccept)
		} else {
			req.Header.Set("Accept", "application/json")
		}
		resp, err := ag.client().Do(req)
		if err != nil {
			b.Fatalf("watch %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			b.Fatalf("watch %d: %d %s", i, resp.StatusCode, body)
		}
		defer resp.Body.Close()
		reading.Add(1)
		go w.run(resp.Body, created, reading.Done)
	}

	var peakRSS, peakAnon atomic.Uint64
	sampling, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for sampling.Err() == nil {
			rss, anon := ag.memory()
			if uint64(rss) > peakRSS.Load() {
				peakRSS.Store(uint64(rss))
			}
			if uint64(anon) > peakAnon.Load() {
				peakAnon.Store(uint64(anon))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	rssBefore, anonBefore := ag.memory()
	cpuBefore := ag.cpuSeconds(b)
	start := time.Now()

	var next atomic.Int64
	var creating sync.WaitGroup
	for range fanOutCreators {
		creating.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= fanOutPods {
					return
				}
				p := testPodSpec(fmt.Sprintf("fan-%04d", i), "64Mi")
				p.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
				body, _ := json.Marshal(p)
				created[i].Store(time.Now().UnixNano())
				resp, err := creators.Post(ag.base+"/api/v1/namespaces/default/pods", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Errorf("create pod %d: %v", i, err)
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("create pod %d: %d %s", i, resp.StatusCode, msg)
					return
				}
			}
		})
	}
	creating.Wait()
	finished := make(chan struct{})
	go func() { reading.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		cancel() // ends the watches, so their readers return
		<-finished
	}
	elapsed := time.Since(start)
	cpu := ag.cpuSeconds(b) - cpuBefore
	stopSampling()
	sampler.Wait()

	b.ReportMetric(cpu, "agent-cpu-s")
	b.ReportMetric(rssBefore/(1<<20), "agent-rss-before-MiB")
	b.ReportMetric(float64(peakRSS.Load())/(1<<20), "agent-rss-peak-MiB")
	b.ReportMetric(anonBefore/(1<<20), "agent-anon-before-MiB")
	b.ReportMetric(float64(peakAnon.Load())/(1<<20), "agent-anon-peak-MiB")
	b.ReportMetric(elapsed.Seconds(), "s-to-last-delivery")
	if nWatchers == 0 {
		return
	}
	var events, added int
	var lags []time.Duration
	for i, w := range watchers {
		if w.err != nil {
			b.Fatalf("watcher %d (table %v): %v", i, w.table, w.err)
		}
		events += w.events
		added += w.added
		lags = append(lags, w.lags...)
	}
	slices.Sort(lags)
	pct := func(p float64) float64 {
		return float64(lags[min(len(lags)-1, int(p*float64(len(lags))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(added)/elapsed.Seconds(), "added-events/s")
	b.ReportMetric(pct(0.50), "p50-lag-ms")
	b.ReportMetric(pct(0.99), "p99-lag-ms")
}
