package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/pki"
)

// testWatchEvent is a watch event as a client reads it.
type testWatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// meta reads the kind, name and resourceVersion of the event's object.
func (e testWatchEvent) meta(t *testing.T) (kind, name string, rv uint64) {
	t.Helper()
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(e.Object, &obj); err != nil {
		t.Fatalf("%s event: %v: %s", e.Type, err, e.Object)
	}
	rv, err := strconv.ParseUint(obj.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatalf("%s event: resourceVersion %q: %s", e.Type, obj.Metadata.ResourceVersion, e.Object)
	}
	return obj.Kind, obj.Metadata.Name, rv
}

// openWatch starts a watch of path as admin and returns its events, in
// order, on a channel closed when the stream ends (ctx ends it).
func openWatch(ctx context.Context, t *testing.T, c *apiCaller, path string) <-chan testWatchEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("watch %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("watch %s: %d %s", path, resp.StatusCode, b)
	}
	events := make(chan testWatchEvent, 1024)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var e testWatchEvent
			if err := dec.Decode(&e); err != nil {
				return
			}
			events <- e
		}
	}()
	return events
}

// listRV is the resourceVersion of a list of pods, where a client's watch
// starts.
func listRV(t *testing.T, c *apiCaller) string {
	t.Helper()
	var list api.PodList
	if err := json.Unmarshal(c.get("/api/v1/pods"), &list); err != nil || list.ResourceVersion == "" {
		t.Fatalf("list pods: %v %+v", err, list.ListMeta)
	}
	return list.ResourceVersion
}

// pendingPod is a pod that stays Pending (no node has its label), so the
// only events about it are its creation and the scheduler's verdict.
func pendingPod(name string) *api.Pod {
	p := testPodSpec(name, "1Mi")
	p.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
	return p
}

func createPod(ctx context.Context, t *testing.T, a *Agent, p *api.Pod) {
	t.Helper()
	if err := adminClient(t, a).Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", p, nil); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// TestWatchBookmarks: a watch with allowWatchBookmarks=true gets a
// BOOKMARK every WatchBookmarkInterval, shaped as kube-apiserver's (the
// kind and a resourceVersion, nothing else), whose resourceVersion covers
// every event sent before it and is the State's; a watch resumed from it
// misses nothing and repeats nothing. A watch that does not allow
// bookmarks gets none.
func TestWatchBookmarks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	const interval = 300 * time.Millisecond
	a := startOneAgent(t, func(c *Config) { c.WatchBookmarkInterval = interval })
	c := newCaller(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eventually(t, 20*time.Second, func() error {
		return adminClient(t, a).Do(ctx, http.MethodGet, "/api/v1/namespaces/default", nil, nil)
	})

	rv := listRV(t, c)
	with := openWatch(ctx, t, c, "/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true&resourceVersion="+rv)
	withoutCtx, stopWithout := context.WithCancel(ctx)
	without := openWatch(withoutCtx, t, c, "/api/v1/namespaces/default/pods?watch=true&resourceVersion="+rv)
	createPod(ctx, t, a, pendingPod("bm-1"))

	start, _ := strconv.ParseUint(rv, 10, 64)
	var lastEvent uint64
	var bookmarks []uint64
	sawPod := false
	for len(bookmarks) < 2 {
		var e testWatchEvent
		select {
		case e = <-with:
		case <-ctx.Done():
			t.Fatalf("no two bookmarks within a minute (saw %v)", bookmarks)
		}
		kind, name, erv := e.meta(t)
		switch e.Type {
		case "BOOKMARK":
			if kind != "Pod" || string(e.Object) != fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"resourceVersion":"%d"}}`, erv) {
				t.Fatalf("bookmark object: %s", e.Object)
			}
			if erv <= start || erv < lastEvent || erv > a.store.State().Index() {
				t.Fatalf("bookmark at %d: want after the watch's start %d, at or after its last event %d, at most the state's index %d",
					erv, start, lastEvent, a.store.State().Index())
			}
			if n := len(bookmarks); n > 0 && erv < bookmarks[n-1] {
				t.Fatalf("bookmarks went back: %v then %d", bookmarks, erv)
			}
			bookmarks = append(bookmarks, erv)
		case "ADDED", "MODIFIED":
			if len(bookmarks) > 0 && erv <= bookmarks[len(bookmarks)-1] {
				t.Fatalf("%s %s at %d after a bookmark at %d", e.Type, name, erv, bookmarks[len(bookmarks)-1])
			}
			lastEvent = max(lastEvent, erv)
			sawPod = sawPod || name == "bm-1"
		default:
			t.Fatalf("unexpected %s event: %s", e.Type, e.Object)
		}
	}
	if !sawPod {
		t.Fatalf("bookmarks %v came before pod bm-1 was seen", bookmarks)
	}

	// The watch without bookmarks saw the pod, and in several intervals
	// no bookmark.
	time.AfterFunc(5*interval, stopWithout)
	sawPod = false
	for e := range without {
		if e.Type == "BOOKMARK" {
			t.Fatalf("a watch without allowWatchBookmarks got %s", e.Object)
		}
		if _, name, _ := e.meta(t); name == "bm-1" {
			sawPod = true
		}
	}
	if !sawPod {
		t.Fatal("the watch without bookmarks did not see pod bm-1")
	}

	// Resuming from the last bookmark: the next event is the next change.
	resumed := openWatch(ctx, t, c, fmt.Sprintf("/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true&resourceVersion=%d", bookmarks[1]))
	createPod(ctx, t, a, pendingPod("bm-2"))
	for e := range resumed {
		if e.Type == "BOOKMARK" {
			continue
		}
		if _, name, _ := e.meta(t); e.Type != "ADDED" || name != "bm-2" {
			t.Fatalf("first change after resuming from bookmark %d: %s %s, want ADDED bm-2", bookmarks[1], e.Type, name)
		}
		return
	}
	t.Fatal("the resumed watch ended without an event")
}

// TestStuckWatcherIsCutOff: a client that stops reading its watch while
// large events keep coming neither slows the FSM (every create succeeds)
// nor another watch (it sees every pod), and the agent closes the stuck
// watch after WatchWriteTimeout, freeing its goroutine and watch slot, as
// kube-apiserver closes a watcher whose buffer fills.
func TestStuckWatcherIsCutOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	a := startOneAgent(t, func(c *Config) { c.Limits.WatchWriteTimeout = 2 * time.Second })
	c := newCaller(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eventually(t, 20*time.Second, func() error {
		return adminClient(t, a).Do(ctx, http.MethodGet, "/api/v1/namespaces/default", nil, nil)
	})
	rv := listRV(t, c)

	// The stuck client: a receive buffer as small as the kernel allows, so
	// the agent's writes block after a few MiB at most, and no reads.
	leaf, err := a.tls.ca.Issue(pki.Request{CommonName: "admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	addr := a.apiListener.Addr().String()
	raw, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(addr)
	stuck := tls.Client(raw, &tls.Config{RootCAs: a.tls.ca.Pool(), Certificates: []tls.Certificate{leaf.TLS}, ServerName: host})
	defer stuck.Close()
	fmt.Fprintf(stuck, "GET /api/v1/pods?watch=true&resourceVersion=%s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n\r\n", rv, addr)
	resp, err := http.ReadResponse(bufio.NewReaderSize(stuck, 4096), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stuck watch: %v %v", resp, err)
	}

	healthy := openWatch(ctx, t, c, "/api/v1/pods?watch=true&resourceVersion="+rv)
	// ~200 KiB each, ADDED and MODIFIED: some 10 MiB for the stuck
	// watch, more than a loopback connection's buffers hold.
	const pods = 24
	for i := range pods {
		p := pendingPod(fmt.Sprintf("big-%02d", i))
		p.Annotations = map[string]string{"gossipod.test/blob": strings.Repeat("x", 200<<10)}
		createPod(ctx, t, a, p)
	}
	seen := map[string]bool{}
	for len(seen) < pods {
		select {
		case e, ok := <-healthy:
			if !ok {
				t.Fatalf("the healthy watch ended after %d of %d pods", len(seen), pods)
			}
			if _, name, _ := e.meta(t); e.Type == "ADDED" {
				seen[name] = true
			}
		case <-ctx.Done():
			t.Fatalf("the healthy watch saw %d of %d pods", len(seen), pods)
		}
	}

	// The stuck watch's handler returns: only the healthy watch holds a
	// slot.
	eventually(t, 30*time.Second, func() error {
		a.watches.mu.Lock()
		defer a.watches.mu.Unlock()
		if n := a.watches.open[`user "admin"`]; n != 1 {
			return fmt.Errorf("admin holds %d watch slots, want 1 (the healthy watch)", n)
		}
		return nil
	})
	// And its connection is closed: reading it now drains what the
	// buffers held and ends, rather than waiting for more.
	_ = stuck.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, resp.Body)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the stuck watch is still open after %d bytes", n)
	}
	if n >= pods*2*200<<10 {
		t.Fatalf("the stuck watch got all %d bytes: it was not cut off", n)
	}
}
