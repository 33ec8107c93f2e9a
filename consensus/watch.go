package consensus

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
}

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

func (w *watchLog) add(e WatchEvent) {
	if w.size == len(w.events) {
		w.floor = w.events[w.start].Index
		w.start = (w.start + 1) % len(w.events)
		w.size--
	}
	w.events[(w.start+w.size)%len(w.events)] = e
	w.size++
}

// since returns the events with Index > rv of the given kind ("" for all);
// ok is false when events after rv have already been dropped.
func (w *watchLog) since(rv uint64, kind string) (out []WatchEvent, ok bool) {
	if rv < w.floor {
		return nil, false
	}
	for i := 0; i < w.size; i++ {
		e := w.events[(w.start+i)%len(w.events)]
		if e.Index > rv && (kind == "" || e.Kind == kind) {
			out = append(out, e)
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
