package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/tables"
	"github.com/gossipod/gossipod/consensus"
)

// watchEvent is one line of a Kubernetes watch stream.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// serveWatch streams the changes of one kind as Kubernetes does for
// ?watch=1: newline-delimited JSON events, ADDED for every current object
// first unless the client resumes from a resourceVersion, then every change.
// It waits on the State's change signal, never polls, and ends when the
// client goes away, after ?timeoutSeconds, or with an ERROR event (410
// Gone) if the client's resourceVersion is too old to resume from. A
// client that asks for Tables (`kubectl get -w`) gets each object as a
// Table of one row, the first with the column definitions.
//
// Each watch reads the State's change log for itself, at its own pace, so
// a slow client delays nobody: not the FSM, not the other watches. The
// events found at one wake-up are written together and flushed once, as
// kube-apiserver flushes when its watcher's queue is empty, and each
// change is encoded once for all the watches that send it in the same
// form, plain or Table (consensus.WatchEvent's Encoding). A client that
// takes nothing for Limits.WatchWriteTimeout while events wait is cut
// off, as kube-apiserver closes a watcher whose buffer fills. A watch
// moves past the changes of other kinds too, so a quiet kind's watch is
// not sent 410 Gone when a busy kind fills the change log.
//
// With ?allowWatchBookmarks=true (client-go's reflector, kubectl), the
// watch also gets a BOOKMARK about every Config.WatchBookmarkInterval and
// two seconds before its timeoutSeconds end, carrying the State's index
// once every change up to it has been sent, as kube-apiserver's watch
// cache does: a client whose watch breaks resumes from there instead of
// from its last change, which may since have left the change log.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind, match func(any) bool, list func() ([]any, uint64)) {
	if _, ok := w.(http.Flusher); !ok {
		WriteError(w, api.NewInternalError(fmt.Errorf("streaming unsupported")))
		return
	}
	ctx := r.Context()
	transform, err := tables.NewWatchTransformer(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	q := r.URL.Query()
	var deadline time.Time
	if s := q.Get("timeoutSeconds"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 0 {
			WriteError(w, api.NewBadRequest(fmt.Sprintf("timeoutSeconds %q: must be a non-negative integer", s)))
			return
		}
		if secs > 0 {
			deadline = time.Now().Add(time.Duration(secs) * time.Second)
			var cancel func()
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
	}
	// sendInitialEvents=true is client-go's watch-list (kubectl rollout
	// status, informers): the current objects as ADDED whatever the
	// resourceVersion, then a BOOKMARK marking their end.
	sendInitial := q.Get("sendInitialEvents") == "true"
	var rv uint64
	var initial []any
	if s := q.Get("resourceVersion"); s != "" && s != "0" && !sendInitial {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			WriteError(w, api.NewBadRequest(fmt.Sprintf("resourceVersion %q: must be a number", s)))
			return
		}
		rv = v
	} else {
		initial, rv = list()
	}

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	out := &watchWriter{w: w, rc: http.NewResponseController(w),
		timeout: s.cfg.WatchWriteTimeout, transform: transform,
		pending: true} // the headers: the client waits for them to start watching
	for _, obj := range initial {
		out.object(consensus.WatchAdded, obj)
	}
	if sendInitial {
		out.raw(watchBookmark, bookmark(gvk, rv, true))
	}
	if !out.flush() {
		s.logWatchEnd(r, gvk.Kind, out.err)
		return
	}

	startRV := rv
	bookmarks := newBookmarkTimer(q.Get("allowWatchBookmarks") == "true", s.cfg.WatchBookmarkInterval, deadline)
	defer bookmarks.stop()
	bookmarkDue := false
	state := s.b.State()
	for {
		changed := state.Changed()
		events, index, ok := state.WatchSince(rv, gvk.Kind)
		if !ok {
			out.raw("ERROR", api.NewStatus(http.StatusGone, "Expired", fmt.Sprintf("too old resource version: %d", rv)))
			out.flush()
			return
		}
		for _, e := range events {
			if match(e.Object) {
				out.event(e)
			}
		}
		// Every change of kind up to index is sent (or filtered out): the
		// next read starts there, and a bookmark may say so.
		rv = max(rv, index)
		if bookmarkDue {
			bookmarkDue = false
			// A bookmark at the version the client started from tells it
			// nothing; kube-apiserver sends only newer ones.
			if rv > startRV {
				out.raw(watchBookmark, bookmark(gvk, rv, false))
			}
			bookmarks.next()
		}
		if !out.flush() {
			s.logWatchEnd(r, gvk.Kind, out.err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-changed:
		case <-bookmarks.c():
			bookmarkDue = true
		}
	}
}

// logWatchEnd says why a watch ended on a failed write; a client cut off
// for taking no events is worth a line, one that hung up is not.
func (s *Server) logWatchEnd(r *http.Request, kind string, err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.log.Info("closed a watch whose client took no events", "kind", kind, "client", WatchClient(r),
			"timeout", s.cfg.WatchWriteTimeout, "error", err)
	}
}

// watchBufferSize is the buffer a watch writes a batch of events into:
// one TLS record's worth, so a batch leaves in records of 16 KiB rather
// than in the response's 4 KiB writes.
const watchBufferSize = 16 << 10

// watchBuffers lend the batch buffers: a watch holds one only while it
// writes, so idle watches, most of them most of the time, cost none.
var watchBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, watchBufferSize) }}

// watchWriter writes the events of one watch into a buffer and flushes
// them together. A write that the client does not take within timeout
// fails (the connection's write deadline), and so does every later one:
// err keeps the first failure.
type watchWriter struct {
	w         http.ResponseWriter
	buf       *bufio.Writer // from watchBuffers while a batch is written
	rc        *http.ResponseController
	timeout   time.Duration
	transform *tables.WatchTransformer
	pending   bool
	err       error
}

// event writes a change from the State's log: its object's JSON, or a
// Table of it for a Table watch, encoded once for every watch that sends
// it in the same form; only a Table watch's first Table, which carries
// the column definitions, is its own.
func (o *watchWriter) event(e consensus.WatchEvent) {
	var b []byte
	var err error
	switch format, shared := o.transform.Format(); {
	case !o.transform.Tables():
		b, err = e.ObjectJSON()
	case shared:
		b, err = e.Encoding(format, func(obj any) ([]byte, error) {
			table, err := o.transform.Transform(obj)
			if err != nil {
				return nil, err
			}
			return json.Marshal(table)
		})
	default:
		o.object(e.Type, e.Object)
		return
	}
	if err != nil {
		o.raw("ERROR", api.NewInternalError(fmt.Errorf("encode %s: %w", e.Kind, err)))
		return
	}
	o.line(e.Type, b)
}

// object writes an event of obj, as a Table if the watch asks for Tables.
func (o *watchWriter) object(typ string, obj any) {
	obj, err := o.transform.Transform(obj)
	if err != nil {
		o.raw("ERROR", api.NewInternalError(err))
		return
	}
	o.raw(typ, obj)
}

// raw writes an event whose object goes as it is (a bookmark, a Status).
func (o *watchWriter) raw(typ string, obj any) {
	b, err := json.Marshal(obj)
	if err != nil {
		typ = "ERROR"
		b, _ = json.Marshal(api.NewInternalError(fmt.Errorf("encode a watch event: %w", err)))
	}
	o.line(typ, b)
}

// line writes {"type":typ,"object":obj}, the bytes encoding/json makes of
// a watchEvent, without encoding obj again.
func (o *watchWriter) line(typ string, obj []byte) {
	if o.err != nil {
		return
	}
	// Each write that may reach the connection gets the full timeout: the
	// deadline measures how long the client takes nothing, not how long
	// a large batch takes to go out.
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
	if o.buf == nil {
		o.buf = watchBuffers.Get().(*bufio.Writer)
		o.buf.Reset(o.w)
	}
	o.buf.WriteString(`{"type":"`)
	o.buf.WriteString(typ)
	o.buf.WriteString(`","object":`)
	o.buf.Write(obj)
	if _, err := o.buf.WriteString("}\n"); err != nil {
		o.err = err // bufio.Writer keeps its first error: this is it
		return
	}
	o.pending = true
}

// flush sends what was written, gives the buffer back and lifts the
// write deadline, so that an idle watch is never cut; it reports whether
// the watch can go on.
func (o *watchWriter) flush() bool {
	if o.buf != nil {
		if err := o.buf.Flush(); err != nil && o.err == nil {
			o.err = err
		}
		o.buf.Reset(nil)
		watchBuffers.Put(o.buf)
		o.buf = nil
	}
	if o.err == nil && o.pending {
		if err := o.rc.Flush(); err != nil {
			o.err = err
		}
		o.pending = false
		_ = o.rc.SetWriteDeadline(time.Time{})
	}
	return o.err == nil
}

// bookmarkTimer schedules a watch's periodic bookmarks (see nextBookmark);
// none at all unless the client allows bookmarks.
type bookmarkTimer struct {
	interval time.Duration
	deadline time.Time
	t        *time.Timer
}

func newBookmarkTimer(allowed bool, interval time.Duration, deadline time.Time) *bookmarkTimer {
	b := &bookmarkTimer{interval: interval, deadline: deadline}
	if allowed {
		b.next()
	}
	return b
}

// next schedules the bookmark after the one just due.
func (b *bookmarkTimer) next() {
	b.stop()
	b.t = nil
	now := time.Now()
	if at, ok := nextBookmark(now, b.interval, b.deadline); ok {
		b.t = time.NewTimer(at.Sub(now))
	}
}

// nextBookmark is when a watch's next bookmark is due, as kube-apiserver's
// cacheWatcher.nextBookmarkTime computes it: interval from now, or two
// seconds before the watch's deadline (zero: none) if that is sooner, so
// that a client whose watch times out resumes from a version as recent as
// possible; false once that moment has passed.
func nextBookmark(now time.Time, interval time.Duration, deadline time.Time) (time.Time, bool) {
	at := now.Add(interval)
	if !deadline.IsZero() {
		if pre := deadline.Add(-2 * time.Second); pre.Before(at) {
			at = pre
		}
	}
	if at.Before(now) {
		return time.Time{}, false
	}
	return at, true
}

// c is the channel the next bookmark is due on; nil (never ready) when no
// bookmark is scheduled.
func (b *bookmarkTimer) c() <-chan time.Time {
	if b.t == nil {
		return nil
	}
	return b.t.C
}

func (b *bookmarkTimer) stop() {
	if b.t != nil {
		b.t.Stop()
	}
}

// watchBookmark is the watch event that carries only a resourceVersion.
const watchBookmark = "BOOKMARK"

// bookmark is the object of a BOOKMARK event, as kube-apiserver sends it:
// an object of the watched kind with nothing but its resourceVersion and,
// at the end of a watch-list's initial events, the annotation
// k8s.io/initial-events-end that client-go's reflector waits for.
func bookmark(gvk schema.GroupVersionKind, rv uint64, initialEnd bool) map[string]any {
	meta := map[string]any{"resourceVersion": strconv.FormatUint(rv, 10)}
	if initialEnd {
		meta["annotations"] = map[string]string{"k8s.io/initial-events-end": "true"}
	}
	apiVersion, kind := gvk.ToAPIVersionAndKind()
	return map[string]any{"kind": kind, "apiVersion": apiVersion, "metadata": meta}
}

// serveKindWatch is serveWatch for the objects of one kind, of Go type *T:
// keep selects those the watch sends, list returns the current ones.
func serveKindWatch[T any](s *Server, w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind, keep func(*T) bool, list func() ([]*T, uint64)) {
	s.serveWatch(w, r, gvk,
		func(obj any) bool { o, ok := obj.(*T); return ok && keep(o) },
		func() ([]any, uint64) {
			items, index := list()
			out := make([]any, len(items))
			for i, o := range items {
				out[i] = o
			}
			return out, index
		})
}
