// Package writeoptions checks the options Kubernetes clients put on write
// requests (metav1.CreateOptions, UpdateOptions, PatchOptions and
// DeleteOptions: fieldValidation, dryRun) against what gossipod honours,
// before any handler runs, and refuses with a 400 Status the ones it
// cannot honour. Ignoring them would be worse than refusing:
//
//   - dryRun asks that nothing be changed. gossipod's handlers would make
//     the change, so `kubectl apply --dry-run=server`, `kubectl diff` or
//     `kubectl drain --dry-run=server` would really create, patch, delete
//     or evict.
//   - fieldValidation=Ignore and Warn ask that unknown fields be dropped
//     (with a warning for Warn). gossipod decodes every object strictly,
//     as fieldValidation=Strict: it cannot drop a field it does not know,
//     or one of the Kubernetes API it does not implement (a probe, a
//     securityContext), without running something else than what the
//     manifest says. Strict, and no fieldValidation at all, are what it
//     does.
//
// fieldManager is accepted and has no effect: it names the writer in
// managedFields, which gossipod does not keep.
package writeoptions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gossipod/gossipod/api"
)

// Filter returns next behind Check: a request Check refuses gets its 400
// Status and never reaches next.
func Filter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := Check(r); st != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(st.Code)
			_ = json.NewEncoder(w).Encode(st)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Check returns the 400 Status for a write request under /api or /apis
// whose options gossipod cannot honour, and nil for any other request.
// For a DELETE, and for a pod eviction (whose body carries deleteOptions),
// it reads the body to find a dryRun there too, and puts it back for the
// handler; the body must be bounded by then (the agent's limits are).
func Check(r *http.Request) *api.Status {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil
	}
	if p := r.URL.Path; !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/apis/") {
		return nil
	}
	q := r.URL.Query()
	if dr, ok := q["dryRun"]; ok {
		return dryRunRefused(dr)
	}
	if r.Method != http.MethodDelete {
		switch v := q.Get("fieldValidation"); v {
		case "", "Strict":
		case "Ignore", "Warn":
			return api.NewBadRequest(fmt.Sprintf("fieldValidation=%s is not supported: gossipod decodes every object "+
				"strictly and refuses unknown and duplicate fields (and fields of the Kubernetes API it does not "+
				"implement) rather than %s; send fieldValidation=Strict or leave it out "+
				"(kubectl: --validate=strict, the default)", v, map[string]string{"Ignore": "drop them", "Warn": "drop them with a warning"}[v]))
		default:
			return api.NewBadRequest(fmt.Sprintf("fieldValidation: Unsupported value: %q: supported values: \"Strict\"", v))
		}
	}
	if r.Method == http.MethodDelete || (r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/eviction")) {
		return checkBody(r)
	}
	return nil
}

// checkBody looks for dryRun in a DeleteOptions body, or in the
// deleteOptions of an Eviction, and restores the body.
func checkBody(r *http.Request) *api.Status {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	var rest io.Reader = bytes.NewReader(body)
	if err != nil {
		// Let the handler meet the same error (a body over its bound).
		rest = io.MultiReader(rest, errReader{err})
	}
	r.Body = io.NopCloser(rest)
	var opts struct {
		DryRun        []string `json:"dryRun"`
		DeleteOptions *struct {
			DryRun []string `json:"dryRun"`
		} `json:"deleteOptions"`
	}
	if json.Unmarshal(body, &opts) != nil {
		return nil // the handler reports what is wrong with the body
	}
	if len(opts.DryRun) > 0 {
		return dryRunRefused(opts.DryRun)
	}
	if opts.DeleteOptions != nil && len(opts.DeleteOptions.DryRun) > 0 {
		return dryRunRefused(opts.DeleteOptions.DryRun)
	}
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// dryRunRefused is the refusal of a dry run.
func dryRunRefused(values []string) *api.Status {
	return api.NewBadRequest(fmt.Sprintf("dryRun=%s is not supported: gossipod cannot run a write without making "+
		"the change, so it refuses it instead (kubectl: --dry-run=client works, --dry-run=server and diff do not)",
		strings.Join(values, ",")))
}
