package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
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

// TestCheckHistoryAcceptsLinearizable generates histories of concurrent
// clients against one Deployment that a linearizable store could have
// produced — each write takes effect at one point between its start and
// its end (an unknown one at any point after its start, or never; a failed
// one never) — and requires CheckHistory to accept every one of them: the
// checker must not cry wolf on concurrency it cannot see.
func TestCheckHistoryAcceptsLinearizable(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 2))
	tried := map[string]int{}
	defer func() { t.Logf("mutations tried: %v", tried) }()
	for iter := range 3000 {
		ops, points := randomHistory(rnd)
		final := replayModel(ops, points)
		if got := CheckHistory(ops, map[string]FinalObject{dKey: final}); len(got) > 0 {
			t.Errorf("history %d: a linearizable history judged %s: %s", iter, got[0].Invariant, got[0].Detail)
			for i, op := range ops {
				t.Logf("  %s %q %s..%s %s, effect at %v", op.Verb, op.Value, op.Start.Format("05.000"), op.End.Format("05.000"), op.Outcome, points[i])
			}
			t.Logf("  final %+v", final)
			return
		}
		// And what no such store could show must be caught.
		for _, m := range mutations(ops, final) {
			tried[m.name]++
			if got := CheckHistory(ops, map[string]FinalObject{dKey: m.final}); !hasInvariant(got, m.want) {
				t.Errorf("history %d: %s: got %v, want %s", iter, m.name, got, m.want)
				return
			}
		}
	}
}

func hasInvariant(vs []Violation, inv string) bool {
	return slices.ContainsFunc(vs, func(v Violation) bool { return v.Invariant == inv })
}

type mutation struct {
	name, want string
	final      FinalObject
}

// mutations are final states the history cannot explain: a value nobody
// wrote, one only a failed write wrote, one an acknowledged write
// overwrote after it was acknowledged, and the object gone though it was
// acknowledged and nothing may have deleted it; and an object whose delete
// was acknowledged back.
func mutations(ops []Op, final FinalObject) []mutation {
	var out []mutation
	for _, d := range ops {
		if d.Verb == "delete" && d.Outcome == OK && d.UID != "" {
			m := FinalObject{Exists: true, UID: d.UID, Value: final.Value, Replicas: final.Replicas}
			out = append(out, mutation{"the deleted object back", InvResurrected, m})
			break
		}
	}
	if final.Exists {
		m := final
		m.Value = "phantom"
		out = append(out, mutation{"a value nobody wrote", InvPhantomValue, m})
		for _, o := range ops {
			if o.Outcome == Failed && o.Value != "" && o.Verb != "scale" &&
				!slices.ContainsFunc(ops, func(x Op) bool { return x.Outcome != Failed && x.Value == o.Value && x.Verb != "scale" }) {
				m := final
				m.Value = o.Value
				out = append(out, mutation{"a failed write's value", InvFailedWriteVisible, m})
				break
			}
		}
		setsValue := func(o Op) bool { return o.Outcome == OK && (o.Verb == "create" || o.Verb == "update") }
	stale:
		for _, w := range ops {
			for _, w2 := range ops {
				if setsValue(w) && setsValue(w2) && w2.Start.After(w.End) {
					m := final
					m.Value = w.Value
					out = append(out, mutation{"a value overwritten by a later acknowledged write", InvLostWrite, m})
					break stale
				}
			}
		}
		acked := slices.ContainsFunc(ops, func(o Op) bool { return o.Outcome == OK && o.Verb != "delete" })
		deletes := slices.ContainsFunc(ops, func(o Op) bool { return o.Verb == "delete" && o.Outcome != Failed })
		if acked && !deletes {
			out = append(out, mutation{"gone without a delete", InvLostWrite, FinalObject{}})
		}
	}
	return out
}

// randomHistory draws 1-4 clients' sequential operations on dKey, and the
// point each takes effect at (nil: it never does, for now).
func randomHistory(rnd *rand.Rand) ([]Op, []*time.Time) {
	var ops []Op
	var points []*time.Time
	verbs := []string{"create", "create", "update", "update", "scale", "delete"}
	seq := 0
	for range 1 + rnd.IntN(4) {
		now := at(0).Add(time.Duration(rnd.IntN(300)) * time.Millisecond)
		for range 1 + rnd.IntN(6) {
			seq++
			o := op(verbs[rnd.IntN(len(verbs))], 0, 0, OK, "")
			o.Start = now
			o.End = now.Add(time.Duration(1+rnd.IntN(400)) * time.Millisecond)
			switch o.Verb {
			case "create":
				o.Value = fmt.Sprintf("v%d", seq)
				if rnd.IntN(2) == 0 {
					o = replicas(o, int32(rnd.IntN(4)))
				}
			case "update":
				o.Value = fmt.Sprintf("v%d", seq)
			case "scale":
				o.Value = fmt.Sprint(rnd.IntN(4))
			}
			var p *time.Time
			switch r := rnd.IntN(10); {
			case r < 7: // within its request
				pt := o.Start.Add(time.Duration(rnd.Int64N(int64(o.End.Sub(o.Start)) + 1)))
				p = &pt
			case r < 9: // a request given up on that lands later
				pt := o.Start.Add(time.Duration(rnd.IntN(2000)) * time.Millisecond)
				p = &pt
				o.Outcome = Unknown
			default: // lost
				o.Outcome = Unknown
			}
			ops = append(ops, o)
			points = append(points, p)
			now = o.End.Add(time.Duration(rnd.IntN(100)) * time.Millisecond)
		}
	}
	return ops, points
}

// replayModel applies the operations at their points to a register of
// what the store holds, in the order of the points, and sets each
// operation's outcome as a client would see it: a write whose precondition
// does not hold (create of an existing object, update, scale or delete of
// a missing one) fails, and the same for a lost request stays unknown.
// Acknowledged creates and deletes learn the object's uid.
func replayModel(ops []Op, points []*time.Time) FinalObject {
	order := make([]int, 0, len(ops))
	for i, p := range points {
		if p != nil {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return points[order[a]].Before(*points[order[b]]) })
	var f FinalObject
	uids := 0
	for _, i := range order {
		o := &ops[i]
		ok := false
		switch o.Verb {
		case "create":
			if ok = !f.Exists; ok {
				uids++
				f = FinalObject{Exists: true, UID: fmt.Sprintf("uid-%d", uids), Value: o.Value, Replicas: 1}
				if o.Replicas != nil {
					f.Replicas = *o.Replicas
				}
			}
		case "update":
			if ok = f.Exists; ok {
				f.Value = o.Value
			}
		case "scale":
			if ok = f.Exists; ok {
				n, _ := strconv.Atoi(o.Value)
				f.Replicas = int32(n)
			}
		case "delete":
			if ok = f.Exists; ok {
				o.UID = f.UID
				f = FinalObject{}
			}
		}
		if o.Verb == "create" && ok {
			o.UID = f.UID
		}
		if !ok && o.Outcome == OK {
			o.Outcome, o.UID = Failed, ""
		}
		if o.Outcome == Unknown {
			o.UID = ""
		}
	}
	return f
}
