package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// FuzzApply applies arbitrary patches of the three types to arbitrary
// objects (as the server only ever patches an object it marshalled, an
// original that is not a JSON object is skipped). A patch that does not
// apply must be refused with the Status a client can act on (400, 413 or
// 422), never a panic or a 500; one that applies must give a JSON object
// within the depth bound, no larger than the copy bound allows, and a JSON
// merge patch must be idempotent (RFC 7386: applying it to its own result
// changes nothing), which is what lets PATCH retry on a conflict.
func FuzzApply(f *testing.F) {
	for _, s := range []struct {
		t            byte
		orig, change string
	}{
		{0, pod, `[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.28"}]`},
		{0, pod, `[{"op":"test","path":"/metadata/name","value":"web"},{"op":"remove","path":"/metadata/labels/app"}]`},
		{0, pod, `[{"op":"copy","from":"/spec","path":"/metadata/annotations"},{"op":"move","from":"/status","path":"/x"}]`},
		{0, pod, `[{"op":"add","path":"/spec/containers/-","value":{"name":"c","image":"i"}}]`},
		{1, pod, `{"metadata":{"labels":{"app":null,"tier":"web"}}}`},
		{1, pod, `{"spec":{"containers":[{"name":"web","image":"x"}]}}`},
		{2, pod, `{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}`},
		{2, pod, `{"spec":{"containers":[{"name":"log","$patch":"delete"}]}}`},
		{2, pod, `{"spec":{"$setElementOrder/containers":[{"name":"log"},{"name":"web"}],"containers":[{"name":"log","image":"b"}]}}`},
		{2, pod, `{"metadata":{"$retainKeys":["name"],"name":"web"}}`},
		{2, pod, `{"spec":{"containers":[{"name":"web","ports":[{"containerPort":81,"$patch":"replace"}]}]}}`},
		{1, deployment, `{"spec":{"replicas":5}}`},
	} {
		f.Add(s.t, []byte(s.orig), []byte(s.change))
	}
	f.Fuzz(func(t *testing.T, typ byte, original, change []byte) {
		var obj map[string]any
		if json.Unmarshal(original, &obj) != nil || obj == nil {
			return
		}
		pt := Supported[int(typ)%len(Supported)]
		patched, err := Apply(pt, original, change, &corev1.Pod{})
		if err != nil {
			var st *api.Status
			if !errors.As(err, &st) {
				t.Fatalf("%s: error %T (%v), want a *api.Status", pt, err, err)
			}
			switch st.Code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			default:
				t.Fatalf("%s: status %d (%s), want 400, 413 or 422", pt, st.Code, st.Message)
			}
			if patched != nil {
				t.Fatalf("%s: patched object returned with error %v", pt, err)
			}
			return
		}
		var out map[string]any
		if err := json.Unmarshal(patched, &out); err != nil || out == nil {
			t.Fatalf("%s: patched object is not a JSON object (%v):\n%s", pt, err, patched)
		}
		if err := api.CheckJSONDepth(patched, api.MaxManifestDepth); err != nil {
			t.Fatalf("%s: patched object deeper than the bound: %v", pt, err)
		}
		// Every byte of the result comes from the original, the patch, or
		// the copies the bound allows; re-encoding may escape a byte as
		// \u00XX (6 bytes).
		if limit := 6 * (len(original) + len(change) + MaxCopyBytes); len(patched) > limit {
			t.Fatalf("%s: patched object of %d bytes from %d + %d bytes", pt, len(patched), len(original), len(change))
		}
		if pt == types.MergePatchType {
			again, err := Apply(pt, patched, change, nil)
			if err != nil {
				t.Fatalf("merge patch applied once but not twice: %v", err)
			}
			if !jsonEqual(patched, again) {
				t.Fatalf("merge patch is not idempotent:\n%s\n%s", patched, again)
			}
		}
	})
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ea, _ := json.Marshal(va)
	eb, _ := json.Marshal(vb)
	return bytes.Equal(ea, eb)
}
