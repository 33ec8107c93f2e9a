package api

import (
	"fmt"
	"net/http"
)

// MaxManifestDepth is how deeply the objects and lists of a manifest or API
// body may nest. The deepest real manifest (a pod's affinity terms, or a
// List of Deployments) nests about 15 levels; Kubernetes bounds YAML at
// 10,000, which still lets a 400 KB body of nested lists cost gigabytes once
// every level has a value, a field path and an error message. 100 keeps room
// for anything real while making the cost of a body linear in its size.
const MaxManifestDepth = 100

// DepthError is a body that nests deeper than its limit. It is found by a
// scan of the raw bytes, before anything is allocated for the values.
type DepthError struct {
	// Limit is the depth that was exceeded.
	Limit int
	// Document is the 1-based top-level value of a JSON stream it is in.
	Document int
	// Line is the line of the input where the limit was crossed, or 0 when
	// it is not known (YAML, whose lines the conversion to JSON loses).
	Line int
}

// Error says which limit was exceeded and where, in Kubernetes' words for
// its own YAML limit ("exceeded max depth of 10000").
func (e *DepthError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("exceeded max depth of %d at line %d: objects and lists may nest at most %d deep", e.Limit, e.Line, e.Limit)
	}
	return fmt.Sprintf("exceeded max depth of %d: objects and lists may nest at most %d deep", e.Limit, e.Limit)
}

// Status is the 400 Bad Request for a body that nests too deeply.
func (e *DepthError) Status() *Status {
	return NewStatus(http.StatusBadRequest, StatusReasonBadRequest, "the request body is too deeply nested: "+e.Error())
}

// CheckJSONDepth scans JSON (one value or a stream of them) and returns a
// *DepthError if objects and arrays nest deeper than limit, without
// allocating: a handler runs it on a raw body before decoding it. It does
// not check the syntax otherwise, which the decoder that follows does;
// brackets inside strings (escapes included) are not counted.
func CheckJSONDepth(data []byte, limit int) error {
	depth, doc, line := 0, 0, 1
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c == '\n':
				line++ // invalid JSON, but keep the line count right
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '\n':
			line++
		case '{', '[':
			if depth == 0 {
				doc++
			}
			depth++
			if depth > limit {
				return &DepthError{Limit: limit, Document: max(doc, 1), Line: line}
			}
		case '}', ']':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}
