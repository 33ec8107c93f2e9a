package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// DecodeManifests turns what a user submits (`apply -f`, a POST body) into
// objects: YAML with one or more documents separated by `---`, a JSON object
// or a stream of them, and `kind: List` (or a typed list such as PodList)
// whose items are decoded one by one. Objects are dispatched on apiVersion
// and kind; v1 Pod and apps/v1 Deployment are registered.
//
// Decoding is strict, as gossipod's promise is to run exactly what the
// manifest says: a field gossipod's types lack, a key given twice, or a
// value of the wrong type is an error naming its path. Every problem of every
// document is reported at once, each document's as one *DecodeError (joined
// with errors.Join when there are several), and no object is returned then.
// Within a document, problems follow the order of the keys: as written for
// JSON, alphabetical for YAML (whose conversion to JSON sorts them). Syntax
// errors are DecodeErrors too, so an API handler can answer any error with
// the 400 of DecodeError.Status.
//
// Objects are returned as written, neither defaulted nor validated: the
// caller first fills in what only it knows (the namespace of the URL, the
// node a pod is bound to), then calls SetPodDefaults and ValidatePod
// (SetDeploymentDefaults and ValidateDeployment for a Deployment).
func DecodeManifests(data []byte) ([]Object, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 BOM
	docs := splitDocuments(data)
	var objs []Object
	var errs []error
	for i, doc := range docs {
		if doc.err != nil {
			pos := i + 1
			var deep *DepthError
			if errors.As(doc.err, &deep) && deep.Document > pos {
				pos = deep.Document
			}
			cause := StatusCause{Message: doc.err.Error()}
			var dup *errDuplicateKey
			if errors.As(doc.err, &dup) {
				cause = StatusCause{Type: causeDuplicate, Field: dup.path, Message: "duplicate field"}
			}
			errs = append(errs, &DecodeError{Document: pos, Causes: []StatusCause{cause}})
			continue
		}
		o, err := decodeDocument(i+1, doc.root)
		objs = append(objs, o...)
		errs = append(errs, err...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

// DecodeError is why one document of a manifest (or one item of a List) was
// not decoded: every problem found in it, each with its field path. Its
// Error reads like
//
//	document 2 (Pod "web"): [spec.containers[0].lifecycle: unsupported field, spec.restartPolicy: expected a string, got a number 1]
type DecodeError struct {
	// Document is the 1-based position of the document in the input,
	// counting only documents that hold something.
	Document int
	// Item is the 1-based position in a List's items, or 0.
	Item int
	// Kind and Name say which object it was, when the document got that far.
	Kind string
	Name string
	// Causes are the problems; Field is empty for a document-wide problem
	// (a YAML syntax error, a missing kind).
	Causes []StatusCause
}

// Error lists the problems after the document's position and identity, in
// the style of Kubernetes' aggregated errors.
func (e *DecodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %d", e.Document)
	if e.Item > 0 {
		fmt.Fprintf(&b, ", item %d", e.Item)
	}
	switch {
	case e.Kind != "" && e.Name != "":
		fmt.Fprintf(&b, " (%s %q)", e.Kind, e.Name)
	case e.Kind != "":
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	b.WriteString(": ")
	if len(e.Causes) > 1 {
		b.WriteByte('[')
	}
	for i, c := range e.Causes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.String())
	}
	if len(e.Causes) > 1 {
		b.WriteByte(']')
	}
	return b.String()
}

// Status is the 400 Bad Request an API handler returns for a body that does
// not decode, with one cause per problem.
func (e *DecodeError) Status() *Status {
	s := NewStatus(http.StatusBadRequest, StatusReasonBadRequest, e.Error())
	s.Details = &StatusDetails{Name: e.Name, Kind: e.Kind, Causes: e.Causes}
	return s
}

// String renders a cause as Kubernetes prints a field error: "path: message",
// or just the message when no field is involved.
func (c StatusCause) String() string {
	if c.Field == "" {
		return c.Message
	}
	return c.Field + ": " + c.Message
}

// document is one document of the input: its JSON tree, or why it has none.
type document struct {
	root *node
	err  error
}

// splitDocuments cuts the input into documents and parses each. Input that
// starts as JSON does (`{"` or `{}`) is read as a stream of JSON objects:
// JSON is not always valid YAML (tabs, big integers), and a JSON syntax
// error is best reported as one. Anything else, flow mappings such as
// `{kind: Pod}` included, is YAML.
//
// JSON is scanned for its nesting depth (MaxManifestDepth) before any of it
// is parsed, so a body of nested lists costs a scan, not a tree.
func splitDocuments(data []byte) []document {
	if !isJSONStream(data) {
		return splitYAML(data)
	}
	if err := CheckJSONDepth(data, MaxManifestDepth); err != nil {
		return []document{{err: err}}
	}
	roots, err := parseJSONStream(data)
	docs := make([]document, len(roots), len(roots)+1)
	for i, r := range roots {
		docs[i].root = r
	}
	if err != nil {
		docs = append(docs, document{err: err})
	}
	return docs
}

// isJSONStream reports whether data starts as a JSON object does: `{"` or
// `{}`, blanks allowed.
func isJSONStream(data []byte) bool {
	trimmed := bytes.TrimLeft(data, yamlBlanks)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	next := bytes.TrimLeft(trimmed[1:], yamlBlanks)
	return len(next) == 0 || next[0] == '"' || next[0] == '}'
}

// yamlBlanks are the characters YAML treats as white space and line breaks;
// others that Go's unicode.IsSpace knows (\v, \f, U+0085) are errors to
// YAML, so a document of them is not empty.
const yamlBlanks = " \t\r\n"

// splitYAML cuts YAML at `---` lines (a separator may be followed by a
// comment) and converts each document to a JSON tree. Documents that hold
// nothing (only comments, or nothing between two separators) are dropped.
//
// The YAML parser bounds nesting itself (10,000 levels, flow or block, as
// Kubernetes relies on), with memory linear in the input; the JSON it
// produces is then held to MaxManifestDepth before the tree is built.
func splitYAML(data []byte) []document {
	var docs []document
	var cur []byte
	startLine, line := 1, 1
	flush := func() {
		if len(bytes.Trim(cur, yamlBlanks)) == 0 {
			return
		}
		j, err := yaml.YAMLToJSONStrict(cur)
		if err == nil {
			err = checkOneValue(cur)
		}
		if err != nil {
			docs = append(docs, document{err: yamlError(err, startLine)})
			return
		}
		if CheckJSONDepth(j, MaxManifestDepth) != nil {
			// The JSON's line is no help to the user; the document's
			// position says which one it is.
			docs = append(docs, document{err: &DepthError{Limit: MaxManifestDepth}})
			return
		}
		root, err := parseJSONStream(j)
		switch {
		case err != nil:
			docs = append(docs, document{err: err})
		case len(root) == 1 && root[0].kind == kindNull:
			// only comments
		case len(root) == 1:
			docs = append(docs, document{root: root[0]})
		}
	}
	for len(data) > 0 {
		l := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if isSeparator(l) {
			flush()
			cur = nil
			startLine = line + 1
		} else {
			cur = append(cur, l...)
		}
		line++
	}
	flush()
	return docs
}

// checkOneValue fails for YAML that holds more than its first value:
// YAMLToJSON reads only the first value of its input and silently drops
// what follows a flow collection (`{kind: Pod} {spec: ...}`, or
// `{kind: Pod}` then `spec: ...` on the next line), which strict decoding
// must not.
func checkOneValue(doc []byte) error {
	dec := goyaml.NewDecoder(bytes.NewReader(doc))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // comments only
		}
		return err
	}
	if err := dec.Decode(&v); !errors.Is(err, io.EOF) {
		return fmt.Errorf("content after the end of the value: %v", err)
	}
	return nil
}

// isSeparator reports whether a line is a YAML document separator: `---`
// alone, or followed by blanks and a comment.
func isSeparator(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.Trim(rest, yamlBlanks)
	return len(rest) == 0 || rest[0] == '#'
}

// yamlError makes a YAML parser error point at the line of the whole input,
// not of the document, by shifting the "line N" the parser reports.
func yamlError(err error, startLine int) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	if startLine > 1 {
		var b strings.Builder
		for {
			i := strings.Index(msg, "line ")
			if i < 0 {
				b.WriteString(msg)
				break
			}
			j := i + len("line ")
			k := j
			for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
				k++
			}
			n, convErr := strconv.Atoi(msg[j:k])
			if convErr != nil {
				b.WriteString(msg[:j])
				msg = msg[j:]
				continue
			}
			b.WriteString(msg[:j])
			b.WriteString(strconv.Itoa(n + startLine - 1))
			msg = msg[k:]
		}
		msg = b.String()
	}
	return errors.New("invalid YAML: " + msg)
}

// decodeDocument decodes one document: a single object, or a List whose
// items are decoded in turn.
func decodeDocument(index int, root *node) ([]Object, []error) {
	if root.kind != kindObject {
		return nil, []error{&DecodeError{Document: index, Causes: []StatusCause{{
			Type: causeTypeInvalid, Message: "expected an object, got " + root.describe()}}}}
	}
	apiVersion, _ := root.str("apiVersion")
	kind, _ := root.str("kind")
	if !listKinds[kindKey{apiVersion, kind}] {
		o, err := decodeObject(index, 0, root)
		if err != nil {
			return nil, []error{err}
		}
		return []Object{o}, nil
	}

	// A List: check its own fields, then decode every item.
	var causes []StatusCause
	var items *node
	for i, key := range root.keys {
		v := root.vals[i]
		switch key {
		case "apiVersion", "kind":
		case "metadata":
			causes = checkStrict("metadata", v, reflect.TypeFor[ListMeta](), causes)
		case "items":
			if v.kind != kindArray && v.kind != kindNull {
				causes = wrongType("items", v, "a list", causes)
				continue
			}
			items = v
		default:
			causes = append(causes, StatusCause{Type: causeNotSupported, Field: key, Message: "unknown field"})
		}
	}
	if len(causes) > 0 {
		return nil, []error{&DecodeError{Document: index, Kind: kind, Causes: causes}}
	}
	var objs []Object
	var errs []error
	if items == nil {
		return nil, nil
	}
	for i, item := range items.vals {
		if item.kind != kindObject {
			errs = append(errs, &DecodeError{Document: index, Item: i + 1, Causes: []StatusCause{{
				Type: causeTypeInvalid, Message: "expected an object, got " + item.describe()}}})
			continue
		}
		itemVersion, _ := item.str("apiVersion")
		itemKind, _ := item.str("kind")
		if listKinds[kindKey{itemVersion, itemKind}] {
			errs = append(errs, &DecodeError{Document: index, Item: i + 1, Kind: itemKind, Causes: []StatusCause{{
				Type: causeInvalid, Field: "kind", Message: "a List may not contain a List"}}})
			continue
		}
		o, err := decodeObject(index, i+1, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs, errs
}

// decodeObject decodes one object after checking it strictly against the
// type its apiVersion and kind select.
func decodeObject(index, item int, root *node) (Object, error) {
	derr := &DecodeError{Document: index, Item: item}
	derr.Kind, _ = root.str("kind")
	if md := root.get("metadata"); md != nil {
		derr.Name, _ = md.str("name")
	}
	for _, f := range []string{"apiVersion", "kind"} {
		switch v := root.get(f); {
		case v == nil || v.kind == kindNull || v.kind == kindString && v.text == "":
			derr.Causes = append(derr.Causes, StatusCause{Type: causeRequired, Message: f + " not set"})
		case v.kind != kindString:
			derr.Causes = wrongType(f, v, "a string", derr.Causes)
		}
	}
	if len(derr.Causes) > 0 {
		return nil, derr
	}
	apiVersion, _ := root.str("apiVersion")
	newObject, ok := kinds[kindKey{apiVersion, derr.Kind}]
	if !ok {
		derr.Causes = append(derr.Causes, StatusCause{Type: causeNotSupported,
			Message: fmt.Sprintf("no matches for kind %q in version %q (gossipod serves %s)", derr.Kind, apiVersion, servedKinds())})
		return nil, derr
	}
	obj := newObject()
	if derr.Causes = checkStrict("", root, reflect.TypeOf(obj).Elem(), nil); len(derr.Causes) > 0 {
		return nil, derr
	}
	dec := json.NewDecoder(bytes.NewReader(root.appendJSON(nil)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		// checkStrict should have caught it; report rather than panic.
		derr.Causes = append(derr.Causes, StatusCause{Type: causeInvalid, Message: err.Error()})
		return nil, derr
	}
	return obj, nil
}

// servedKinds lists the kinds DecodeManifests accepts, as "apps/v1
// Deployment, v1 Pod", for the message that refuses any other: kubectl says
// "no matches for kind" for a kind its server does not serve, and a user
// trying a manifest written for Kubernetes needs to know what gossipod
// serves instead.
func servedKinds() string {
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k.apiVersion+" "+k.kind)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
