package openapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gossipod/gossipod/apiserver/discovery"
)

// The OpenAPI v2 (Swagger 2.0) document exists for the kubectl releases
// before OpenAPI v3 (Debian 12's kubectl is 1.20) and for what newer ones
// still read from it:
//
//   - kubectl create and apply up to 1.26 validate every object client-side
//     against the v2 definitions, found by x-kubernetes-group-version-kind,
//     and refuse to send a manifest when the document cannot be had
//     ("error validating data: ... turn validation off with
//     --validate=false"); a manifest with an unknown or mistyped field is
//     refused before it leaves the client.
//   - kubectl apply before 1.27 computes its strategic merge patch from the
//     v2 definitions' x-kubernetes-patch-strategy and -merge-key.
//   - kubectl explain before 1.27 renders the v2 definitions.
//   - newer kubectl falls back to v2 to look for the fieldValidation
//     parameter of a kind whose PATCH operation v3 does not list.
//
// It is one document for every group-version, derived from the same
// per-group-version v3 documents (and so from the same table and the same
// reflection), converted the way kube-openapi's two generators differ:
// definitions under #/definitions/, a $ref with siblings instead of allOf,
// one type instead of oneOf, non-body parameters typed directly, a body
// parameter instead of a requestBody, consumes and produces instead of
// content.

// v2RefPrefix is where the v2 document's definitions live.
const v2RefPrefix = "#/definitions/"

// v2Document is a Swagger 2.0 document, shaped as kube-apiserver's
// /openapi/v2.
type v2Document struct {
	Swagger     string                 `json:"swagger"`
	Info        info                   `json:"info"`
	Paths       map[string]*v2PathItem `json:"paths"`
	Definitions map[string]*jsonSchema `json:"definitions"`
}

type v2PathItem struct {
	Get        *v2Operation  `json:"get,omitempty"`
	Put        *v2Operation  `json:"put,omitempty"`
	Post       *v2Operation  `json:"post,omitempty"`
	Delete     *v2Operation  `json:"delete,omitempty"`
	Patch      *v2Operation  `json:"patch,omitempty"`
	Parameters []v2Parameter `json:"parameters,omitempty"`
}

// v2Operation is an operation as Swagger 2.0 writes it; the extensions are
// those of operation.
type v2Operation struct {
	Description      string                `json:"description"`
	Consumes         []string              `json:"consumes,omitempty"`
	Produces         []string              `json:"produces,omitempty"`
	Schemes          []string              `json:"schemes"`
	Tags             []string              `json:"tags"`
	OperationID      string                `json:"operationId"`
	Parameters       []v2Parameter         `json:"parameters,omitempty"`
	Responses        map[string]v2Response `json:"responses"`
	Action           string                `json:"x-kubernetes-action"`
	GroupVersionKind groupVersionKind      `json:"x-kubernetes-group-version-kind"`
}

// v2Parameter is a body parameter (In "body", with a Schema) or a path or
// query parameter (with a Type).
type v2Parameter struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Type        string      `json:"type,omitempty"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

type v2Response struct {
	Description string      `json:"description"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

// buildV2 builds the v2 document of every group-version resources serve.
func buildV2(resources []discovery.Resource) (*v2Document, error) {
	d := &v2Document{
		Swagger:     "2.0",
		Info:        info{Title: "gossipod", Version: "v" + discovery.KubernetesVersion},
		Paths:       map[string]*v2PathItem{},
		Definitions: map[string]*jsonSchema{},
	}
	for _, gv := range discovery.GroupVersions(resources) {
		v3, _, err := buildDocument(resources, gv)
		if err != nil {
			return nil, err
		}
		for p, item := range v3.Paths {
			if _, dup := d.Paths[p]; dup {
				return nil, fmt.Errorf("path %s is in the documents of two group-versions", p)
			}
			d.Paths[p] = v2Path(item)
		}
		// The group-versions share definitions (meta/v1's, a Scale in
		// several groups): the same reflection built the same schema,
		// and only the kinds it is the schema of add up.
		for name, s := range v3.Components.Schemas {
			def, ok := d.Definitions[name]
			if !ok {
				d.Definitions[name] = v2Schema(s)
				continue
			}
			for _, gvk := range s.GroupVersionKind {
				if !slices.Contains(def.GroupVersionKind, gvk) {
					def.GroupVersionKind = append(def.GroupVersionKind, gvk)
				}
			}
		}
	}
	return d, nil
}

// v2Schema returns a v2 copy of the v3 schema s.
func v2Schema(s *jsonSchema) *jsonSchema {
	if s == nil {
		return nil
	}
	out := *s
	out.Ref = v2Ref(s.Ref)
	out.GroupVersionKind = slices.Clone(s.GroupVersionKind)
	if len(s.OneOf) > 0 {
		out.OneOf, out.Type = nil, s.v2Type
	}
	out.AllOf = nil
	if len(s.AllOf) == 1 && s.AllOf[0].Ref != "" && s.Ref == "" && s.Type == "" && s.Properties == nil {
		// wrapRef's allOf: kube-openapi's v2 writes the reference with
		// its siblings, and kubectl's v2 reader (kube-openapi's proto
		// models) follows nothing else: an allOf would be "any value",
		// unvalidated and without patch strategy.
		out.Ref = v2Ref(s.AllOf[0].Ref)
	} else {
		for _, a := range s.AllOf {
			out.AllOf = append(out.AllOf, v2Schema(a))
		}
	}
	if s.Properties != nil {
		out.Properties = make(map[string]*jsonSchema, len(s.Properties))
		for name, p := range s.Properties {
			out.Properties[name] = v2Schema(p)
		}
	}
	out.Items = v2Schema(s.Items)
	out.AdditionalProperties = v2Schema(s.AdditionalProperties)
	return &out
}

func v2Ref(ref string) string {
	if name, ok := strings.CutPrefix(ref, refPrefix); ok {
		return v2RefPrefix + name
	}
	return ref
}

func v2Path(p *pathItem) *v2PathItem {
	return &v2PathItem{
		Get: v2Op(p.Get), Put: v2Op(p.Put), Post: v2Op(p.Post), Delete: v2Op(p.Delete), Patch: v2Op(p.Patch),
		Parameters: v2Params(p.Parameters),
	}
}

// v2Params types path and query parameters directly, as Swagger 2.0 wants
// them (only a body parameter has a schema).
func v2Params(params []parameter) []v2Parameter {
	var out []v2Parameter
	for _, p := range params {
		out = append(out, v2Parameter{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required, Type: p.Schema.Type})
	}
	return out
}

// v2Op converts an operation: its request body becomes the "body"
// parameter and its media types consumes, its responses' media types
// produces.
func v2Op(o *operation) *v2Operation {
	if o == nil {
		return nil
	}
	out := &v2Operation{
		Description: o.Description, Schemes: []string{"https"}, Tags: o.Tags, OperationID: o.OperationID,
		Parameters: v2Params(o.Parameters), Responses: map[string]v2Response{},
		Action: o.Action, GroupVersionKind: o.GroupVersionKind,
	}
	if b := o.RequestBody; b != nil && len(b.Content) > 0 {
		out.Consumes = slices.Sorted(maps.Keys(b.Content))
		// Every media type of a request body carries the same schema.
		body := v2Parameter{Name: "body", In: "body", Required: b.Required, Schema: v2Schema(b.Content[out.Consumes[0]].Schema)}
		out.Parameters = append([]v2Parameter{body}, out.Parameters...)
	}
	produces := map[string]bool{}
	for code, r := range o.Responses {
		resp := v2Response{Description: r.Description}
		if len(r.Content) > 0 {
			types := slices.Sorted(maps.Keys(r.Content))
			for _, t := range types {
				produces[t] = true
			}
			// A list that watches also streams; its schema is the list's.
			mt, ok := r.Content["application/json"]
			if !ok {
				mt = r.Content[types[0]]
			}
			resp.Schema = v2Schema(mt.Schema)
		}
		out.Responses[code] = resp
	}
	out.Produces = slices.Sorted(maps.Keys(produces))
	return out
}
