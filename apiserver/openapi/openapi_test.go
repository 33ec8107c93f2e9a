package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	cgdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	explain "k8s.io/kubectl/pkg/explain/v2"

	"github.com/gossipod/gossipod/apiserver/discovery"
)

// newServer serves a Service as agent/http.go routes it.
func newServer(t *testing.T) (*httptest.Server, *rest.Config) {
	t.Helper()
	s := New(discovery.Resources())
	mux := http.NewServeMux()
	mux.Handle("GET /openapi/v3", s)
	mux.Handle("GET /openapi/v3/{gv...}", s)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &rest.Config{Host: srv.URL}
}

// TestClientGoReadsTheDocuments reads the documents with client-go's
// OpenAPI v3 root, as kubectl does, and checks the Pod schema that kubectl
// apply's patch and kubectl explain depend on.
func TestClientGoReadsTheDocuments(t *testing.T) {
	_, cfg := newServer(t)
	root := openapi3.NewRoot(cgdiscovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := discovery.GroupVersions(discovery.Resources())
	slices.SortFunc(gvs, func(a, b schema.GroupVersion) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(want, func(a, b schema.GroupVersion) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(gvs, want) {
		t.Errorf("group-versions %v, want %v", gvs, want)
	}

	core, err := root.GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	spec := core.Components.Schemas["io.k8s.api.core.v1.PodSpec"]
	if spec == nil {
		t.Fatal("no io.k8s.api.core.v1.PodSpec")
	}
	containers := spec.Properties["containers"]
	if containers.Extensions["x-kubernetes-patch-merge-key"] != "name" || containers.Extensions["x-kubernetes-patch-strategy"] != "merge" ||
		containers.Extensions["x-kubernetes-list-type"] != "map" || !slices.Equal(spec.Required, []string{"containers"}) {
		t.Errorf("spec.containers: %+v, required %v", containers.Extensions, spec.Required)
	}
	if items := containers.Items; items == nil || items.Schema == nil || items.Schema.Ref.String() != refPrefix+"io.k8s.api.core.v1.Container" {
		t.Errorf("spec.containers items: %+v", items)
	}
	var gvk []groupVersionKind
	if err := core.Components.Schemas["io.k8s.api.core.v1.Pod"].Extensions.GetObject("x-kubernetes-group-version-kind", &gvk); err != nil ||
		!slices.Equal(gvk, []groupVersionKind{{Version: "v1", Kind: "Pod"}}) {
		t.Errorf("Pod's x-kubernetes-group-version-kind: %v (%v)", gvk, err)
	}
	for name, want := range map[string]string{
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       "string/date-time",
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "[integer string]/int-or-string",
		"io.k8s.apimachinery.pkg.api.resource.Quantity":   "[string number]/",
	} {
		s := core.Components.Schemas[name]
		if s == nil {
			t.Errorf("no %s", name)
			continue
		}
		got := strings.Join(s.Type, "")
		if len(s.OneOf) > 0 {
			var types []string
			for _, o := range s.OneOf {
				types = append(types, o.Type...)
			}
			got = "[" + strings.Join(types, " ") + "]"
		}
		if got += "/" + s.Format; got != want {
			t.Errorf("%s: %s, want %s as kube-openapi defines it", name, got, want)
		}
	}

	if _, err := root.GVSpec(schema.GroupVersion{Group: "policy", Version: "v1"}); !isGVNotFound(err) {
		t.Errorf("policy/v1, where nothing is served: %v, want GroupVersionNotFoundError", err)
	}
}

func isGVNotFound(err error) bool {
	var nf *openapi3.GroupVersionNotFoundError
	return errors.As(err, &nf)
}

// TestFieldValidationIsSupported asks cli-runtime's verifier, which
// kubectl create and apply run with their default --validate=strict: for a
// kind with a PATCH operation that lists fieldValidation, kubectl sends
// fieldValidation=Strict and leaves validation to the server; otherwise it
// falls back to /openapi/v2 and, finding no PATCH there either, validates
// the object itself against the v2 definitions (TestV2ValidatesAsKubectl).
func TestFieldValidationIsSupported(t *testing.T) {
	_, cfg := newServer(t)
	verifier := resource.NewQueryParamVerifierV3(dynamic.NewForConfigOrDie(cfg),
		cgdiscovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPIV3(), resource.QueryParamFieldValidation)
	for _, r := range discovery.Resources() {
		err := verifier.HasSupport(r.GroupVersionKind())
		switch {
		case r.Has("patch") && err != nil:
			t.Errorf("%s: %v, want fieldValidation supported", r.GroupVersionKind(), err)
		case !r.Has("patch") && (err == nil || resource.IsParamUnsupportedError(err)):
			// No PATCH, no answer: kubectl cannot tell from OpenAPI v3
			// (a known limit until these kinds serve patch).
			t.Errorf("%s (no patch served): %v, want the verifier to find no PATCH operation", r.GroupVersionKind(), err)
		}
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Pod"}, {Group: "apps", Version: "v1", Kind: "Deployment"},
	} {
		if err := verifier.HasSupport(gvk); err != nil {
			t.Errorf("%s: %v", gvk, err)
		}
	}
}

// TestKubectlExplain runs kubectl explain's own renderer on the documents.
func TestKubectlExplain(t *testing.T) {
	_, cfg := newServer(t)
	client := cgdiscovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPIV3()
	for _, tc := range []struct {
		gvr    schema.GroupVersionResource
		fields []string
		want   []string
	}{
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, []string{"spec", "containers"},
			[]string{"KIND:       Pod", "FIELD: containers <[]Container>", "name\t<string> -required-", "image\t<string>", "resources\t<ResourceRequirements>"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, []string{"spec", "containers", "ports", "containerPort"},
			[]string{"FIELD: containerPort <integer>"}},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, []string{"spec", "strategy", "rollingUpdate", "maxSurge"},
			[]string{"GROUP:      apps", "KIND:       Deployment", "FIELD: maxSurge <IntOrString>"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, []string{"spec"}, []string{"KIND:       Node", "unschedulable\t<boolean>"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "events"}, nil, []string{"KIND:       Event", "involvedObject\t<ObjectReference> -required-"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, nil, []string{"KIND:       Namespace"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, nil, []string{"KIND:       ServiceAccount"}},
	} {
		var out bytes.Buffer
		if err := explain.PrintModelDescription(tc.fields, &out, client, tc.gvr, false, 0, "plaintext"); err != nil {
			t.Errorf("explain %s %v: %v", tc.gvr, tc.fields, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("explain %s %v: no %q in\n%s", tc.gvr, tc.fields, w, out.String())
			}
		}
	}
	var out bytes.Buffer
	err := explain.PrintModelDescription([]string{"spec", "nosuchfield"}, &out, client, schema.GroupVersionResource{Version: "v1", Resource: "pods"}, false, 0, "plaintext")
	if err == nil || !strings.Contains(err.Error(), `field "nosuchfield" does not exist`) {
		t.Errorf("explain of a missing field: %v", err)
	}
}

// TestStrategicMergePatchAsKubectlApply computes the patch of a second
// kubectl apply twice, with kubectl apply's two sources of patch metadata:
// the OpenAPI v3 document (what kubectl 1.37 uses first) and the compiled
// k8s.io/api types. Both must merge lists by the same keys; a missing
// merge key would replace whole lists (every container, every volume).
func TestStrategicMergePatchAsKubectlApply(t *testing.T) {
	_, cfg := newServer(t)
	core, err := openapi3.NewRoot(cgdiscovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPIV3()).GVSpec(schema.GroupVersion{Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	original := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","tier":"a"}},"spec":{
		"containers":[{"name":"a","image":"busybox:1","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],"ports":[{"containerPort":80}]},
		              {"name":"b","image":"busybox:1"}],
		"volumes":[{"name":"data","emptyDir":{}},{"name":"host","hostPath":{"path":"/srv"}}]}}`
	modified := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},"spec":{
		"containers":[{"name":"a","image":"busybox:2","env":[{"name":"X","value":"1"}],"ports":[{"containerPort":80},{"containerPort":81}]},
		              {"name":"c","image":"busybox:1"}],
		"volumes":[{"name":"data","hostPath":{"path":"/data"}}]}}`
	current := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","tier":"a","added":"by-someone"}},"spec":{
		"nodeName":"n1",
		"containers":[{"name":"a","image":"busybox:1","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],"ports":[{"containerPort":80}]},
		              {"name":"b","image":"busybox:1"}],
		"volumes":[{"name":"data","emptyDir":{}},{"name":"host","hostPath":{"path":"/srv"}}]}}`
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	fromOpenAPI := strategicpatch.PatchMetaFromOpenAPIV3{Schema: core.Components.Schemas["io.k8s.api.core.v1.Pod"], SchemaList: core.Components.Schemas}
	got, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), fromOpenAPI, false)
	if err != nil {
		t.Fatalf("patch from the OpenAPI document: %v", err)
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("patch from OpenAPI:\n%s\nfrom the Go types:\n%s", got, want)
	}
	if !strings.Contains(string(want), `"$setElementOrder/containers"`) || !strings.Contains(string(want), `"$retainKeys"`) {
		t.Errorf("the patch exercises neither merge keys nor retainKeys: %s", want)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

// TestDocumentsFollowTheTable checks every document against the table it
// was built from: each served verb has its operation, with the kind and
// action clients look it up by, no operation exists for a verb that is
// not served, writes list fieldValidation, and every reference resolves.
func TestDocumentsFollowTheTable(t *testing.T) {
	table := discovery.Resources()
	for _, gv := range discovery.GroupVersions(table) {
		doc, b, err := buildDocument(table, gv)
		if err != nil {
			t.Fatal(err)
		}
		type op struct{ path, method, action, kind string }
		var have []op
		for p, item := range doc.Paths {
			for method, o := range map[string]*operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
				if o == nil {
					continue
				}
				have = append(have, op{p, method, o.Action, o.GroupVersionKind.Kind})
				if (o.Action == "post" || o.Action == "put" || o.Action == "patch") && !strings.Contains(p, "/{name}/") {
					if !slices.ContainsFunc(o.Parameters, func(x parameter) bool { return x.Name == "fieldValidation" && x.In == "query" }) {
						t.Errorf("%s %s: no fieldValidation parameter", method, p)
					}
				}
				if strings.Contains(p, "{namespace}") && !slices.ContainsFunc(item.Parameters, func(x parameter) bool { return x.Name == "namespace" && x.In == "path" && x.Required }) {
					t.Errorf("%s: no namespace path parameter", p)
				}
			}
		}
		var want []op
		for _, r := range table {
			if r.GroupVersion() != gv {
				continue
			}
			prefix := "/api/v1"
			if gv.Group != "" {
				prefix = "/apis/" + gv.String()
			}
			coll := prefix + "/" + r.Resource
			if r.Namespaced {
				coll = prefix + "/namespaces/{namespace}/" + r.Resource
			}
			item := coll + "/{name}"
			for _, v := range r.Verbs {
				switch v {
				case "list":
					want = append(want, op{coll, "GET", "list", r.Kind})
					if r.Namespaced {
						want = append(want, op{prefix + "/" + r.Resource, "GET", "list", r.Kind})
					}
				case "create":
					want = append(want, op{coll, "POST", "post", r.Kind})
				case "get":
					want = append(want, op{item, "GET", "get", r.Kind})
				case "update":
					want = append(want, op{item, "PUT", "put", r.Kind})
				case "patch":
					want = append(want, op{item, "PATCH", "patch", r.Kind})
				case "delete":
					want = append(want, op{item, "DELETE", "delete", r.Kind})
				case "deletecollection":
					want = append(want, op{coll, "DELETE", "deletecollection", r.Kind})
				}
			}
			for _, s := range r.Subresources {
				p := item + "/" + s.Name
				for _, v := range s.Verbs {
					method := map[string]string{"get": "GET", "create": "POST", "update": "PUT", "patch": "PATCH"}[v]
					action := map[string]string{"get": "get", "create": "post", "update": "put", "patch": "patch"}[v]
					if s.Body == discovery.BodyStream {
						action = "connect"
					}
					want = append(want, op{p, method, action, s.Kind})
				}
			}
		}
		sortOps := func(ops []op) {
			slices.SortFunc(ops, func(a, b op) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
		}
		sortOps(have)
		sortOps(want)
		if !slices.Equal(have, want) {
			t.Errorf("%s: operations\n%v\nwant\n%v", gv, have, want)
		}

		// Every reference resolves, and every struct type comes from a
		// package whose markers are generated.
		body, _ := json.Marshal(doc)
		for _, m := range strings.Split(string(body), `"$ref":"`)[1:] {
			name := strings.TrimPrefix(m[:strings.IndexByte(m, '"')], refPrefix)
			if doc.Components.Schemas[name] == nil {
				t.Errorf("%s: dangling reference %s", gv, name)
			}
		}
		for name, def := range doc.Components.Schemas {
			walk(def, func(s *jsonSchema) {
				if s.Ref != "" && !reflect.DeepEqual(*s, jsonSchema{Ref: s.Ref}) {
					t.Errorf("%s: %s has a $ref with siblings, which OpenAPI 3.0 ignores: %+v", gv, name, *s)
				}
			})
		}
		for pkg := range b.packages {
			if !slices.Contains(markerPackages, pkg) {
				t.Errorf("%s: defines types of %s, whose comment markers are not generated (add it to markerPackages)", gv, pkg)
			}
		}
	}
}

// walk calls f on s and every schema inside it.
func walk(s *jsonSchema, f func(*jsonSchema)) {
	if s == nil {
		return
	}
	f(s)
	for _, c := range slices.Concat(s.AllOf, s.OneOf, []*jsonSchema{s.Items, s.AdditionalProperties}) {
		walk(c, f)
	}
	for _, p := range s.Properties {
		walk(p, f)
	}
}

// TestHTTP covers what clients rely on beyond the bodies: the root's
// hashes, immutable caching and redirects of stale hashes, ETags, 404 and
// 406.
func TestHTTP(t *testing.T) {
	srv, _ := newServer(t)
	get := func(url, accept, ifNoneMatch string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get(srv.URL+Root, "", "")
	var root struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &root); err != nil || resp.StatusCode != http.StatusOK || len(root.Paths) != 4 {
		t.Fatalf("root: %d %s (%v)", resp.StatusCode, body, err)
	}
	u := root.Paths["apis/apps/v1"].ServerRelativeURL
	if !strings.HasPrefix(u, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("apps/v1 at %q", u)
	}
	resp, body = get(srv.URL+u, "application/json", "")
	hash := strings.TrimPrefix(u, "/openapi/v3/apis/apps/v1?hash=")
	if resp.StatusCode != http.StatusOK || hashOf(body) != hash || resp.Header.Get("Cache-Control") != "public, immutable" {
		t.Errorf("apps/v1: %d, hash of the body %s, want %s; Cache-Control %q", resp.StatusCode, hashOf(body), hash, resp.Header.Get("Cache-Control"))
	}
	if resp, _ := get(srv.URL+u, "", resp.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	resp, body = get(srv.URL+"/openapi/v3/apis/apps/v1?hash=STALE", "", "")
	if resp.StatusCode != http.StatusOK || hashOf(body) != hash || resp.Request.URL.RequestURI() != u {
		t.Errorf("stale hash: %d at %s, want a redirect to %s", resp.StatusCode, resp.Request.URL.RequestURI(), u)
	}
	// Kept gzipped, served as kept to clients that accept gzip (the
	// requests above: Go's transport asks for it and inflates), inflated
	// for the others.
	for _, enc := range []string{"identity", "gzip"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+u, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = resp.Body
		if got := resp.Header.Get("Content-Encoding"); enc == "gzip" {
			if got != "gzip" {
				t.Errorf("Accept-Encoding gzip: Content-Encoding %q", got)
			}
			if r, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		} else if got != "" {
			t.Errorf("Accept-Encoding identity: Content-Encoding %q", got)
		}
		body, err := io.ReadAll(r)
		resp.Body.Close()
		if err != nil || hashOf(body) != hash {
			t.Errorf("Accept-Encoding %s: %v, hash %s, want %s", enc, err, hashOf(body), hash)
		}
	}
	if resp, body := get(srv.URL+"/openapi/v3/apis/policy/v1", "", ""); resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte(`"reason":"NotFound"`)) {
		t.Errorf("policy/v1: %d %s, want a 404 Status", resp.StatusCode, body)
	}
	if resp, _ := get(srv.URL+"/openapi/v3/api/v1", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf", ""); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("protobuf: %d, want 406", resp.StatusCode)
	}
}

// TestBuiltOnceOnFirstRequest: nothing is built before a request (the
// pause process runs this binary), concurrent first requests build once
// and see the same bytes.
func TestBuiltOnceOnFirstRequest(t *testing.T) {
	s := New(discovery.Resources())
	if s.docs != nil || s.root.gz != nil {
		t.Fatal("documents built before any request")
	}
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi/v3/api/v1", nil))
			bodies[i] = w.Body.String()
		})
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Fatal("concurrent first requests saw different documents")
		}
	}
	if len(s.docs) != len(discovery.GroupVersions(discovery.Resources())) {
		t.Errorf("%d documents kept, want one per group-version", len(s.docs))
	}
}
