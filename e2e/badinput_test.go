package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gzipOfZeros is a gzip stream that inflates to n MiB of zeros in about n KiB: one
// member of 1 MiB of zeros, repeated, which gzip readers read as one stream.
func gzipOfZeros(t *testing.T, n int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), n)
}

// TestNoRequestTakesAnAgentDown sends a real agent each bad input of issue 10 (a pod
// nested 200,000 lists deep, a 4 MiB object, a Deployment of 2,000,000 replicas, a
// 1 GiB gzip bomb as an image, watches past the per-user cap): each gets a clear error,
// while the agent's RSS stays under 200 MB and /healthz keeps answering.
func TestNoRequestTakesAnAgentDown(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 1, AgentArgs: func(c *Cluster, i int) []string {
		return []string{"--bootstrap-expect", "1", "--max-watches-per-client", "20", "--max-image-size", "64Mi"}
	}})
	waitFormed(t, c, 1, 0)
	pid := c.AgentPid(0)
	base := c.APIAddr(0)

	// Watch the agent from the side: RSS and /healthz, every 50 ms.
	var (
		mu       sync.Mutex
		peakRSS  int // KiB
		worst    time.Duration
		failures []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if rss, err := vmRSS(pid); err == nil {
				mu.Lock()
				peakRSS = max(peakRSS, rss)
				mu.Unlock()
			}
			start := time.Now()
			resp, err := c.health.Get(base + "/healthz")
			took := time.Since(start)
			mu.Lock()
			worst = max(worst, took)
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures = append(failures, resp.Status)
				}
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})

	deep := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"containers":[{"name":"a","image":"x","command":` +
		strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + `}]}}`
	huge := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"huge","annotations":{"a":"` + strings.Repeat("x", 4<<20) +
		`"}},"spec":{"containers":[{"name":"a","image":"x"}]}}`
	replicas := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"big"},"spec":{"replicas":2000000,` +
		`"selector":{"matchLabels":{"app":"big"}},"template":{"metadata":{"labels":{"app":"big"}},` +
		`"spec":{"containers":[{"name":"a","image":"x"}]}}}}`
	bomb := gzipOfZeros(t, 1024)
	for _, tc := range []struct {
		name, path, contentType string
		body                    []byte
		code                    int
		msg                     string
	}{
		{"a pod nested 200,000 lists deep (400 KB)", "/api/v1/namespaces/default/pods", "application/json", []byte(deep), http.StatusBadRequest, "max depth of 100"},
		{"a 4 MiB pod", "/api/v1/namespaces/default/pods", "application/json", []byte(huge), http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		{"a Deployment of 2,000,000 replicas", "/apis/apps/v1/namespaces/default/deployments", "application/json", []byte(replicas), http.StatusUnprocessableEntity, "must be less than or equal to 10000"},
		{"a 1 GiB gzip bomb as an image", "/v1/images/load", "application/octet-stream", bomb, http.StatusRequestEntityTooLarge, "--max-image-size"},
	} {
		resp, err := c.stream.Post(base+tc.path, tc.contentType, bytes.NewReader(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(answer), tc.msg) {
			t.Errorf("%s: %s %s\nwant %d with %q", tc.name, resp.Status, answer, tc.code, tc.msg)
		}
	}

	// Watches: 20 stay open, the 21st is refused with 429.
	ctx, cancel := context.WithCancel(context.Background())
	var open []*http.Response
	for i := range 21 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/pods?watch=1", nil)
		resp, err := c.stream.Do(req)
		if err != nil {
			t.Fatalf("watch %d: %v", i+1, err)
		}
		open = append(open, resp)
		if i < 20 && resp.StatusCode != http.StatusOK {
			t.Fatalf("watch %d: %s", i+1, resp.Status)
		}
		if i == 20 && resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("watch 21 past --max-watches-per-client 20: %s, want 429", resp.Status)
		}
	}
	cancel()
	for _, resp := range open {
		resp.Body.Close()
	}

	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("agent peak RSS %d MiB; slowest /healthz %v", peakRSS>>10, worst)
	if peakRSS == 0 || peakRSS > 200<<10 {
		t.Errorf("agent RSS peaked at %d MiB, want under 200 MiB", peakRSS>>10)
	}
	if len(failures) > 0 {
		t.Errorf("/healthz failed %d times during the attack: %v", len(failures), failures[:min(3, len(failures))])
	}
	if !c.Running(0) {
		t.Fatalf("the agent died:\n%s", tailLines(c.Log(0), 30))
	}
}
