package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"

	"github.com/gossipod/gossipod/api/client"
)

// acceptAggregatedDiscovery asks /api and /apis for aggregated discovery
// (apidiscovery.k8s.io/v2), every group's resources in one document each,
// as kubectl 1.30 and later ask first.
const acceptAggregatedDiscovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// apiResource is one resource the server's discovery lists: what the CLI
// needs to resolve what a user types (pods, po, pod, deployment.apps) and
// to build its URLs, so that a kind the server adds needs no CLI change.
type apiResource struct {
	Group, Version string
	// Resource is the plural (the URL segment), Singular the singular name.
	Resource, Singular string
	Kind               string
	Namespaced         bool
	Verbs              []string
	ShortNames         []string
	Categories         []string
}

// has reports whether the resource serves verb.
func (r apiResource) has(verb string) bool { return slices.Contains(r.Verbs, verb) }

// groupResource is "pods" or "deployments.apps", the name Kubernetes'
// messages give the resource.
func (r apiResource) groupResource() string {
	if r.Group == "" {
		return r.Resource
	}
	return r.Resource + "." + r.Group
}

// nameKind is the prefix of kubectl's -o name: "pod", "deployment.apps".
func (r apiResource) nameKind() string {
	k := strings.ToLower(r.Kind)
	if r.Group == "" {
		return k
	}
	return k + "." + r.Group
}

// apiVersion is the apiVersion of the resource's objects ("v1", "apps/v1").
func (r apiResource) apiVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// path is the URL path of the resource's collection in namespace (all
// namespaces when "", and always for a cluster-scoped resource), or of the
// object name when name is not "".
func (r apiResource) path(namespace, name string) string {
	p := "/apis/" + r.Group + "/" + r.Version
	if r.Group == "" {
		p = "/api/" + r.Version
	}
	if r.Namespaced && namespace != "" {
		p += "/namespaces/" + url.PathEscape(namespace)
	}
	p += "/" + r.Resource
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// discover reads the server's aggregated discovery of /api and /apis: every
// resource (not subresources) of the preferred version of each group.
func discover(ctx context.Context, cl *client.Client) ([]apiResource, error) {
	var out []apiResource
	for _, root := range []string{"/api", "/apis"} {
		var list apidiscoveryv2.APIGroupDiscoveryList
		if err := cl.DoAccept(ctx, http.MethodGet, root, acceptAggregatedDiscovery, nil, &list); err != nil {
			return nil, fmt.Errorf("discover the server's resources (%s): %w", root, statusError(err))
		}
		for _, g := range list.Items {
			if len(g.Versions) == 0 {
				continue
			}
			v := g.Versions[0] // the preferred version comes first
			for _, res := range v.Resources {
				r := apiResource{
					Group: g.Name, Version: v.Version, Resource: res.Resource, Singular: res.SingularResource,
					Namespaced: res.Scope == apidiscoveryv2.ScopeNamespace, Verbs: res.Verbs,
					ShortNames: res.ShortNames, Categories: res.Categories,
				}
				if res.ResponseKind != nil {
					r.Kind = res.ResponseKind.Kind
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// resolve finds the resource a user names, as kubectl's RESTMapper does:
// by plural, singular, short name or kind, case-insensitively, optionally
// qualified by its group ("deployments.apps", "deploy.apps").
func resolve(resources []apiResource, typed string) (apiResource, bool) {
	s := strings.ToLower(typed)
	name, group, qualified := strings.Cut(s, ".")
	for _, r := range resources {
		if qualified && r.Group != group {
			continue
		}
		if name == r.Resource || name == r.Singular || name == strings.ToLower(r.Kind) || slices.Contains(r.ShortNames, name) {
			return r, true
		}
	}
	return apiResource{}, false
}

// resolveTypes resolves a comma-separated list of types, a category ("all")
// expanding to its resources in discovery's order. An unknown type is
// kubectl's `the server doesn't have a resource type "x"`.
func resolveTypes(resources []apiResource, typed string) ([]apiResource, error) {
	var out []apiResource
	add := func(r apiResource) {
		if !slices.ContainsFunc(out, func(o apiResource) bool { return o.groupResource() == r.groupResource() }) {
			out = append(out, r)
		}
	}
	for _, t := range strings.Split(typed, ",") {
		if r, ok := resolve(resources, t); ok {
			add(r)
			continue
		}
		found := false
		for _, r := range resources {
			if slices.Contains(r.Categories, strings.ToLower(t)) {
				add(r)
				found = true
			}
		}
		if !found {
			return nil, usageError{fmt.Errorf("the server doesn't have a resource type %q", t)}
		}
	}
	return out, nil
}

// typedArgs reads kubectl's forms of naming objects, TYPE[,TYPE...]
// [NAME...] and TYPE/NAME..., against discovery: the resources and, for
// each, the names given (none: the whole collection).
func typedArgs(resources []apiResource, args []string, verb string) ([]apiResource, [][]string, error) {
	if len(args) == 0 {
		return nil, nil, usageError{fmt.Errorf("you must specify the type of resource to %s, e.g. gossipod %s pods", verb, verb)}
	}
	if !strings.Contains(args[0], "/") {
		for _, a := range args[1:] {
			if strings.Contains(a, "/") {
				return nil, nil, usageError{fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'gossipod %s pods/NAME' instead of 'gossipod %s pods pods/NAME')", verb, verb)}
			}
		}
		rs, err := resolveTypes(resources, args[0])
		if err != nil {
			return nil, nil, err
		}
		if len(args) > 1 && len(rs) > 1 {
			return nil, nil, usageError{fmt.Errorf("names can only be given with a single resource type, got %q", args[0])}
		}
		names := make([][]string, len(rs))
		if len(rs) == 1 {
			names[0] = args[1:]
		}
		return rs, names, nil
	}
	var rs []apiResource
	var names [][]string
	for _, a := range args {
		t, name, ok := strings.Cut(a, "/")
		if !ok || name == "" {
			return nil, nil, usageError{fmt.Errorf("arguments in resource/name form must have a single resource and name, got %q", a)}
		}
		r, ok := resolve(resources, t)
		if !ok {
			return nil, nil, usageError{fmt.Errorf("the server doesn't have a resource type %q", t)}
		}
		i := slices.IndexFunc(rs, func(o apiResource) bool { return o.groupResource() == r.groupResource() })
		if i < 0 {
			rs, names = append(rs, r), append(names, nil)
			i = len(rs) - 1
		}
		names[i] = append(names[i], name)
	}
	return rs, names, nil
}
