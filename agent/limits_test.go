package agent

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
)

func TestWatchLimiter(t *testing.T) {
	l := newWatchLimiter(2)
	r1, ok1 := l.acquire("10.0.0.1")
	_, ok2 := l.acquire("10.0.0.1")
	_, ok3 := l.acquire("10.0.0.1")
	_, other := l.acquire("10.0.0.2")
	if !ok1 || !ok2 || ok3 || !other {
		t.Fatalf("acquire: %v %v %v %v, want true true false true", ok1, ok2, ok3, other)
	}
	r1()
	r1() // releasing twice frees one slot only
	if _, ok := l.acquire("10.0.0.1"); !ok {
		t.Fatal("a released slot is not free again")
	}
	if _, ok := l.acquire("10.0.0.1"); ok {
		t.Fatal("a double release freed two slots")
	}
}

func gzipped(t *testing.T, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, len(chunk))
		if _, err := zw.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		size -= n
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecompressCapped(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		limit   int64
		wantN   int64
		wantErr error
	}{
		{"plain tar passes as it is", bytes.Repeat([]byte("x"), 5000), 1000, 5000, nil}, // the body bound applies to it
		{"gzip under the cap", gzipped(t, 1000), 1000, 1000, nil},
		{"gzip one byte over", gzipped(t, 1001), 1000, 1000, ErrArchiveTooLarge},
		{"gzip bomb: 1 GiB of zeros", gzipBomb(t, 1<<30), 1 << 20, 1 << 20, ErrArchiveTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, closeFn, err := decompressCapped(bytes.NewReader(tt.body), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			defer closeFn()
			n, err := io.Copy(io.Discard, r)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Errorf("read %d bytes, err %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		method, target string
		want           requestKind
	}{
		{"GET", "/api/v1/pods", ordinary},
		{"GET", "/api/v1/pods?watch=1", watchStream},
		{"GET", "/apis/apps/v1/deployments?watch=true", watchStream},
		{"POST", "/api/v1/namespaces/default/pods/web/exec?command=sh", longStream},
		{"GET", "/api/v1/namespaces/default/pods/web/log?follow=true", longStream},
		{"GET", "/api/v1/namespaces/default/pods/web/log", ordinary},
		{"POST", "/v1/images/load", imageUpload},
		{"POST", internalApplyPath, ordinary},
	}
	for _, tt := range tests {
		if got := classify(httptest.NewRequest(tt.method, tt.target, nil)); got != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.target, got, tt.want)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Limits)
		want   string // "" for valid
	}{
		{"defaults", func(*Limits) {}, ""},
		{"replicas over the FSM's ceiling", func(l *Limits) { l.MaxDeploymentReplicas = api.MaxDeploymentReplicasCeiling + 1 },
			"--max-deployment-replicas 100001: must be between 1 and 100000"},
		{"replicas zero", func(l *Limits) { l.MaxDeploymentReplicas = 0 }, "--max-deployment-replicas 0"},
		{"no watches", func(l *Limits) { l.MaxWatchesPerClient = 0 }, "--max-watches-per-client 0: must be at least 1"},
		{"tiny image bound", func(l *Limits) { l.MaxImageArchiveBytes = 10 }, "--max-image-size 10 bytes"},
		{"no watch write timeout", func(l *Limits) { l.WatchWriteTimeout = 0 }, "watch write timeout 0s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultLimits()
			tt.change(&l)
			err := l.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestWithLimitsBodyBounds: every endpoint reads a body bounded by its own
// limit, and the watch count answers 429 with Retry-After.
func TestWithLimitsBodyBounds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.MaxImageArchiveBytes = 8 << 20
	cfg.Limits.MaxWatchesPerClient = 1
	a := &Agent{cfg: cfg, watches: newWatchLimiter(1)}
	readAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			apiserver.WriteError(w, apiserver.BodyError(err))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := a.withLimits(readAll)
	tests := []struct {
		name   string
		target string
		size   int
		want   int
	}{
		{"pod at 3 MiB", "/api/v1/namespaces/default/pods", apiserver.MaxBodyBytes, http.StatusOK},
		{"pod over 3 MiB", "/api/v1/namespaces/default/pods", apiserver.MaxBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"internal apply over 3 MiB", internalApplyPath, 10 << 20, http.StatusOK},
		{"internal apply over 64 MiB", internalApplyPath, maxInternalBodyBytes + 1, http.StatusRequestEntityTooLarge},
		{"image under its bound", "/v1/images/load", 8 << 20, http.StatusOK},
		{"image over its bound", "/v1/images/load", 8<<20 + 1, http.StatusRequestEntityTooLarge},
		{"exec stream: frames are bounded instead", "/api/v1/namespaces/default/pods/p/exec", 5 << 20, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tt.target, bytes.NewReader(make([]byte, tt.size))))
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
		})
	}

	release, _ := a.watches.acquire("192.0.2.1")
	defer release()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=1", nil))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), `"reason": "TooManyRequests"`) || !strings.Contains(rec.Body.String(), "--max-watches-per-client") {
		t.Errorf("second watch: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestRequestDeadlines: an ordinary request that outlives RequestTimeout
// is cut, and a watch that follows it on the same kept-alive connection is
// not, however long it lasts.
func TestRequestDeadlines(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Limits.RequestTimeout = 200 * time.Millisecond
	a := &Agent{cfg: cfg, watches: newWatchLimiter(10)}
	srv := httptest.NewServer(a.withLimits(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("slow") != "" {
			time.Sleep(400 * time.Millisecond)
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20)) // more than the socket buffers
			return
		}
		if apiserver.IsWatch(r) {
			time.Sleep(400 * time.Millisecond)
		}
		_, _ = io.WriteString(w, "ok")
	})))
	defer srv.Close()
	get := func(path string) (string, error) {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if body, err := get("/api/v1/pods"); err != nil || body != "ok" {
		t.Fatalf("ordinary request: %q, %v", body, err)
	}
	time.Sleep(250 * time.Millisecond) // the ordinary request's deadline passes
	if body, err := get("/api/v1/pods?watch=1"); err != nil || body != "ok" {
		t.Fatalf("watch after an ordinary request on the same connection: %q, %v", body, err)
	}
	if body, err := get("/api/v1/pods?slow=1"); err == nil && len(body) == 1<<20 {
		t.Fatal("an ordinary request outlived its deadline")
	}
}
