package consensus

import (
	"encoding/json"
	"sort"
	"sync"
)

// Watch event types, as Kubernetes names them.
const (
	WatchAdded    = "ADDED"
	WatchModified = "MODIFIED"
	WatchDeleted  = "DELETED"
)

// WatchEvent is one change of one object, at the Raft index that made it.
// Object is a read-only snapshot of the object after the change; for
// DELETED, the object as it was last stored, with the resourceVersion of
// the deletion (see emitDeleted).
type WatchEvent struct {
	Type   string
	Kind   string
	Index  uint64
	Object any
	// encoded holds Object's encodings, shared by every watch that sends
	// it.
	encoded *encodedObject
}

// ObjectJSON returns the JSON encoding of the event's Object, encoded once
// for all the watches that send it (see Encoding).
func (e WatchEvent) ObjectJSON() ([]byte, error) {
	return e.Encoding("json", func(obj any) ([]byte, error) { return json.Marshal(obj) })
}

// Encoding returns the event's Object as encode makes it in format, which
// names the encoding and its options ("json", a Table of some version).
// It encodes the object once per format for all the watches that send the
// event, as kube-apiserver's watch cache does with its cachingObject: a
// hundred watchers of pods cost one encoding per change, not a hundred.
// encode must give the same bytes to every watch that names the same
// format; it runs at most once at a time per event, and a failure is not
// kept. The bytes are shared: do not modify them. Only the recent events
// keep their encodings (see encodedWindow); an older one is encoded again
// on each call.
func (e WatchEvent) Encoding(format string, encode func(obj any) ([]byte, error)) ([]byte, error) {
	if e.encoded == nil {
		return encode(e.Object)
	}
	return e.encoded.get(format, e.Object, encode)
}

// encodedObject holds the encodings of one event's object that watches
// have asked for, until the event falls out of the window of recent events.
type encodedObject struct {
	mu       sync.Mutex
	formats  map[string][]byte
	released bool
}

func (c *encodedObject) get(format string, obj any, encode func(any) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.formats[format]; ok {
		return b, nil
	}
	b, err := encode(obj)
	if err != nil {
		return nil, err
	}
	if !c.released {
		if c.formats == nil {
			c.formats = make(map[string][]byte, 1)
		}
		c.formats[format] = b
	}
	return b, nil
}

func (c *encodedObject) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.formats, c.released = nil, true
}

// encodedWindow is how many of the most recent events keep their
// encodings. Watches that keep up read within it; one that lags further
// (or resumes from an old resourceVersion) encodes for itself, so the
// cache costs at most this many events' encodings, not the whole ring's.
const encodedWindow = 1024

// watchLog keeps the most recent changes in a ring, so a watch can resume
// from a resourceVersion without the State keeping history forever. A
// watch from a version older than the ring gets "too old" (410 Gone), as a
// Kubernetes watch does after compaction.
type watchLog struct {
	events []WatchEvent
	start  int // position of the oldest event
	size   int
	// floor is the index up to which history is unavailable: everything
	// at or below it happened before the oldest retained event.
	floor uint64
}

const watchLogSize = 16384

func newWatchLog(capacity int) *watchLog {
	return &watchLog{events: make([]WatchEvent, capacity)}
}

// add appends e, which must not have a lower Index than the last event.
func (w *watchLog) add(e WatchEvent) {
	if w.size == len(w.events) {
		w.floor = w.events[w.start].Index
		w.start = (w.start + 1) % len(w.events)
		w.size--
	}
	e.encoded = &encodedObject{}
	w.events[(w.start+w.size)%len(w.events)] = e
	w.size++
	if w.size > encodedWindow {
		w.at(w.size - 1 - encodedWindow).encoded.release()
	}
}

// at returns the i-th oldest retained event.
func (w *watchLog) at(i int) *WatchEvent {
	return &w.events[(w.start+i)%len(w.events)]
}

// since returns the events with Index > rv of the given kind ("" for all);
// ok is false when events after rv have already been dropped. Events are
// in Index order, so it finds the first one by binary search: a watch
// that keeps up pays for the events it is sent, not for the whole ring.
func (w *watchLog) since(rv uint64, kind string) (out []WatchEvent, ok bool) {
	if rv < w.floor {
		return nil, false
	}
	first := sort.Search(w.size, func(i int) bool { return w.at(i).Index > rv })
	for i := first; i < w.size; i++ {
		if e := w.at(i); kind == "" || e.Kind == kind {
			out = append(out, *e)
		}
	}
	return out, true
}

// reset forgets all history at a snapshot restore: watches from before it
// must re-list.
func (w *watchLog) reset(index uint64) {
	w.start, w.size, w.floor = 0, 0, index
	clear(w.events)
}
