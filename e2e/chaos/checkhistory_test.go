package chaos

import (
	"slices"
	"testing"
	"time"
)

// at is a time t seconds into a test history.
func at(t int) time.Time { return time.Date(2026, 1, 1, 0, 0, t, 0, time.UTC) }

// op builds an operation on deployments/chaos/d (or the resource in res)
// from second start to second end.
func op(verb string, start, end int, out Outcome, value string) Op {
	return Op{Verb: verb, Resource: "deployments", Namespace: "chaos", Name: "d", Value: value,
		Start: at(start), End: at(end), Outcome: out}
}

func withUID(o Op, uid string) Op { o.UID = uid; return o }
func onPod(o Op) Op               { o.Resource = "pods"; return o }
func replicas(o Op, n int32) Op   { o.Replicas = &n; return o }
func named(o Op, name string) Op  { o.Name = name; return o }
func dep(value string, r int32) FinalObject {
	return FinalObject{Exists: true, UID: "u1", Value: value, Replicas: r}
}

const dKey = "deployments/chaos/d"

func TestCheckHistory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []Op
		final map[string]FinalObject
		want  []string // the invariants violated, in order
	}{
		{
			name:  "acked create present",
			ops:   []Op{op("create", 0, 1, OK, "a")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
		},
		{
			name:  "acked create lost",
			ops:   []Op{op("create", 0, 1, OK, "a")},
			final: map[string]FinalObject{},
			want:  []string{InvLostWrite, InvLostWrite}, // its value and its replicas
		},
		{
			name:  "acked pod create lost: pods have no replicas",
			ops:   []Op{onPod(op("create", 0, 1, OK, "a"))},
			final: map[string]FinalObject{},
			want:  []string{InvLostWrite},
		},
		{
			name:  "unknown create may never have happened",
			ops:   []Op{op("create", 0, 1, Unknown, "a")},
			final: map[string]FinalObject{},
		},
		{
			name:  "unknown create may have happened",
			ops:   []Op{op("create", 0, 1, Unknown, "a")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
		},
		{
			name:  "failed create visible",
			ops:   []Op{op("create", 0, 1, Failed, "a")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
			want:  []string{InvFailedWriteVisible, InvFailedWriteVisible},
		},
		{
			name:  "a value nobody wrote",
			ops:   []Op{op("create", 0, 1, OK, "a")},
			final: map[string]FinalObject{dKey: dep("zzz", 1)},
			want:  []string{InvLostWrite, InvPhantomValue},
		},
		{
			name: "sequential updates, the last shows",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 3, OK, "b"),
				op("update", 4, 5, OK, "c")},
			final: map[string]FinalObject{dKey: dep("c", 1)},
		},
		{
			name: "sequential updates, an older one shows: the last acked is lost",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 3, OK, "b"),
				op("update", 4, 5, OK, "c")},
			final: map[string]FinalObject{dKey: dep("b", 1)},
			want:  []string{InvLostWrite},
		},
		{
			name: "concurrent updates may be ordered either way (first shows)",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 5, OK, "b"),
				op("update", 3, 4, OK, "c")},
			final: map[string]FinalObject{dKey: dep("b", 1)},
		},
		{
			name: "concurrent updates may be ordered either way (second shows)",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 5, OK, "b"),
				op("update", 3, 4, OK, "c")},
			final: map[string]FinalObject{dKey: dep("c", 1)},
		},
		{
			name: "an unknown update, long before, may still land last",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 3, Unknown, "b"),
				op("update", 10, 11, OK, "c")},
			final: map[string]FinalObject{dKey: dep("b", 1)},
		},
		{
			name: "a failed update cannot supersede",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 3, OK, "b"),
				op("update", 4, 5, Failed, "c")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
			want:  []string{InvLostWrite},
		},
		{
			name: "a failed update shows",
			ops: []Op{op("create", 0, 1, OK, "a"),
				op("update", 4, 5, Failed, "c")},
			final: map[string]FinalObject{dKey: dep("c", 1)},
			want:  []string{InvLostWrite, InvFailedWriteVisible},
		},
		{
			name: "acked delete stays deleted",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 3, OK, "b"),
				op("delete", 4, 5, OK, "")},
			final: map[string]FinalObject{},
		},
		{
			name:  "acked delete comes back",
			ops:   []Op{op("create", 0, 1, OK, "a"), op("delete", 4, 5, OK, "")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
			want:  []string{InvResurrected},
		},
		{
			name:  "the deleted uid comes back, terminating is not back",
			ops:   []Op{withUID(op("create", 0, 1, OK, "a"), "u1"), withUID(op("delete", 4, 5, OK, ""), "u1")},
			final: map[string]FinalObject{dKey: {Exists: true, Terminating: true, UID: "u1", Value: "a", Replicas: 1}},
		},
		{
			name: "the deleted uid comes back, even with a create after",
			ops: []Op{withUID(op("create", 0, 1, OK, "a"), "u1"), withUID(op("delete", 4, 5, OK, ""), "u1"),
				op("create", 6, 7, Unknown, "a2")},
			final: map[string]FinalObject{dKey: dep("a", 1)},
			want:  []string{InvResurrected},
		},
		{
			name: "deleted then created again",
			ops: []Op{op("create", 0, 1, OK, "a"), op("delete", 2, 3, OK, ""),
				op("create", 4, 5, OK, "b")},
			final: map[string]FinalObject{dKey: dep("b", 1)},
		},
		{
			name: "recreated by a create concurrent with the delete",
			ops: []Op{op("create", 0, 1, OK, "a"), op("delete", 2, 6, OK, ""),
				op("create", 3, 4, Unknown, "b")},
			final: map[string]FinalObject{dKey: dep("b", 1)},
		},
		{
			name: "a create that ended before the delete began cannot explain it back",
			ops: []Op{op("create", 0, 1, OK, "a"), named(op("create", 0, 1, OK, "x"), "other"),
				op("delete", 4, 5, OK, ""), op("create", 2, 3, Failed, "b")},
			final: map[string]FinalObject{dKey: dep("b", 1), "deployments/chaos/other": dep("x", 1)},
			// Its replicas (1) an acknowledged create set too.
			want: []string{InvLostWrite, InvFailedWriteVisible, InvResurrected},
		},
		{
			name: "a delete concurrent with an update: either order",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 5, OK, "b"),
				op("delete", 3, 4, OK, "")},
			final: map[string]FinalObject{},
		},
		{
			name: "gone without any delete",
			ops: []Op{op("create", 0, 1, OK, "a"), op("update", 2, 5, OK, "b"),
				op("delete", 3, 4, Failed, "")},
			final: map[string]FinalObject{},
			want:  []string{InvLostWrite, InvLostWrite, InvLostWrite},
		},
		{
			name: "scale acked and shown",
			ops: []Op{replicas(op("create", 0, 1, OK, "a"), 2), op("scale", 2, 3, OK, "5"),
				op("update", 4, 5, OK, "b")},
			final: map[string]FinalObject{dKey: dep("b", 5)},
		},
		{
			name: "scale lost: an update that does not set replicas cannot supersede it",
			ops: []Op{replicas(op("create", 0, 1, OK, "a"), 2), op("scale", 2, 3, OK, "5"),
				op("update", 4, 5, OK, "b")},
			final: map[string]FinalObject{dKey: dep("b", 2)},
			want:  []string{InvLostWrite},
		},
		{
			name: "concurrent scales",
			ops: []Op{replicas(op("create", 0, 1, OK, "a"), 2), op("scale", 2, 5, OK, "5"),
				op("scale", 3, 4, OK, "3")},
			final: map[string]FinalObject{dKey: dep("a", 5)},
		},
		{
			name:  "replicas nobody asked for",
			ops:   []Op{replicas(op("create", 0, 1, OK, "a"), 2)},
			final: map[string]FinalObject{dKey: dep("a", 7)},
			want:  []string{InvLostWrite, InvPhantomValue},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckHistory(tc.ops, tc.final)
			var names []string
			for _, v := range got {
				names = append(names, v.Invariant)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("CheckHistory: got %v, want %v", names, tc.want)
				for _, v := range got {
					t.Logf("  %s: %s", v.Invariant, v.Detail)
				}
			}
		})
	}
}

func TestCheckConvergence(t *testing.T) {
	final := map[string]FinalObject{
		"deployments/chaos/fast":    {Exists: true, Replicas: 3, ReadyReplicas: 3, ConvergedAfter: 5 * time.Second},
		"deployments/chaos/slow":    {Exists: true, Replicas: 3, ReadyReplicas: 3, ConvergedAfter: 90 * time.Second},
		"deployments/chaos/short":   {Exists: true, Replicas: 3, ReadyReplicas: 2, ConvergedAfter: -1},
		"deployments/chaos/never":   {Exists: true, Replicas: 1, ReadyReplicas: 1, ConvergedAfter: -1},
		"deployments/chaos/deleted": {},
		"pods/chaos/p":              {Exists: true},
	}
	got, longest := CheckConvergence(final, time.Minute)
	var details []string
	for _, v := range got {
		if v.Invariant != InvNotConverged {
			t.Errorf("invariant %q, want %q", v.Invariant, InvNotConverged)
		}
		details = append(details, v.Detail)
	}
	want := []string{
		"deployments/chaos/never: never seen with all 1 replicas ready after the last heal",
		"deployments/chaos/short: 2 of 3 replicas ready at the final read",
		"deployments/chaos/slow: all 3 replicas ready 1m30s after the last heal, more than the 1m0s allowed",
	}
	if !slices.Equal(details, want) {
		t.Errorf("CheckConvergence:\n got %q\nwant %q", details, want)
	}
	if longest != 90*time.Second {
		t.Errorf("longest = %s, want 1m30s", longest)
	}
}
