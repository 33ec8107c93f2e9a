package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// node is one JSON value of a manifest, kept with the order and the
// multiplicity of object keys that map[string]any loses: strict decoding
// needs both to name a duplicate field and to report problems in the order
// the user wrote them.
type node struct {
	kind nodeKind
	// text is a string's value or a number's literal.
	text    string
	boolean bool
	// keys and vals are an object's members in input order, or (vals only)
	// an array's elements.
	keys []string
	vals []*node
}

// nodeKind is the JSON type of a node.
type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// describe names a node's type for error messages ("got a string \"8080\"").
func (n *node) describe() string {
	switch n.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "a boolean " + strconv.FormatBool(n.boolean)
	case kindNumber:
		return "a number " + n.text
	case kindString:
		return "a string " + strconv.Quote(truncate(n.text, 40))
	case kindArray:
		return "a list"
	default:
		return "an object"
	}
}

// truncate shortens s to at most n bytes for an error message, on a rune
// boundary, so a huge value does not swamp the message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// get returns the value of an object's member key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// str returns the member key of an object if it is a string.
func (n *node) str(key string) (string, bool) {
	v := n.get(key)
	if v == nil || v.kind != kindString {
		return "", false
	}
	return v.text, true
}

// errDuplicateKey reports an object key given twice, at its path.
type errDuplicateKey struct{ path string }

func (e *errDuplicateKey) Error() string { return e.path + ": duplicate field" }

// readNode reads one JSON value from dec (which must UseNumber) into a node.
// A key given twice in one object is an *errDuplicateKey naming its path:
// encoding/json would silently keep the last one. depth is how many
// objects and arrays enclose the value; past MaxManifestDepth it is a
// *DepthError (callers scan the bytes first; this is the backstop, as
// every level costs a path string).
func readNode(dec *json.Decoder, path string, depth int) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return readValue(dec, tok, path, depth)
}

// readInner reads a value inside an array or object, where the input
// ending is a syntax error, not the end of the stream.
func readInner(dec *json.Decoder, path string, depth int) (*node, error) {
	n, err := readNode(dec, path, depth)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextInner reads a token inside an array or object, as readInner.
func nextInner(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return tok, err
}

func readValue(dec *json.Decoder, tok json.Token, path string, depth int) (*node, error) {
	if d, ok := tok.(json.Delim); ok && (d == '[' || d == '{') && depth >= MaxManifestDepth {
		return nil, &DepthError{Limit: MaxManifestDepth}
	}
	switch v := tok.(type) {
	case nil:
		return &node{kind: kindNull}, nil
	case bool:
		return &node{kind: kindBool, boolean: v}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(v)}, nil
	case string:
		return &node{kind: kindString, text: v}, nil
	case json.Delim:
		switch v {
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				elem, err := readInner(dec, fmt.Sprintf("%s[%d]", path, len(n.vals)), depth+1)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, elem)
			}
			_, err := nextInner(dec) // ']'
			return n, err
		case '{':
			n := &node{kind: kindObject}
			seen := map[string]bool{}
			for dec.More() {
				tok, err := nextInner(dec)
				if err != nil {
					return nil, err
				}
				key, ok := tok.(string)
				if !ok {
					return nil, fmt.Errorf("object key is %v, not a string", tok)
				}
				child := childPath(path, key)
				if seen[key] {
					return nil, &errDuplicateKey{path: child}
				}
				seen[key] = true
				val, err := readInner(dec, child, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, val)
			}
			_, err := nextInner(dec) // '}'
			return n, err
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// parseJSONStream reads every top-level JSON value of data. It stops at the
// first syntax error, which carries the line it happened on.
func parseJSONStream(data []byte) ([]*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []*node
	for {
		n, err := readNode(dec, "", 0)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				return out, fmt.Errorf("invalid JSON at line %d: %w", lineAt(data, syn.Offset), err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return out, fmt.Errorf("invalid JSON: unexpected end of input")
			}
			return out, err
		}
		out = append(out, n)
	}
}

// lineAt is the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// appendJSON writes n back as JSON, so that a checked node can be handed to
// encoding/json for the typed decode.
func (n *node) appendJSON(buf []byte) []byte {
	switch n.kind {
	case kindNull:
		return append(buf, "null"...)
	case kindBool:
		return strconv.AppendBool(buf, n.boolean)
	case kindNumber:
		return append(buf, n.text...)
	case kindString:
		b, _ := json.Marshal(n.text) // a string always marshals
		return append(buf, b...)
	case kindArray:
		buf = append(buf, '[')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = v.appendJSON(buf)
		}
		return append(buf, ']')
	default:
		buf = append(buf, '{')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			b, _ := json.Marshal(n.keys[i])
			buf = append(buf, b...)
			buf = append(buf, ':')
			buf = v.appendJSON(buf)
		}
		return append(buf, '}')
	}
}

// childPath extends a field path by an object key: ".key" for keys that read
// as identifiers (spec.containers), "[key]" for others (metadata.labels[app.kubernetes.io/name]).
func childPath(path, key string) string {
	if isIdentifier(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + key + "]"
}

// isIdentifier reports whether s is a plain field name: a letter or '_',
// then letters, digits, '_' or '-'.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}
