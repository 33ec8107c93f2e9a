package openapi

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gossipod/gossipod/apiserver/discovery"
)

// document is an OpenAPI 3.0 document of one group-version, shaped as
// kube-apiserver's /openapi/v3/<group-version> documents are.
type document struct {
	OpenAPI    string               `json:"openapi"`
	Info       info                 `json:"info"`
	Paths      map[string]*pathItem `json:"paths"`
	Components components           `json:"components"`
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

type components struct {
	Schemas map[string]*jsonSchema `json:"schemas"`
}

// pathItem holds the operations of one path, and the parameters common to
// them (the namespace and name in the path).
type pathItem struct {
	Get        *operation  `json:"get,omitempty"`
	Put        *operation  `json:"put,omitempty"`
	Post       *operation  `json:"post,omitempty"`
	Delete     *operation  `json:"delete,omitempty"`
	Patch      *operation  `json:"patch,omitempty"`
	Parameters []parameter `json:"parameters,omitempty"`
}

// operation is one method on one path. x-kubernetes-action and
// x-kubernetes-group-version-kind are what clients look operations up by:
// kubectl explain finds a resource's kind on its paths, and kubectl's
// field validation check (cli-runtime's QueryParamVerifierV3) finds the
// PATCH operation of a kind and looks for its fieldValidation parameter.
type operation struct {
	Description      string              `json:"description"`
	OperationID      string              `json:"operationId"`
	Tags             []string            `json:"tags"`
	Parameters       []parameter         `json:"parameters,omitempty"`
	RequestBody      *requestBody        `json:"requestBody,omitempty"`
	Responses        map[string]response `json:"responses"`
	Action           string              `json:"x-kubernetes-action"`
	GroupVersionKind groupVersionKind    `json:"x-kubernetes-group-version-kind"`
}

type parameter struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema"`
}

type requestBody struct {
	Content  map[string]mediaType `json:"content"`
	Required bool                 `json:"required,omitempty"`
}

type response struct {
	Description string               `json:"description"`
	Content     map[string]mediaType `json:"content,omitempty"`
}

type mediaType struct {
	Schema *jsonSchema `json:"schema"`
}

// fieldValidationParam is the fieldValidation query parameter as gossipod
// honours it: it decodes every object strictly, so Strict is what it does
// whether asked or not, and it refuses Warn and Ignore rather than pretend
// (see apiserver/writeoptions).
func fieldValidationParam() parameter {
	return parameter{
		Name: "fieldValidation", In: "query", Schema: &jsonSchema{Type: "string"},
		Description: "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) " +
			"containing unknown or duplicate fields. gossipod implements Strict only, which is also its default: " +
			"the request fails with a BadRequest error naming every unknown or duplicate field (and every field of " +
			"the Kubernetes API that gossipod does not implement). Ignore and Warn are refused with a BadRequest.",
	}
}

// watchParams are the query parameters of a list that can watch.
func watchParams() []parameter {
	return []parameter{
		{Name: "watch", In: "query", Schema: &jsonSchema{Type: "boolean"},
			Description: "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."},
		{Name: "resourceVersion", In: "query", Schema: &jsonSchema{Type: "string"},
			Description: "With watch, the resourceVersion to stream changes from; a version too old to resume from ends the stream with an ERROR event (410 Gone)."},
		{Name: "timeoutSeconds", In: "query", Schema: &jsonSchema{Type: "integer"},
			Description: "Timeout for the watch call, in seconds."},
	}
}

// patchTypes are the patch formats of PATCH requests: strategic merge,
// JSON merge and JSON patch (served with the tables branch); not
// server-side apply. kubectl apply computes a strategic merge patch only
// when the operation lists application/strategic-merge-patch+json.
func patchTypes() []string {
	return []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
}

// buildDocument builds the document of gv: the paths of its resources
// with the operations their verbs serve, and the definitions of every
// kind they carry and everything those reference.
func buildDocument(resources []discovery.Resource, gv schema.GroupVersion) (*document, *builder, error) {
	d := &document{
		OpenAPI: "3.0.0",
		Info:    info{Title: "gossipod", Version: "v" + discovery.KubernetesVersion},
		Paths:   map[string]*pathItem{},
	}
	b := newBuilder()
	n := 0
	for _, r := range resources {
		if r.GroupVersion() != gv {
			continue
		}
		n++
		if r.Object == nil || r.List == nil {
			return nil, nil, fmt.Errorf("resource %s/%s has no Go types to build its schemas from", gv, r.Resource)
		}
		addResource(d, b, r)
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("no resources served in %s", gv)
	}
	d.Components.Schemas = b.defs
	return d, b, nil
}

// kindRef defines t as the schema of kind gvk and returns a reference to it.
func kindRef(b *builder, t reflect.Type, gvk schema.GroupVersionKind) *jsonSchema {
	name := b.define(t)
	ext := groupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	if def := b.defs[name]; !containsGVK(def.GroupVersionKind, ext) {
		def.GroupVersionKind = append(def.GroupVersionKind, ext)
	}
	return &jsonSchema{Ref: refPrefix + name}
}

func containsGVK(list []groupVersionKind, g groupVersionKind) bool {
	for _, x := range list {
		if x == g {
			return true
		}
	}
	return false
}

// addResource adds the paths of one resource and of its subresources.
func addResource(d *document, b *builder, r discovery.Resource) {
	gv := r.GroupVersion()
	gvk := r.GroupVersionKind()
	ext := groupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	obj := kindRef(b, r.Object, gvk)
	list := kindRef(b, r.List, gv.WithKind(r.Kind+"List"))
	ids := opIDs{gv: gv, kind: r.Kind, namespaced: r.Namespaced}
	tags := []string{tag(gv)}

	prefix := "/api/" + gv.Version
	if gv.Group != "" {
		prefix = "/apis/" + gv.Group + "/" + gv.Version
	}
	collection := prefix + "/" + r.Resource
	var scope []parameter
	if r.Namespaced {
		collection = prefix + "/namespaces/{namespace}/" + r.Resource
		scope = []parameter{{Name: "namespace", In: "path", Required: true, Schema: &jsonSchema{Type: "string"},
			Description: "object name and auth scope, such as for teams and projects"}}
	}
	item := collection + "/{name}"
	itemParams := slices.Concat(scope, []parameter{{Name: "name", In: "path", Required: true, Schema: &jsonSchema{Type: "string"},
		Description: "name of the " + r.Kind}})

	op := func(action, id, desc string) *operation {
		return &operation{Description: desc, OperationID: id, Tags: tags, Action: action, GroupVersionKind: ext,
			Responses: map[string]response{"401": {Description: "Unauthorized"}}}
	}
	listOp := func(id, desc string) *operation {
		o := op("list", id, desc)
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(list)}
		if r.Has("watch") {
			o.Parameters = watchParams()
			o.Responses["200"].Content["application/json;stream=watch"] = mediaType{Schema: list}
		}
		return o
	}

	if r.Has("list") {
		p := path(d, collection, scope)
		p.Get = listOp(ids.id("list", true, ""), "list or watch objects of kind "+r.Kind)
		if r.Namespaced {
			all := path(d, prefix+"/"+r.Resource, nil)
			all.Get = listOp("list"+ids.prefix()+r.Kind+"ForAllNamespaces", "list or watch objects of kind "+r.Kind)
		}
	}
	if r.Has("create") {
		o := op("post", ids.id("create", true, ""), "create a "+r.Kind)
		o.Parameters = []parameter{fieldValidationParam()}
		o.RequestBody = &requestBody{Content: map[string]mediaType{"*/*": {Schema: obj}}, Required: true}
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
		o.Responses["201"] = response{Description: "Created", Content: jsonContent(obj)}
		path(d, collection, scope).Post = o
	}
	if r.Has("get") {
		o := op("get", ids.id("read", true, ""), "read the specified "+r.Kind)
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
		path(d, item, itemParams).Get = o
	}
	if r.Has("update") {
		o := op("put", ids.id("replace", true, ""), "replace the specified "+r.Kind)
		o.Parameters = []parameter{fieldValidationParam()}
		o.RequestBody = &requestBody{Content: map[string]mediaType{"*/*": {Schema: obj}}, Required: true}
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
		path(d, item, itemParams).Put = o
	}
	if r.Has("patch") {
		o := op("patch", ids.id("patch", true, ""), "partially update the specified "+r.Kind)
		o.Parameters = []parameter{fieldValidationParam()}
		o.RequestBody = patchBody(b)
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
		path(d, item, itemParams).Patch = o
	}
	if r.Has("delete") {
		o := op("delete", ids.id("delete", true, ""), "delete a "+r.Kind)
		o.RequestBody = &requestBody{Content: map[string]mediaType{"*/*": {Schema: metaRef(b, reflect.TypeFor[metav1.DeleteOptions]())}}}
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
		path(d, item, itemParams).Delete = o
	}
	if r.Has("deletecollection") {
		o := op("deletecollection", "delete"+ids.prefix()+"Collection"+ids.scope()+r.Kind, "delete collection of "+r.Kind)
		o.Responses["200"] = response{Description: "OK", Content: jsonContent(metaRef(b, reflect.TypeFor[metav1.Status]()))}
		path(d, collection, scope).Delete = o
	}
	for _, s := range r.Subresources {
		addSubresource(d, b, r, s, item+"/"+s.Name, itemParams, ids, tags)
	}
}

// addSubresource adds the operations of one subresource, as kube-apiserver
// describes them: a text stream (log) is a get returning a string, an
// upgraded connection (exec) is "connect" on GET and POST, and objects
// (scale, eviction) are operations on the subresource's own kind.
func addSubresource(d *document, b *builder, r discovery.Resource, s discovery.Subresource, p string, params []parameter, ids opIDs, tags []string) {
	gvk := s.GroupVersionKind(r)
	ext := groupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind}
	obj := kindRef(b, s.Object, gvk)
	sub := strings.ToUpper(s.Name[:1]) + s.Name[1:]
	item := path(d, p, params)
	op := func(action, id, desc string) *operation {
		return &operation{Description: desc, OperationID: id, Tags: tags, Action: action, GroupVersionKind: ext,
			Responses: map[string]response{"401": {Description: "Unauthorized"}}}
	}
	text := &jsonSchema{Type: "string"}
	switch s.Body {
	case discovery.BodyText:
		o := op("get", ids.id("read", true, sub), "read "+s.Name+" of the specified "+r.Kind)
		o.Responses["200"] = response{Description: "OK", Content: map[string]mediaType{"text/plain": {Schema: text}}}
		item.Get = o
	case discovery.BodyStream:
		for _, verb := range s.Verbs {
			method := map[string]string{"get": "Get", "create": "Post"}[verb]
			o := op("connect", "connect"+ids.prefix()+method+ids.scope()+r.Kind+sub, "connect "+strings.ToUpper(method)+" requests to "+s.Name+" of "+r.Kind)
			o.Responses["200"] = response{Description: "OK", Content: map[string]mediaType{"*/*": {Schema: text}}}
			switch verb {
			case "get":
				item.Get = o
			case "create":
				item.Post = o
			}
		}
	default:
		if s.Has("get") {
			o := op("get", ids.id("read", true, sub), "read "+s.Name+" of the specified "+r.Kind)
			o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
			item.Get = o
		}
		if s.Has("create") {
			o := op("post", ids.id("create", true, sub), "create "+s.Name+" of a "+r.Kind)
			o.RequestBody = &requestBody{Content: map[string]mediaType{"*/*": {Schema: obj}}, Required: true}
			o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
			o.Responses["201"] = response{Description: "Created", Content: jsonContent(obj)}
			item.Post = o
		}
		if s.Has("update") {
			o := op("put", ids.id("replace", true, sub), "replace "+s.Name+" of the specified "+r.Kind)
			o.RequestBody = &requestBody{Content: map[string]mediaType{"*/*": {Schema: obj}}, Required: true}
			o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
			item.Put = o
		}
		if s.Has("patch") {
			o := op("patch", ids.id("patch", true, sub), "partially update "+s.Name+" of the specified "+r.Kind)
			o.RequestBody = patchBody(b)
			o.Responses["200"] = response{Description: "OK", Content: jsonContent(obj)}
			item.Patch = o
		}
	}
}

// path returns the path item of p, made with params if new.
func path(d *document, p string, params []parameter) *pathItem {
	item, ok := d.Paths[p]
	if !ok {
		item = &pathItem{Parameters: params}
		d.Paths[p] = item
	}
	return item
}

func jsonContent(s *jsonSchema) map[string]mediaType {
	return map[string]mediaType{"application/json": {Schema: s}}
}

// patchBody is the request body of a PATCH: a metav1.Patch in one of
// patchTypes.
func patchBody(b *builder) *requestBody {
	ref := metaRef(b, reflect.TypeFor[metav1.Patch]())
	c := map[string]mediaType{}
	for _, t := range patchTypes() {
		c[t] = mediaType{Schema: ref}
	}
	return &requestBody{Content: c, Required: true}
}

// metaRef defines a meta/v1 type and returns a reference to it.
func metaRef(b *builder, t reflect.Type) *jsonSchema {
	return &jsonSchema{Ref: refPrefix + b.define(t)}
}

// tag is an operation's tag, as kube-apiserver tags them: core_v1, apps_v1.
func tag(gv schema.GroupVersion) string {
	return strings.ReplaceAll(groupName(gv.Group), ".", "_") + "_" + gv.Version
}

// opIDs makes operation IDs as kube-apiserver does: verb, group and version
// in camel case, "Namespaced" for namespaced operations, kind and
// subresource (readCoreV1NamespacedPodLog, patchAppsV1NamespacedDeploymentScale).
type opIDs struct {
	gv         schema.GroupVersion
	kind       string
	namespaced bool
}

func (o opIDs) prefix() string {
	var b strings.Builder
	for part := range strings.SplitSeq(groupName(o.gv.Group), ".") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	b.WriteString(strings.ToUpper(o.gv.Version[:1]) + o.gv.Version[1:])
	return b.String()
}

func (o opIDs) scope() string {
	if o.namespaced {
		return "Namespaced"
	}
	return ""
}

func (o opIDs) id(verb string, scoped bool, suffix string) string {
	s := verb + o.prefix()
	if scoped {
		s += o.scope()
	}
	return s + o.kind + suffix
}

// groupName is the group as operation IDs and tags name it: "core" for
// the core group, without a .k8s.io suffix.
func groupName(group string) string {
	if group == "" {
		return "core"
	}
	return strings.TrimSuffix(group, ".k8s.io")
}
