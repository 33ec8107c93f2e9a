// Package patch serves Kubernetes' PATCH: the three patch types kubectl
// and client-go send — strategic merge patch (kubectl apply, set image,
// rollout restart, cordon), JSON merge patch (label, annotate, scale) and
// JSON patch (RFC 6902) — applied to an object's JSON form, the way
// kube-apiserver's patcher does (k8s.io/apiserver/pkg/endpoints/handlers/
// patch.go), with the same libraries: apimachinery's strategicpatch, which
// reads the merge keys and strategies from the k8s.io/api struct tags, and
// evanphx/json-patch (gopkg.in/evanphx/json-patch.v4, the version
// apimachinery uses) for the other two.
//
// The result is decoded with gossipod's strict decoder, so a patch cannot
// add a field gossipod does not implement: it is refused with the field's
// path, as a manifest would be. It then goes through the caller's update
// path, the one PUT uses, so validation and immutable fields are the same
// for both. Server-side apply is not implemented: its patch type is a 415,
// which kubectl reports as "Server-side apply not available on the
// server".
//
// The package depends on the api package and apimachinery only; a handler
// describes its kind with a Target.
package patch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync/atomic"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kjson "sigs.k8s.io/json"

	"github.com/gossipod/gossipod/api"
)

// Supported are the patch types gossipod applies, in the order
// kube-apiserver lists them in its 415.
var Supported = []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}

// MaxOperations bounds the operations of one JSON patch, as
// kube-apiserver's maxJSONPatchOperations does.
const MaxOperations = 10000

// MaxCopyBytes bounds how much a JSON patch's copy operations may add to
// the document in all (kube-apiserver's --json-patch-max-copy-bytes
// default): a body of small copy operations could otherwise double the
// object with each one.
const MaxCopyBytes = 3 << 20

// MaxConflictRetries is how many times Do re-reads the object and applies
// the patch again when the update loses a race with another write, as
// kube-apiserver retries an unconditional patch (its patcher's former
// maxRetryWhenPatchConflicts).
const MaxConflictRetries = 5

// StatusReasonUnsupportedMediaType is the reason of a 415, in Kubernetes'
// words.
const StatusReasonUnsupportedMediaType = api.StatusReason("UnsupportedMediaType")

func init() {
	// evanphx/json-patch v4 bounds copies with a package variable; raise it
	// from "unlimited" to the bound, as kube-apiserver does at start, unless
	// something in the process already set a lower one.
	for {
		existing := atomic.LoadInt64(&jsonpatch.AccumulatedCopySizeLimit)
		if existing > 0 && existing <= MaxCopyBytes {
			return
		}
		if atomic.CompareAndSwapInt64(&jsonpatch.AccumulatedCopySizeLimit, existing, MaxCopyBytes) {
			return
		}
	}
}

// TypeOf reads a PATCH request's Content-Type (parameters such as charset
// ignored) and returns its patch type, or a 415 Unsupported Media Type
// Status listing the supported ones. Server-side apply's types
// (application/apply-patch+yaml and +cbor) get the 415 too, with a word
// on what to do instead.
func TypeOf(contentType string) (types.PatchType, error) {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0])
	}
	for _, t := range Supported {
		if mediaType == string(t) {
			return t, nil
		}
	}
	accepted := make([]string, len(Supported))
	for i, t := range Supported {
		accepted[i] = string(t)
	}
	msg := "the body of the request was in an unknown format - accepted media types include: " + strings.Join(accepted, ", ")
	if mediaType == string(types.ApplyYAMLPatchType) || mediaType == string(types.ApplyCBORPatchType) {
		msg += " (gossipod does not implement server-side apply; use kubectl apply without --server-side)"
	}
	return "", api.NewStatus(http.StatusUnsupportedMediaType, StatusReasonUnsupportedMediaType, msg)
}

// Apply applies a patch of type t to original, an object's JSON, and
// returns the patched JSON. schema is the k8s.io/api struct (a
// corev1.Pod{}) whose patchStrategy and patchMergeKey tags a strategic
// merge patch follows; it is unused by the other types. Errors are
// Status objects: 400 for a patch that is not a patch, 413 for one over
// MaxOperations, 422 for one that does not apply (a JSON patch "test"
// that fails, a path that does not exist, a strategic merge directive
// that does not fit the object).
func Apply(t types.PatchType, original, patch []byte, schema any) ([]byte, error) {
	if err := api.CheckJSONDepth(patch, api.MaxManifestDepth); err != nil {
		var de *api.DepthError
		errors.As(err, &de)
		return nil, de.Status()
	}
	if err := checkPatchSyntax(t, patch); err != nil {
		return nil, err
	}
	var (
		patched []byte
		err     error
	)
	switch t {
	case types.JSONPatchType:
		ops, derr := jsonpatch.DecodePatch(patch)
		if derr != nil {
			return nil, api.NewBadRequest(derr.Error())
		}
		if len(ops) > MaxOperations {
			return nil, api.NewRequestEntityTooLarge(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", MaxOperations, len(ops)))
		}
		if err := checkValues(ops); err != nil {
			return nil, err
		}
		if patched, err = ops.Apply(original); err != nil {
			return nil, unprocessable(err.Error())
		}
	case types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(original, patch); err != nil {
			if errors.Is(err, jsonpatch.ErrBadJSONPatch) {
				return nil, api.NewBadRequest(err.Error())
			}
			return nil, unprocessable(err.Error())
		}
	case types.StrategicMergePatchType:
		if patched, err = strategicMergePatch(original, patch, schema); err != nil {
			return nil, strategicError(err)
		}
	default:
		_, err := TypeOf(string(t))
		return nil, err
	}
	if err := api.CheckJSONDepth(patched, api.MaxManifestDepth); err != nil {
		return nil, unprocessable("the patched object is too deeply nested: " + err.Error())
	}
	return patched, nil
}

// checkPatchSyntax reads the patch as kube-apiserver does with
// fieldValidation=Strict (kubectl's default): it must be JSON, of the
// shape its type wants (an object, or a list of operations for a JSON
// patch), with no key given twice.
func checkPatchSyntax(t types.PatchType, patch []byte) error {
	var v any
	strictErrs, err := kjson.UnmarshalStrict(patch, &v)
	if err != nil {
		return api.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return api.NewBadRequest("error decoding patch: strict decoding error: " + strings.Join(msgs, ", "))
	}
	switch v.(type) {
	case []any:
		if t != types.JSONPatchType {
			return api.NewBadRequest(fmt.Sprintf("a %s must be a JSON object, got a list", t))
		}
	case map[string]any:
		if t == types.JSONPatchType {
			return api.NewBadRequest("a JSON patch must be a list of operations, got an object")
		}
	default:
		return api.NewBadRequest(fmt.Sprintf("a %s must be a JSON object or list, got %s", t, bytes.TrimSpace(truncate(patch, 40))))
	}
	return nil
}

// checkValues refuses a JSON patch operation that RFC 6902 requires to
// carry a "value" member (add, replace, test; sections 4.1, 4.3, 4.6) but
// has none, with a 400 naming it. json-patch v4 dereferences the missing
// value when such an operation's path is the whole document ("") and
// panics; the HTTP server would recover, but the client would get its
// connection dropped instead of an answer.
func checkValues(ops jsonpatch.Patch) error {
	for i, op := range ops {
		switch kind := op.Kind(); kind {
		case "add", "replace", "test":
			if _, ok := op["value"]; !ok {
				return api.NewBadRequest(fmt.Sprintf("JSON patch operation %d (%q) has no \"value\"", i, kind))
			}
		}
	}
	return nil
}

// errMergeKeyNotScalar is a strategic merge patch whose list items carry
// a merge key that is an object or a list.
var errMergeKeyNotScalar = errors.New("a merge key of a list item (such as a container's name) must be a string or a number")

// strategicMergePatch is strategicpatch.StrategicMergePatch, with the
// panic it raises on a patch whose list items carry a merge key that is
// an object or a list ({"spec":{"containers":[{"name":[]}]}}: apimachinery
// compares merge key values with ==, which panics on uncomparable values)
// turned into errMergeKeyNotScalar, a 422. The merge works on documents it
// decoded itself, so nothing is left half-changed by the panic. Any other
// panic is not ours to hide and goes on.
func strategicMergePatch(original, patch []byte, schema any) (patched []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			re, ok := r.(goruntime.Error)
			if !ok || !strings.Contains(re.Error(), "uncomparable") {
				panic(r)
			}
			patched, err = nil, errMergeKeyNotScalar
		}
	}()
	return strategicpatch.StrategicMergePatch(original, patch, schema)
}

// strategicError is kube-apiserver's interpretStrategicMergePatchError:
// malformed directives are a 400, directives that do not fit the object a
// 422. Any other error of the merge (a list item without its merge key, a
// directive on the wrong type) is also the patch's fault, so it is a 422
// with the library's message rather than kube-apiserver's 500.
func strategicError(err error) error {
	switch {
	case errors.Is(err, mergepatch.ErrBadJSONDoc), errors.Is(err, mergepatch.ErrBadPatchFormatForPrimitiveList),
		errors.Is(err, mergepatch.ErrBadPatchFormatForRetainKeys), errors.Is(err, mergepatch.ErrBadPatchFormatForSetElementOrderList),
		errors.Is(err, mergepatch.ErrUnsupportedStrategicMergePatchFormat):
		return api.NewBadRequest(err.Error())
	}
	return unprocessable(err.Error())
}

// unprocessable is the 422 of a patch that cannot be applied to the
// object.
func unprocessable(msg string) *api.Status {
	return api.NewStatus(http.StatusUnprocessableEntity, api.StatusReasonInvalid, msg)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// Target is the object a PATCH changes, as its handler reaches it. T is
// the object's type (*api.Pod); its JSON is what the patch applies to.
type Target[T any] struct {
	// Kind names the object in errors ("Pod").
	Kind string
	// Schema is the k8s.io/api struct strategic merge patches follow.
	Schema any
	// Get reads the current object as a consistent read does: every
	// write acknowledged before the request is in it. A missing object
	// is a 404 Status.
	Get func(ctx context.Context) (T, error)
	// Decode turns the patched JSON into a T, strictly: a field gossipod
	// does not implement is a *api.DecodeError naming its path, and so is
	// a kind, name or namespace that no longer fits the URL.
	Decode func(patched []byte) (T, error)
	// ResourceVersion returns an object's metadata.resourceVersion.
	ResourceVersion func(T) string
	// Update writes the patched object through the update path PUT
	// uses (validation, immutable fields, the FSM's resourceVersion
	// check) and returns the object as stored. current is the object
	// the patch was applied to.
	Update func(ctx context.Context, current, patched T) (T, error)
}

// Do applies a patch of type t to the object target reaches and updates
// it, as kube-apiserver's patcher does: the patch is applied to the
// current object, whose resourceVersion the result keeps, so the update
// fails with a 409 if another write came between the read and the update;
// Do then reads the object again and re-applies the patch, at most
// MaxConflictRetries times. A patch that sets metadata.resourceVersion
// itself is a precondition: its conflict is returned at once. A patch
// that changes nothing returns the current object without a write.
func Do[T any](ctx context.Context, t types.PatchType, patch []byte, target Target[T]) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		current, err := target.Get(ctx)
		if err != nil {
			return zero, err
		}
		original, err := json.Marshal(current)
		if err != nil {
			return zero, api.NewInternalError(fmt.Errorf("encode the %s to patch: %w", target.Kind, err))
		}
		patchedJSON, err := Apply(t, original, patch, target.Schema)
		if err != nil {
			return zero, err
		}
		patched, err := target.Decode(patchedJSON)
		if err != nil {
			return zero, decodeStatus(target.Kind, err)
		}
		if again, err := json.Marshal(patched); err == nil && bytes.Equal(again, original) {
			return current, nil
		}
		precondition := target.ResourceVersion(patched) != target.ResourceVersion(current)
		updated, err := target.Update(ctx, current, patched)
		if err != nil && isConflict(err) && !precondition && attempt < MaxConflictRetries {
			continue
		}
		return updated, err
	}
}

// isConflict reports a 409 Conflict Status (not AlreadyExists).
func isConflict(err error) bool {
	var st *api.Status
	return errors.As(err, &st) && st.Code == http.StatusConflict && st.Reason == api.StatusReasonConflict
}

// decodeStatus turns the strict decoder's refusal of a patched object into
// kube-apiserver's answer to a patch whose result does not decode: 422
// Invalid, `Pod "web" is invalid: spec.containers[0].lifecycle:
// unsupported field`, with one cause per problem. A DecodeError's
// document position means nothing to the client of a PATCH and is left
// out. Other errors pass through.
func decodeStatus(kind string, err error) error {
	var de *api.DecodeError
	if !errors.As(err, &de) {
		return err
	}
	if de.Kind != "" {
		kind = de.Kind
	}
	msgs := make([]string, len(de.Causes))
	for i, c := range de.Causes {
		msgs[i] = c.String()
	}
	detail := strings.Join(msgs, ", ")
	if len(msgs) > 1 {
		detail = "[" + detail + "]"
	}
	st := api.NewStatus(http.StatusUnprocessableEntity, api.StatusReasonInvalid, fmt.Sprintf("%s %q is invalid: %s", kind, de.Name, detail))
	st.Details = &api.StatusDetails{Kind: kind, Name: de.Name, Causes: de.Causes}
	return st
}
