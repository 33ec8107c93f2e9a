package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
)

// DecodeInto decodes one JSON object into v, a pointer to a value of a
// type shaped like this package's objects (*Node, a Scale), as strictly as
// DecodeManifests decodes a manifest: a field the type lacks, a key given
// twice or a value of the wrong type is reported at its path, all of them
// at once, as a *DecodeError (Document 1). DecodeManifests dispatches on
// apiVersion and kind among the kinds users submit; DecodeInto is for a
// caller that already knows the type, such as a PATCH of a node or of a
// Deployment's scale, whose patched object must not smuggle in a field
// gossipod would silently drop.
func DecodeInto(data []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return errors.New("DecodeInto: v must be a non-nil pointer")
	}
	derr := &DecodeError{Document: 1}
	if err := CheckJSONDepth(data, MaxManifestDepth); err != nil {
		derr.Causes = []StatusCause{{Message: err.Error()}}
		return derr
	}
	roots, err := parseJSONStream(data)
	if err != nil {
		cause := StatusCause{Message: err.Error()}
		var dup *errDuplicateKey
		if errors.As(err, &dup) {
			cause = StatusCause{Type: causeDuplicate, Field: dup.path, Message: "duplicate field"}
		}
		derr.Causes = []StatusCause{cause}
		return derr
	}
	if len(roots) != 1 || roots[0].kind != kindObject {
		derr.Causes = []StatusCause{{Type: causeTypeInvalid, Message: "expected one JSON object"}}
		return derr
	}
	root := roots[0]
	derr.Kind, _ = root.str("kind")
	if md := root.get("metadata"); md != nil {
		derr.Name, _ = md.str("name")
	}
	if derr.Causes = checkStrict("", root, t.Elem(), nil); len(derr.Causes) > 0 {
		return derr
	}
	dec := json.NewDecoder(bytes.NewReader(root.appendJSON(nil)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// checkStrict should have caught it; report rather than panic.
		derr.Causes = []StatusCause{{Type: causeInvalid, Message: err.Error()}}
		return derr
	}
	return nil
}
