package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/patch"
)

// readPatch reads a PATCH request: its patch type (a 415 for any other
// Content-Type, server-side apply's included) and its body, within the
// API's body bound. A dry run (`kubectl patch --dry-run=server`) is
// refused rather than applied: gossipod has no dry-run path, and a client
// asking for one must not find its change committed.
func readPatch(r *http.Request) (types.PatchType, []byte, error) {
	if v := r.URL.Query()["dryRun"]; len(v) > 0 {
		return "", nil, api.NewBadRequest(fmt.Sprintf("dryRun=%s: gossipod does not implement server-side dry run; nothing was changed", strings.Join(v, ",")))
	}
	t, err := patch.TypeOf(r.Header.Get("Content-Type"))
	if err != nil {
		return "", nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return "", nil, BodyError(err)
	}
	return t, body, nil
}

// servePatch reads the patch of r, applies it to target and writes the
// object as stored.
func servePatch[T any](w http.ResponseWriter, r *http.Request, target patch.Target[T]) {
	t, body, err := readPatch(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	out, err := patch.Do(r.Context(), t, body, target)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}
