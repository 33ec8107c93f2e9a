package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// podEvent is one call of a pod informer's event handlers, as the informer test
// records it.
type podEvent struct {
	Type  string // "add", "update" or "delete"
	Name  string
	UID   string
	RV    uint64
	OldRV uint64 // the resourceVersion the informer held before an update
	// Initial marks an add from the informer's first list.
	Initial bool
	// Tombstone marks a delete that client-go inferred from a re-list
	// (cache.DeletedFinalStateUnknown): it carries the last version the
	// informer held, since the deletion's own version was never seen.
	Tombstone bool
	At        time.Time
}

// replay reports whether an update hands over the version the informer already
// held (old and new at the same resourceVersion). Resync is off in the informer test,
// so client-go does that only when a re-list returns an object it holds, or when the
// watch delivers an event it already delivered.
func (e podEvent) replay() bool { return e.Type == "update" && e.OldRV == e.RV }

func (e podEvent) String() string {
	s := fmt.Sprintf("%s %s@%d", e.Type, e.Name, e.RV)
	if e.Type == "update" {
		s = fmt.Sprintf("update %s %d->%d", e.Name, e.OldRV, e.RV)
	}
	if e.Tombstone {
		s += " (tombstone)"
	}
	return s
}

// podWrites is what the writer of the informer test knows about one of its pods.
type podWrites struct {
	// UID is the pod's uid from the create response; "" when the create's
	// outcome was uncertain (it failed, and a retry found the pod there).
	UID string
	// RVs are the resourceVersions of the writes the API acknowledged, in
	// order: the create, the patches and the updates.
	RVs []uint64
	// DeleteTried: the writer sent a delete. Deleted: one was acknowledged
	// (or a retry found the pod gone).
	DeleteTried, Deleted bool
}

// checkPodEvents compares what a pod informer's handlers saw with what the writer
// did, and returns every discrepancy. For each pod: exactly one add, first; at most
// one delete, last, and one for every acknowledged delete; resourceVersions strictly
// increasing from event to event (so no change delivered twice or out of order); and
// every acknowledged write among them.
//
// relisted says whether the informer listed again after its first list. If it did,
// replays (see podEvent.replay) are what a re-list legitimately produces and are
// skipped. If it did not, the informer got everything from watch events: a replay can
// only be an event delivered twice, and the changes of all pods together must come in
// resourceVersion order, as one watch stream delivers them.
func checkPodEvents(events []podEvent, writes map[string]*podWrites, relisted bool) []string {
	var problems []string
	byPod := map[string][]podEvent{}
	var last podEvent
	for _, e := range events {
		if e.replay() {
			if !relisted {
				problems = append(problems, fmt.Sprintf("%v: a version the informer already held, delivered again by the watch", e))
			}
			continue
		}
		if !relisted && last.RV > e.RV {
			problems = append(problems, fmt.Sprintf("%v delivered after %v: out of resourceVersion order", e, last))
		}
		last = e
		byPod[e.Name] = append(byPod[e.Name], e)
	}
	for _, name := range slices.Sorted(maps.Keys(byPod)) {
		if writes[name] == nil {
			problems = append(problems, fmt.Sprintf("%s: events %v for a pod the test never created", name, byPod[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(writes)) {
		w, seen := writes[name], byPod[name]
		report := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%s: ", name)+fmt.Sprintf(format, args...)+fmt.Sprintf(" (seen: %v; acknowledged writes at %v)", seen, w.RVs))
		}
		if len(seen) == 0 {
			if len(w.RVs) > 0 {
				report("never seen")
			}
			continue
		}
		if seen[0].Type != "add" {
			report("first event is %v, not an add", seen[0])
		}
		adds, deletes := 0, 0
		for i, e := range seen {
			switch e.Type {
			case "add":
				adds++
			case "delete":
				deletes++
				if i != len(seen)-1 {
					report("events after the delete")
				}
			}
			if w.UID != "" && e.UID != w.UID {
				report("%v has uid %s, the create returned %s", e, e.UID, w.UID)
			}
			if i > 0 && e.RV <= seen[i-1].RV && !e.Tombstone {
				report("%v after %v: resourceVersion not increasing (a change delivered twice, or the event carries a stale version)", e, seen[i-1])
			}
		}
		if adds != 1 {
			report("%d adds, want exactly 1", adds)
		}
		switch {
		case deletes > 1:
			report("%d deletes, want at most 1", deletes)
		case deletes == 1 && !w.DeleteTried:
			report("deleted, but the test never deleted it")
		case deletes == 0 && w.Deleted:
			report("deletion acknowledged but never seen")
		}
		rvs := make([]uint64, len(seen))
		for i, e := range seen {
			rvs[i] = e.RV
		}
		for _, rv := range w.RVs {
			if !slices.Contains(rvs, rv) {
				report("acknowledged write at resourceVersion %d never seen", rv)
			}
		}
	}
	return problems
}

// TestCheckPodEvents shows that checkPodEvents, the judge of
// TestInformerThroughLeaderChange, accepts a faithful history and catches each way an
// informer can go wrong. It needs no cluster.
func TestCheckPodEvents(t *testing.T) {
	writes := func() map[string]*podWrites {
		return map[string]*podWrites{
			"a": {UID: "ua", RVs: []uint64{10, 12}, DeleteTried: true, Deleted: true},
			"b": {UID: "ub", RVs: []uint64{11}},
		}
	}
	good := []podEvent{
		{Type: "add", Name: "a", UID: "ua", RV: 10},
		{Type: "add", Name: "b", UID: "ub", RV: 11},
		{Type: "update", Name: "a", UID: "ua", OldRV: 10, RV: 12},
		{Type: "update", Name: "b", UID: "ub", OldRV: 11, RV: 13}, // a write by the cluster
		{Type: "delete", Name: "a", UID: "ua", RV: 14},
	}
	if p := checkPodEvents(good, writes(), false); len(p) != 0 {
		t.Fatalf("faithful history rejected: %v", p)
	}
	// A re-list replays what the informer holds: not a change.
	replayed := append(slices.Clone(good), podEvent{Type: "update", Name: "b", UID: "ub", OldRV: 13, RV: 13})
	if p := checkPodEvents(replayed, writes(), true); len(p) != 0 {
		t.Fatalf("re-list replay rejected: %v", p)
	}

	edit := func(f func([]podEvent) []podEvent) []podEvent { return f(slices.Clone(good)) }
	cases := map[string]struct {
		events   []podEvent
		relisted bool
		want     string
	}{
		"missed update": {edit(func(e []podEvent) []podEvent { return slices.Delete(e, 2, 3) }), false,
			"acknowledged write at resourceVersion 12 never seen"},
		"missed delete": {edit(func(e []podEvent) []podEvent { return e[:4] }), false,
			"deletion acknowledged but never seen"},
		"missed create": {edit(func(e []podEvent) []podEvent { return []podEvent{e[0], e[2], e[4]} }), false,
			"b: never seen"},
		"change delivered twice": {edit(func(e []podEvent) []podEvent {
			return slices.Insert(e, 3, podEvent{Type: "update", Name: "a", UID: "ua", OldRV: 10, RV: 12})
		}), true, "resourceVersion not increasing"},
		"duplicated add": {edit(func(e []podEvent) []podEvent {
			return slices.Insert(e, 2, podEvent{Type: "add", Name: "a", UID: "ua", RV: 10})
		}), true, "2 adds"},
		"update delivered twice by the watch": {edit(func(e []podEvent) []podEvent {
			return slices.Insert(e, 4, podEvent{Type: "update", Name: "b", UID: "ub", OldRV: 13, RV: 13})
		}), false, "delivered again by the watch"},
		"duplicated delete": {append(slices.Clone(good), good[4]), true, "2 deletes"},
		"delete with a stale version": {edit(func(e []podEvent) []podEvent { e[4].RV = 12; return e }), true,
			"resourceVersion not increasing"},
		"out of global order": {edit(func(e []podEvent) []podEvent { e[0], e[1] = e[1], e[0]; return e }), false,
			"out of resourceVersion order"},
		"unknown pod": {append(slices.Clone(good), podEvent{Type: "add", Name: "z", RV: 20}), false,
			"never created"},
		"wrong uid": {edit(func(e []podEvent) []podEvent { e[1].UID = "other"; return e }), false, "has uid other"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := checkPodEvents(tc.events, writes(), tc.relisted)
			if tc.want == "" {
				if len(p) != 0 {
					t.Fatalf("rejected: %v", p)
				}
				return
			}
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("want a problem containing %q, got %v", tc.want, p)
			}
		})
	}
}
