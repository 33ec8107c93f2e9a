package consensus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// The files of testdata/compat were written by gossipod before its object
// model moved to k8s.io/api and k8s.io/apimachinery (commit fee9f5d), with
// its own hand-written types:
//
//   - snapshot-full.json: a snapshotData with every field of every type set
//     (filled by reflection), so that a field the new types lack, rename or
//     encode differently shows up;
//   - snapshot-nodes.json: the state after registering a node and marking it
//     Ready, as a real snapshot holds it;
//   - entry-createpod.json: a CreatePod log entry.
//
// Snapshots and log entries outlive upgrades: an agent restarted on new code
// restores its last snapshot and replays its log, and a new leader may
// replicate entries an older one wrote.

// readCompat reads one file of testdata/compat.
func readCompat(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "compat", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// semanticJSON decodes JSON into generic values for comparison.
func semanticJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// expectedNodeDiff tells the two differences the move of Node to
// corev1.Node makes on purpose: status.allocated, which the old type had,
// was derived from the pods on every read and never meant to be stored (it
// is now the gossipod.io/allocated annotation, derived the same way); and
// status.daemonEndpoints, which corev1's type always writes, empty.
func expectedNodeDiff(diff string) bool {
	return strings.HasPrefix(diff, ".nodes[0].status.allocated: lost") ||
		diff == ".nodes[0].status.daemonEndpoints: added (map[kubeletEndpoint:map[Port:0]])"
}

// TestDecodeSnapshotOfOldTypes decodes a snapshot written with the old
// types, every field set, and checks that encoding it again says the same:
// nothing lost, nothing renamed, nothing re-encoded.
func TestDecodeSnapshotOfOldTypes(t *testing.T) {
	old := readCompat(t, "snapshot-full.json")
	var d snapshotData
	if err := json.Unmarshal(old, &d); err != nil {
		t.Fatalf("decode: %v", err)
	}
	again, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	for _, diff := range jsonDiff("", semanticJSON(t, old), semanticJSON(t, again)) {
		if !expectedNodeDiff(diff) {
			t.Errorf("re-encoded snapshot: %s", diff)
		}
	}
}

// TestRestoreSnapshotOfOldTypes restores a real snapshot written with the
// old types, and checks the state and a new snapshot of it.
func TestRestoreSnapshotOfOldTypes(t *testing.T) {
	old := readCompat(t, "snapshot-nodes.json")
	f := &fsm{state: NewState()}
	if err := f.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for _, diff := range jsonDiff("", semanticJSON(t, old), semanticJSON(t, snapshotOf(t, f))) {
		if !expectedNodeDiff(diff) {
			t.Errorf("snapshot of the restored state: %s", diff)
		}
	}
	n := mustNode(t, f.state, "a")
	if n.UID != "uid-a" || !api.NodeIsReady(n) || n.CreationTimestamp.IsZero() {
		t.Errorf("restored node: uid %q, ready %v, created %v; want uid-a, ready, a creation time", n.UID, api.NodeIsReady(n), n.CreationTimestamp)
	}
}

// TestApplyEntryOfOldTypes applies a log entry written with the old types.
func TestApplyEntryOfOldTypes(t *testing.T) {
	var cmd Command
	if err := json.Unmarshal(readCompat(t, "entry-createpod.json"), &cmd); err != nil {
		t.Fatalf("decode entry: %v", err)
	}
	f := &fsm{state: NewState()}
	if err := applyEntry(t, f, 1, cmd); err != nil {
		t.Fatalf("apply: %v", err)
	}
	p, ok := f.state.Pod("default", "web")
	if !ok {
		t.Fatal("pod default/web not created")
	}
	if p.UID != "uid-web" || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != "uid-rs" ||
		p.CreationTimestamp.IsZero() || len(p.Spec.Containers) != 1 || p.Spec.Containers[0].Ports[0].HostPort != 8080 {
		t.Errorf("pod after the old entry: %s", mustJSON(t, p))
	}
}

// jsonDiff lists where two decoded JSON values differ, by path. A null
// that is now left out, or a key now written with its zero value, is no
// difference: both decode to the zero value (metav1.ObjectMeta omits a zero
// creationTimestamp, gossipod's own type wrote null; corev1.Event writes
// an empty reportingComponent).
func jsonDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			switch gv, ok := g[k]; {
			case ok:
				out = append(out, jsonDiff(path+"."+k, w[k], gv)...)
			case w[k] != nil:
				out = append(out, fmt.Sprintf("%s.%s: lost (was %v)", path, k, w[k]))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if _, ok := w[k]; !ok && !isZeroJSON(g[k]) {
				out = append(out, fmt.Sprintf("%s.%s: added (%v)", path, k, g[k]))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		var out []string
		for i := range w {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: %v, was %v", path, got, want)}
	}
	return nil
}

// isZeroJSON tells whether a decoded JSON value decodes to a Go zero value.
func isZeroJSON(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	}
	return false
}
