package api

import (
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

func TestCheckJSONDepth(t *testing.T) {
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name     string
		input    string
		limit    int
		wantErr  bool
		wantDoc  int
		wantLine int
	}{
		{"flat object", `{"a":1,"b":[1,2]}`, 3, false, 0, 0},
		{"exactly at the limit", nested(3), 3, false, 0, 0},
		{"one over the limit", nested(4), 3, true, 1, 1},
		{"objects count as arrays do", `{"a":{"b":{"c":{}}}}`, 3, true, 1, 1},
		{"brackets in strings do not count", `{"a":"[[[[[[{{{{"}`, 2, false, 0, 0},
		{"escaped quotes stay in the string", `{"a":"\"[[[[[[\\"}`, 2, false, 0, 0},
		{"second document of a stream", "{}\n{\"a\":\n[[[1]]]}", 3, true, 2, 3},
		{"unbalanced closers do not go negative", "]]]]" + nested(2), 2, false, 0, 0},
		{"200,000 nested lists", `{"spec":{"containers":[{"command":` + nested(200000) + `}]}}`, MaxManifestDepth, true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckJSONDepth([]byte(tt.input), tt.limit)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CheckJSONDepth = %v, want nil", err)
				}
				return
			}
			var de *DepthError
			if !errors.As(err, &de) {
				t.Fatalf("CheckJSONDepth = %v, want a *DepthError", err)
			}
			if de.Limit != tt.limit || de.Document != tt.wantDoc || de.Line != tt.wantLine {
				t.Errorf("got %+v, want limit %d, document %d, line %d", *de, tt.limit, tt.wantDoc, tt.wantLine)
			}
		})
	}
}

// TestDecodeManifestsDepthCap sends what drove an agent to 24 GB (a pod
// whose command is 200,000 nested lists, 400 KB) and its YAML forms through
// DecodeManifests: each is refused with a 400 naming the limit, and the
// decoding allocates a small multiple of the input, not gigabytes.
func TestDecodeManifestsDepthCap(t *testing.T) {
	const n = 200000
	pod := func(command string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep"},"spec":{"containers":[{"name":"a","image":"x","command":` + command + `}]}}`
	}
	tests := []struct {
		name     string
		input    string
		maxAlloc uint64 // bytes
	}{
		{"JSON, 200,000 nested lists", pod(strings.Repeat("[", n) + strings.Repeat("]", n)), 1 << 20},
		{"JSON, 101 nested objects", pod(strings.Repeat(`{"a":`, 101) + "1" + strings.Repeat("}", 101)), 1 << 20},
		{"JSON stream, deep second document", pod(`["x"]`) + "\n" + pod(strings.Repeat("[", n)+strings.Repeat("]", n)), 1 << 20},
		// The YAML parser stops at its own 10,000 levels; what it built by
		// then is bounded, then the converted JSON is held to 100.
		{"YAML flow, 200,000 nested lists", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n", 64 << 20},
		{"YAML flow, 5,000 nested lists", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", 64 << 20},
		{"YAML block, 5,000 compact nested sequences", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    " + strings.Repeat("- ", 5000) + "x\n", 64 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			objs, err := DecodeManifests([]byte(tt.input))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("decoded %d objects, want an error", len(objs))
			}
			if !strings.Contains(err.Error(), "exceeded max depth of") {
				t.Errorf("error %q does not name the depth limit", err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Status().Code != http.StatusBadRequest {
				t.Errorf("error %v is not a 400 DecodeError", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tt.maxAlloc {
				t.Errorf("decoding %d bytes allocated %d bytes, want at most %d", len(tt.input), alloc, tt.maxAlloc)
			}
		})
	}
}

// TestDecodeManifestsDepthNamesDocument: the error of a deep document of a
// stream names that document, as other decoding errors do.
func TestDecodeManifestsDepthNamesDocument(t *testing.T) {
	deep := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},"spec":` + strings.Repeat("[", 150) + strings.Repeat("]", 150) + `}`
	_, err := DecodeManifests([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}` + "\n" + deep))
	var de *DecodeError
	if !errors.As(err, &de) || de.Document != 2 {
		t.Fatalf("DecodeManifests = %v, want a DecodeError for document 2", err)
	}
	const want = "document 2: exceeded max depth of 100 at line 2: objects and lists may nest at most 100 deep"
	if err.Error() != want {
		t.Errorf("error:\n got: %s\nwant: %s", err, want)
	}
}

// TestDecodeManifestsRealDepthPasses: a manifest as deep as real ones get
// (affinity terms inside a Deployment inside a List) is not refused.
func TestDecodeManifestsRealDepthPasses(t *testing.T) {
	if err := CheckJSONDepth([]byte(`{"items":[{"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"values":["a"]}]}]}}}}}}}]}`), MaxManifestDepth); err != nil {
		t.Fatal(err)
	}
}
