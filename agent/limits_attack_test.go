package agent

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime"
	"github.com/gossipod/gossipod/runtime/image"
)

// spoolRuntime is a PodRuntime that runs no pods and reads an uploaded
// image archive to the end, as the real one spools it to disk.
type spoolRuntime struct{}

func (spoolRuntime) SyncPods([]*api.Pod)               {}
func (spoolRuntime) Updates() <-chan runtime.PodUpdate { return nil }
func (spoolRuntime) Used() api.Resources               { return api.Resources{} }
func (spoolRuntime) Images() []image.ImageInfo         { return nil }
func (spoolRuntime) LoadImage(r io.Reader) ([]string, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	return []string{"localhost/loaded:latest"}, nil
}
func (spoolRuntime) Logs(context.Context, string, string, string, runtime.LogOptions, io.Writer) error {
	return nil
}
func (spoolRuntime) Exec(context.Context, string, string, string, []string, runtime.ExecIO) (int, error) {
	return 0, nil
}
func (spoolRuntime) Attach(context.Context, string, string, string, io.Writer) error { return nil }
func (spoolRuntime) DialPod(context.Context, string, string, int32) (net.Conn, error) {
	return nil, errors.New("no pods")
}

// attackWatches is how many watches the attacked agent lets one client hold.
const attackWatches = 8

// startAttackedAgent starts one agent with a runtime and small limits, and
// returns its API's base URL once it leads, with an admin client of it.
func startAttackedAgent(tb testing.TB) (a *Agent, base string, cl *http.Client, stop func()) {
	tb.Helper()
	cfg := testConfig(tb, "target", benchAddr(nextBlock(), 0), tb.TempDir(), 1)
	cfg.Runtime = spoolRuntime{}
	cfg.Limits.MaxWatchesPerClient = attackWatches
	cfg.Limits.MaxImageArchiveBytes = 64 << 20
	a, err := New(cfg, runtime.MachineInfo{OS: "linux", Arch: "amd64"})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	waitForLeader(tb, []*Agent{a}, 30*time.Second)
	return a, "https://" + a.apiListener.Addr().String(), adminHTTPClient(tb, a), func() { cancel(); <-done }
}

// attack is one bad request and what the agent must answer.
type attack struct {
	name     string
	do       func(ctx context.Context, cl *http.Client, base string) (*http.Response, error)
	wantCode int
	wantMsg  string
}

// post sends a body made anew for every attempt.
func post(path, contentType string, body func() io.Reader) func(context.Context, *http.Client, string) (*http.Response, error) {
	return send(http.MethodPost, path, contentType, body)
}

// send sends a request with a body made anew for every attempt.
func send(method, path, contentType string, body func() io.Reader) func(context.Context, *http.Client, string) (*http.Response, error) {
	return func(ctx context.Context, cl *http.Client, base string) (*http.Response, error) {
		var r io.Reader
		if body != nil {
			r = body()
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, r)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		return cl.Do(req)
	}
}

const attackDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},
"spec":{"replicas":%d,"selector":{"matchLabels":{"app":"big"}},
"template":{"metadata":{"labels":{"app":"big"}},"spec":{"containers":[{"name":"a","image":"busybox"}]}}}}`

// gzipBomb is a gzip stream of size zero bytes (rounded up to MiB) in
// about size/1000 bytes: one member of 1 MiB of zeros, repeated, which
// gzip readers read as one stream.
func gzipBomb(tb testing.TB, size int) []byte {
	tb.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), (size+1<<20-1)>>20)
}

// attacks are the bad inputs of issue 10, point 8, each with its answer.
func attacks(tb testing.TB) []attack {
	const n = 200000
	deepPod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"containers":[{"name":"a","image":"x","command":` +
		strings.Repeat("[", n) + strings.Repeat("]", n) + `}]}}`
	deepYAML := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\nspec:\n  containers:\n  - name: a\n    image: x\n    command: " +
		strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
	huge := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge","annotations":{"a":"` + strings.Repeat("x", 4<<20) + `"}}}`
	bomb := gzipBomb(tb, 1<<30) // 1 GiB of zeros in about 1 MiB
	return []attack{
		{"pod whose command is 200,000 nested lists (JSON)", post("/api/v1/namespaces/default/pods", "application/json", func() io.Reader { return strings.NewReader(deepPod) }),
			http.StatusBadRequest, "exceeded max depth of 100"},
		{"pod whose command is 200,000 nested lists (YAML)", post("/api/v1/namespaces/default/pods", "application/yaml", func() io.Reader { return strings.NewReader(deepYAML) }),
			http.StatusBadRequest, "exceeded max depth"},
		{"a 4 MiB pod", post("/api/v1/namespaces/default/pods", "application/json", func() io.Reader { return strings.NewReader(huge) }),
			http.StatusRequestEntityTooLarge, "larger than 3145728 bytes"},
		{"a Deployment of 2,000,000 replicas", post("/apis/apps/v1/namespaces/default/deployments", "application/json", func() io.Reader { return strings.NewReader(fmt.Sprintf(attackDeployment, 2000000)) }),
			http.StatusUnprocessableEntity, `Deployment \"big\" is invalid: spec.replicas: Invalid value: 2000000: must be less than or equal to 10000`},
		{"a 1 GiB gzip bomb as an image", post("/v1/images/load", "application/octet-stream", func() io.Reader { return bytes.NewReader(bomb) }),
			http.StatusRequestEntityTooLarge, "more than 67108864 bytes decompressed (--max-image-size)"},
		{"an image upload over the bound", post("/v1/images/load", "application/octet-stream", func() io.Reader { return io.LimitReader(zeroReader{}, 65<<20) }),
			http.StatusRequestEntityTooLarge, "larger than 67108864 bytes (--max-image-size)"},
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// monitor polls /healthz and samples the Go heap and the process's RSS
// until stopped.
type monitor struct {
	mu        sync.Mutex
	latencies []time.Duration
	failures  []string
	peakHeap  uint64
	peakRSS   uint64
	stop      chan struct{}
	done      sync.WaitGroup
}

func startMonitor(cl *http.Client, base string) *monitor {
	m := &monitor{stop: make(chan struct{})}
	m.done.Add(2)
	go func() {
		defer m.done.Done()
		hc := &http.Client{Timeout: 5 * time.Second, Transport: cl.Transport}
		for {
			start := time.Now()
			resp, err := hc.Get(base + "/healthz")
			took := time.Since(start)
			m.mu.Lock()
			if err != nil {
				m.failures = append(m.failures, err.Error())
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					m.failures = append(m.failures, resp.Status)
				}
				m.latencies = append(m.latencies, took)
			}
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer m.done.Done()
		var ms goruntime.MemStats
		for {
			goruntime.ReadMemStats(&ms)
			rss := readRSS()
			m.mu.Lock()
			m.peakHeap = max(m.peakHeap, ms.HeapAlloc)
			m.peakRSS = max(m.peakRSS, rss)
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return m
}

// finish stops the monitor and returns the healthz latencies, sorted.
func (m *monitor) finish() []time.Duration {
	close(m.stop)
	m.done.Wait()
	slices.Sort(m.latencies)
	return m.latencies
}

// readRSS is the process's resident set in bytes (0 where /proc is not).
func readRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// runAttacks sends every attack, then opens watches past the limit, and
// checks each answer.
func runAttacks(tb testing.TB, a *Agent, cl *http.Client, base string, list []attack) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, at := range list {
		resp, err := at.do(ctx, cl, base)
		if err != nil {
			tb.Errorf("%s: %v", at.name, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != at.wantCode || !strings.Contains(string(body), at.wantMsg) {
			tb.Errorf("%s: %d %s\nwant %d with %q", at.name, resp.StatusCode, body, at.wantCode, at.wantMsg)
		}
	}

	// Watches: the first attackWatches stay open, the next is refused.
	if !openWatches(ctx, cl, base, attackWatches, func(resp *http.Response) {
		body, _ := io.ReadAll(resp.Body)
		want := fmt.Sprintf("at most %d at once on this agent (--max-watches-per-client)", attackWatches)
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), want) || !strings.Contains(string(body), `"TooManyRequests"`) {
			tb.Errorf("watch %d: %d %s, want 429 TooManyRequests with %q", attackWatches+1, resp.StatusCode, body, want)
		}
	}) {
		tb.Errorf("could not open %d watches", attackWatches)
	}
	// Closing them frees the slots again (within a deadline: the server
	// sees each close a moment later).
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.watches.mu.Lock()
		open := len(a.watches.open)
		a.watches.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the watch slots were not freed within 10s of closing the watches")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openWatches opens n watches and, if all succeed, one more handed to
// extra; it closes them all before returning whether the n succeeded.
func openWatches(ctx context.Context, cl *http.Client, base string, n int, extra func(*http.Response)) bool {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := send(http.MethodGet, "/api/v1/pods?watch=1", "", nil)
	for range n {
		resp, err := watch(wctx, cl, base)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	if extra != nil {
		resp, err := watch(wctx, cl, base)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		extra(resp)
	}
	return true
}

// TestNoRequestTakesTheAgentDown sends each bad input of issue 10, point 8
// to an in-process agent: each is refused with a clear error while
// /healthz keeps answering and the process's Go heap stays bounded. Bounds
// are generous (the race detector, a shared machine); the figures are
// BenchmarkAttack's.
func TestNoRequestTakesTheAgentDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent and sends large bodies")
	}
	a, base, cl, stop := startAttackedAgent(t)
	defer stop()
	list := attacks(t)
	goruntime.GC()
	m := startMonitor(cl, base)
	runAttacks(t, a, cl, base, list)
	lat := m.finish()
	if len(m.failures) > 0 {
		t.Errorf("/healthz failed %d times during the attack: %v", len(m.failures), m.failures[:min(3, len(m.failures))])
	}
	if len(lat) == 0 || lat[len(lat)-1] > time.Second {
		t.Errorf("/healthz: %d answers, slowest %v; want answers within 1s", len(lat), lat[len(lat)-1:])
	}
	if m.peakHeap > 200<<20 {
		t.Errorf("Go heap peaked at %d MiB during the attack, want under 200 MiB", m.peakHeap>>20)
	}
	t.Logf("healthz answers %d, slowest %v; peak heap %d MiB, peak RSS %d MiB", len(lat), lat[len(lat)-1], m.peakHeap>>20, m.peakRSS>>20)
}

// BenchmarkAttack reports /healthz latency (p50, p99, max) while the bad
// inputs of issue 10, point 8 are sent, and the process's peak Go heap and
// RSS (the agent and the attacking client share the process).
func BenchmarkAttack(b *testing.B) {
	a, base, cl, stop := startAttackedAgent(b)
	defer stop()
	list := attacks(b)
	goruntime.GC()
	m := startMonitor(cl, base)
	b.ResetTimer()
	for range b.N {
		runAttacks(b, a, cl, base, list)
	}
	b.StopTimer()
	lat := m.finish()
	if len(lat) == 0 {
		b.Fatal("no /healthz answer")
	}
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "healthz-p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "healthz-p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "healthz-max-ms")
	b.ReportMetric(float64(m.peakHeap>>20), "peak-heap-MiB")
	b.ReportMetric(float64(m.peakRSS>>20), "peak-RSS-MiB")
	b.Logf("%d healthz answers, %d failures", len(lat), len(m.failures))
}
