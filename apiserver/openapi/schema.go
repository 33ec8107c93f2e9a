package openapi

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// jsonSchema is an OpenAPI 3.0 Schema Object: the subset, and the Kubernetes
// extensions, that kube-apiserver's own documents use. Field order and
// omitempty make encoding/json write what kube-openapi writes.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	Format               string                 `json:"format,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties,omitempty"`

	// The Kubernetes extensions: which kinds a definition is the schema
	// of (kubectl finds a kind's schema by it), how strategic merge patch
	// merges a field (kubectl apply computes its patch with them), and
	// how server-side apply would treat lists, maps and structs.
	GroupVersionKind []groupVersionKind `json:"x-kubernetes-group-version-kind,omitempty"`
	PatchStrategy    string             `json:"x-kubernetes-patch-strategy,omitempty"`
	PatchMergeKey    string             `json:"x-kubernetes-patch-merge-key,omitempty"`
	ListType         string             `json:"x-kubernetes-list-type,omitempty"`
	ListMapKeys      []string           `json:"x-kubernetes-list-map-keys,omitempty"`
	MapType          string             `json:"x-kubernetes-map-type,omitempty"`

	// v2Type is the single type OpenAPI v2 gives a self-marshalling
	// type that v3 describes with oneOf (Swagger 2.0 has no oneOf):
	// kube-openapi's OpenAPISchemaType, "string" for IntOrString and
	// Quantity. Not part of the v3 document.
	v2Type string
}

// groupVersionKind is the value of x-kubernetes-group-version-kind.
type groupVersionKind struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// refPrefix is where a document's definitions live.
const refPrefix = "#/components/schemas/"

// builder builds the definitions (components/schemas) of one document by
// reflection over Go types: k8s.io/api's types and what they reference,
// named as kube-apiserver names them (io.k8s.api.core.v1.Pod), described
// by the types' SwaggerDoc methods, with the patch extensions of their
// struct tags and the list and map markers of their source comments
// (zz_generated_markers.go). It is what kube-openapi's generator does from
// the source, done from the compiled types, so that the schemas follow the
// k8s.io/api release gossipod is built with.
type builder struct {
	defs map[string]*jsonSchema
	// packages records the package of every struct type defined, so a
	// test can check that the markers cover them all.
	packages map[string]bool
}

func newBuilder() *builder {
	return &builder{defs: map[string]*jsonSchema{}, packages: map[string]bool{}}
}

// definitionName is the name of a named Go type's definition: the package
// path with its domain reversed and dots for slashes, then the type name,
// as kube-openapi names them ("k8s.io/api/core/v1".Pod is
// io.k8s.api.core.v1.Pod).
func definitionName(t reflect.Type) string {
	host, rest, _ := strings.Cut(t.PkgPath(), "/")
	parts := strings.Split(host, ".")
	slices.Reverse(parts)
	name := strings.Join(parts, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

// typeKey is how zz_generated_markers.go names a type.
func typeKey(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

// define adds the definition of the named type t (and of every type it
// references) and returns its name.
func (b *builder) define(t reflect.Type) string {
	name := definitionName(t)
	if _, ok := b.defs[name]; ok {
		return name
	}
	s := &jsonSchema{}
	b.defs[name] = s // before the fields: a type may reference itself
	if b.special(t, s) {
		return name
	}
	b.packages[t.PkgPath()] = true
	s.Type = "object"
	s.Description = swaggerDoc(t)[""]
	s.MapType = typeMarkers(typeKey(t))
	b.addFields(t, s)
	return name
}

// special fills s for the types that marshal themselves and say how in
// kube-openapi's terms (OpenAPISchemaType, OpenAPISchemaFormat,
// OpenAPIV3OneOfTypes): resource.Quantity is a string or a number,
// intstr.IntOrString an integer or a string (format int-or-string),
// metav1.Time and MicroTime date-time strings, metav1.Duration a string.
func (b *builder) special(t reflect.Type, s *jsonSchema) bool {
	v := reflect.New(t).Elem().Interface()
	typer, ok := v.(interface{ OpenAPISchemaType() []string })
	if !ok {
		return false
	}
	if f, ok := v.(interface{ OpenAPISchemaFormat() string }); ok {
		s.Format = f.OpenAPISchemaFormat()
	}
	if o, ok := v.(interface{ OpenAPIV3OneOfTypes() []string }); ok && len(o.OpenAPIV3OneOfTypes()) > 0 {
		for _, typ := range o.OpenAPIV3OneOfTypes() {
			s.OneOf = append(s.OneOf, &jsonSchema{Type: typ})
		}
	} else if types := typer.OpenAPISchemaType(); len(types) > 0 {
		s.Type = types[0]
	}
	if types := typer.OpenAPISchemaType(); len(types) > 0 {
		s.v2Type = types[0]
	}
	s.Description = swaggerDoc(t)[""]
	if s.Description == "" {
		s.Description = specialDescription(t)
	}
	return true
}

// specialDescription describes the self-marshalling types of
// k8s.io/apimachinery, which have no SwaggerDoc method (kube-openapi reads
// their doc comments instead).
func specialDescription(t reflect.Type) string {
	switch t.PkgPath() + "." + t.Name() {
	case "k8s.io/apimachinery/pkg/api/resource.Quantity":
		return "Quantity is a fixed-point representation of a number, written as a string with an optional SI or binary suffix " +
			`("500m", "2", "1.5Gi", "128974848", "129e6") or as a number.`
	case "k8s.io/apimachinery/pkg/util/intstr.IntOrString":
		return "IntOrString is a type that can hold an int32 or a string: a port number or name, a count or a percentage (\"25%\")."
	case "k8s.io/apimachinery/pkg/apis/meta/v1.Time":
		return "Time is a timestamp in RFC 3339 form, with second precision, in UTC."
	case "k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime":
		return "MicroTime is a timestamp in RFC 3339 form, with microsecond precision, in UTC."
	case "k8s.io/apimachinery/pkg/apis/meta/v1.Duration":
		return `Duration is a length of time in Go's form ("1m30s").`
	}
	return ""
}

// swaggerDoc returns the descriptions k8s.io/api types carry in their
// generated SwaggerDoc methods: "" describes the type, the other keys
// its fields by JSON name.
func swaggerDoc(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(interface{ SwaggerDoc() map[string]string }); ok {
		return d.SwaggerDoc()
	}
	return nil
}

// addFields adds the JSON fields of struct t to s, flattening embedded
// structs as encoding/json does (TypeMeta's kind and apiVersion are the
// object's own fields).
func (b *builder) addFields(t reflect.Type, s *jsonSchema) {
	docs := swaggerDoc(t)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				b.addFields(et, s)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := b.use(f.Type)
		p.Description = docs[name]
		p.PatchStrategy = f.Tag.Get("patchStrategy")
		p.PatchMergeKey = f.Tag.Get("patchMergeKey")
		m := fieldMarkers(typeKey(t), name)
		p.ListType, p.ListMapKeys = m.listType, m.listMapKeys
		if m.mapType != "" {
			p.MapType = m.mapType
		}
		if s.Properties == nil {
			s.Properties = map[string]*jsonSchema{}
		}
		s.Properties[name] = wrapRef(p)
		optional := hasOption(opts, "omitempty") || hasOption(opts, "omitzero")
		switch m.presence {
		case markedOptional:
			optional = true
		case markedRequired:
			optional = false
		}
		if !optional {
			s.Required = append(s.Required, name)
		}
	}
}

func hasOption(opts, opt string) bool {
	return slices.Contains(strings.Split(opts, ","), opt)
}

// wrapRef moves a reference with siblings (a description, an extension)
// into allOf, as kube-openapi writes it: in OpenAPI 3.0 the siblings of a
// $ref are ignored, and clients (kubectl explain, strategic merge patch)
// follow allOf.
func wrapRef(p *jsonSchema) *jsonSchema {
	if p.Ref == "" {
		return p
	}
	bare := jsonSchema{Ref: p.Ref}
	if reflect.DeepEqual(*p, bare) {
		return p
	}
	w := *p
	w.Ref = ""
	w.AllOf = []*jsonSchema{{Ref: p.Ref}}
	return &w
}

// use returns the schema of a field, an item or a map value of type t: a
// reference to the definition of a named struct, the value's own schema
// otherwise.
func (b *builder) use(t reflect.Type) *jsonSchema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Time]() {
		return &jsonSchema{Type: "string", Format: "date-time"}
	}
	if t.Name() != "" && t.PkgPath() != "" && (t.Kind() == reflect.Struct || b.isSpecial(t)) {
		return &jsonSchema{Ref: refPrefix + b.define(t)}
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &jsonSchema{Type: "object"}
		b.addFields(t, s)
		return s
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &jsonSchema{Type: "string", Format: "byte"} // base64, as encoding/json writes []byte
		}
		return &jsonSchema{Type: "array", Items: b.use(t.Elem())}
	case reflect.Map:
		return &jsonSchema{Type: "object", AdditionalProperties: b.use(t.Elem())}
	case reflect.String:
		return &jsonSchema{Type: "string"}
	case reflect.Bool:
		return &jsonSchema{Type: "boolean"}
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint16:
		return &jsonSchema{Type: "integer", Format: "int32"}
	case reflect.Int8, reflect.Uint8:
		return &jsonSchema{Type: "integer", Format: "byte"}
	case reflect.Int64, reflect.Uint32, reflect.Uint64:
		return &jsonSchema{Type: "integer", Format: "int64"}
	case reflect.Float32:
		return &jsonSchema{Type: "number", Format: "float"}
	case reflect.Float64:
		return &jsonSchema{Type: "number", Format: "double"}
	}
	return &jsonSchema{} // an interface: any value
}

// isSpecial reports whether a named non-struct type describes itself
// (none of k8s.io's do today; Quantity and the others are structs).
func (b *builder) isSpecial(t reflect.Type) bool {
	_, ok := reflect.New(t).Elem().Interface().(interface{ OpenAPISchemaType() []string })
	return ok
}
