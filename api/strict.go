package api

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// The cause types of decoding problems, as Kubernetes names them in a
// Status, so that clients can branch on them.
const (
	causeNotSupported = "FieldValueNotSupported"
	causeDuplicate    = "FieldValueDuplicate"
	causeTypeInvalid  = "FieldValueTypeInvalid"
	causeInvalid      = "FieldValueInvalid"
	causeRequired     = "FieldValueRequired"
)

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkStrict walks a decoded JSON value against the Go type it will be
// decoded into, following json tags (inline embedded structs included), and
// returns every problem at once: fields the type does not have, and values
// of the wrong JSON type. encoding/json's DisallowUnknownFields would stop at
// the first unknown field and name it without its path; this names
// spec.containers[0].lifecycle.
//
// After a clean walk, encoding/json decodes the value without surprises:
// every key matches a field exactly (encoding/json would also accept
// "Metadata" for "metadata"), and every leaf has the type the field wants.
func checkStrict(path string, n *node, t reflect.Type, causes []StatusCause) []StatusCause {
	if n.kind == kindNull {
		// encoding/json leaves the field at its zero value; so does Kubernetes.
		return causes
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
		return checkUnmarshaler(path, n, t, causes)
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		if n.kind != kindString {
			return wrongType(path, n, "a string", causes)
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.text)); err != nil {
			return append(causes, StatusCause{Type: causeInvalid, Field: path,
				Message: fmt.Sprintf("Invalid value: %s: %v", strconv.Quote(truncate(n.text, 60)), err)})
		}
		return causes
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		// Bytes (a Secret's data, a ConfigMap's binaryData) are a base64
		// string in JSON, as encoding/json and Kubernetes write them.
		if n.kind != kindString {
			return wrongType(path, n, "a base64 string", causes)
		}
		if _, err := base64.StdEncoding.DecodeString(n.text); err != nil {
			// The value is not echoed: it may be a credential.
			return append(causes, StatusCause{Type: causeInvalid, Field: path,
				Message: fmt.Sprintf("Invalid value: not base64: %v", err)})
		}
		return causes
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkStrict(path, n, t.Elem(), causes)
	case reflect.Interface:
		return causes
	case reflect.Struct:
		if n.kind != kindObject {
			return wrongType(path, n, "an object", causes)
		}
		fields := structFields(t)
		unsupported := kubernetesOnlyFields[t]
		for i, key := range n.keys {
			child := childPath(path, key)
			f, ok := fields.byName[key]
			if ok && unsupported[key] && f.Kind() != reflect.Pointer && isZeroJSON(n.vals[i]) {
				// The zero value of a field Kubernetes' Go type always
				// writes (status.daemonEndpoints, subdomain: "") is
				// "not set": accept it, so that an object read back from
				// the cluster (kubectl edit, replace) decodes again. A
				// pointer's zero (setHostnameAsFQDN: false) is a choice, refused.
				continue
			}
			if !ok || unsupported[key] {
				causes = append(causes, unknownField(child, key, t, fields))
				continue
			}
			causes = checkStrict(child, n.vals[i], f, causes)
		}
		return causes
	case reflect.Map:
		if n.kind != kindObject {
			return wrongType(path, n, "an object", causes)
		}
		if t.Key().Kind() != reflect.String {
			return wrongType(path, n, "a value of type "+t.String(), causes)
		}
		for i, key := range n.keys {
			causes = checkStrict(childPath(path, key), n.vals[i], t.Elem(), causes)
		}
		return causes
	case reflect.Slice, reflect.Array:
		if n.kind != kindArray {
			return wrongType(path, n, "a list", causes)
		}
		if t.Kind() == reflect.Array && len(n.vals) > t.Len() {
			return append(causes, StatusCause{Type: causeTypeInvalid, Field: path,
				Message: fmt.Sprintf("must have at most %d items", t.Len())})
		}
		for i, v := range n.vals {
			causes = checkStrict(fmt.Sprintf("%s[%d]", path, i), v, t.Elem(), causes)
		}
		return causes
	case reflect.String:
		if n.kind != kindString {
			return wrongType(path, n, "a string", causes)
		}
		return causes
	case reflect.Bool:
		if n.kind != kindBool {
			return wrongType(path, n, "a boolean (true or false)", causes)
		}
		return causes
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.kind != kindNumber {
			return wrongType(path, n, "an integer", causes)
		}
		if _, err := strconv.ParseInt(n.text, 10, t.Bits()); err != nil {
			return numberError(path, n, t, err, causes)
		}
		return causes
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.kind != kindNumber {
			return wrongType(path, n, "a non-negative integer", causes)
		}
		if _, err := strconv.ParseUint(n.text, 10, t.Bits()); err != nil {
			return numberError(path, n, t, err, causes)
		}
		return causes
	case reflect.Float32, reflect.Float64:
		if n.kind != kindNumber {
			return wrongType(path, n, "a number", causes)
		}
		if _, err := strconv.ParseFloat(n.text, t.Bits()); err != nil {
			return numberError(path, n, t, err, causes)
		}
		return causes
	}
	return append(causes, StatusCause{Type: causeTypeInvalid, Field: path,
		Message: "cannot be decoded into " + t.String()})
}

// isZeroJSON reports whether n is a JSON zero value: null, false, 0, "",
// an empty list, or an object whose members are all zero values.
func isZeroJSON(n *node) bool {
	switch n.kind {
	case kindNull:
		return true
	case kindBool:
		return !n.boolean
	case kindNumber:
		f, err := strconv.ParseFloat(n.text, 64)
		return err == nil && f == 0
	case kindString:
		return n.text == ""
	case kindArray:
		return len(n.vals) == 0
	}
	for _, v := range n.vals {
		if !isZeroJSON(v) {
			return false
		}
	}
	return true
}

// checkUnmarshaler runs a type's own UnmarshalJSON (resource.Quantity, Time)
// on the value, so that "1Gx" is reported at its path with the library's
// reason instead of failing the whole document later.
func checkUnmarshaler(path string, n *node, t reflect.Type, causes []StatusCause) []StatusCause {
	if n.kind != kindString && n.kind != kindNumber {
		return wrongType(path, n, "a string", causes)
	}
	invalid := func(err error) []StatusCause {
		return append(causes, StatusCause{Type: causeInvalid, Field: path,
			Message: fmt.Sprintf("Invalid value: %s: %v", strconv.Quote(truncate(n.text, 60)), err)})
	}
	v := reflect.New(t).Interface().(json.Unmarshaler)
	if err := v.UnmarshalJSON(n.appendJSON(nil)); err != nil {
		return invalid(err)
	}
	// What is stored must read back: a time whose UTC form falls outside
	// years 0000-9999 parses but does not survive the Raft log or a GET.
	if m, ok := v.(json.Marshaler); ok {
		b, err := m.MarshalJSON()
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(b)
		}
		if err != nil {
			return invalid(fmt.Errorf("cannot be stored: %w", err))
		}
	}
	return causes
}

// wrongType reports a value of the wrong JSON type, saying what was expected
// and what was found; a number where a string is expected also says to quote
// it, the usual YAML slip (`value: 8080` for an env var).
func wrongType(path string, n *node, want string, causes []StatusCause) []StatusCause {
	msg := "expected " + want + ", got " + n.describe()
	if want == "a string" && (n.kind == kindNumber || n.kind == kindBool) {
		msg += " (quote it in YAML)"
	}
	return append(causes, StatusCause{Type: causeTypeInvalid, Field: path, Message: msg})
}

// numberError reports a number that does not fit the field's Go type.
func numberError(path string, n *node, t reflect.Type, err error, causes []StatusCause) []StatusCause {
	msg := fmt.Sprintf("Invalid value: %s: must be an integer", truncate(n.text, 40))
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		msg = fmt.Sprintf("Invalid value: %s: out of range for %s", truncate(n.text, 40), t.Kind())
	} else if t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64 {
		msg = fmt.Sprintf("Invalid value: %s: must be a number", truncate(n.text, 40))
	} else if strings.HasPrefix(t.Kind().String(), "uint") {
		msg = fmt.Sprintf("Invalid value: %s: must be a non-negative integer", truncate(n.text, 40))
	}
	return append(causes, StatusCause{Type: causeTypeInvalid, Field: path, Message: msg})
}

// unknownField reports a key the Go type has no field for, or one it has
// (a Kubernetes type's) but gossipod does not implement. A Kubernetes field
// gossipod does not implement is "unsupported", so the user knows the
// manifest is right but the feature is missing; anything else is "unknown",
// with a suggestion when only the case differs.
func unknownField(path, key string, t reflect.Type, fields *fieldSet) StatusCause {
	if kubernetesOnlyFields[t][key] {
		return StatusCause{Type: causeNotSupported, Field: path, Message: "unsupported field"}
	}
	msg := "unknown field"
	for name := range fields.byName {
		if strings.EqualFold(name, key) {
			msg += fmt.Sprintf(" (did you mean %q?)", name)
			break
		}
	}
	return StatusCause{Type: causeNotSupported, Field: path, Message: msg}
}

// fieldSet is the JSON view of a struct type: member name to field type,
// with inline embedded structs flattened as encoding/json does.
type fieldSet struct {
	byName map[string]reflect.Type
}

var fieldSets sync.Map // reflect.Type -> *fieldSet

// structFields returns (and caches) the JSON members of struct type t.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]reflect.Type{}}
	addFields(fs, t, 0)
	fieldSets.Store(t, fs)
	return fs
}

func addFields(fs *fieldSet, t reflect.Type, depth int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			// Embedded: a struct (or pointer to one) without a json name is
			// inlined; encoding/json promotes its fields.
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && depth < 8 {
				addFields(fs, et, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := fs.byName[name]; !dup || depth == 0 {
			fs.byName[name] = ft
		}
	}
}
