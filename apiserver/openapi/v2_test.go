package openapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	cgdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	kopenapi "k8s.io/kubectl/pkg/util/openapi"
	"k8s.io/kubectl/pkg/validation"
	"sigs.k8s.io/yaml"

	"github.com/gossipod/gossipod/apiserver/discovery"
)

// newV2Server serves a Service's v2 document as agent/http.go routes it.
func newV2Server(t *testing.T) (*httptest.Server, *rest.Config) {
	t.Helper()
	s := New(discovery.Resources())
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+V2Root, s.ServeV2)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &rest.Config{Host: srv.URL}
}

// v2Resources reads the document as kubectl before 1.27 does: client-go's
// OpenAPISchema asks for the protobuf, and kubectl indexes the definitions
// by their x-kubernetes-group-version-kind.
func v2Resources(t *testing.T, cfg *rest.Config) kopenapi.Resources {
	t.Helper()
	doc, err := cgdiscovery.NewDiscoveryClientForConfigOrDie(cfg).OpenAPISchema()
	if err != nil {
		t.Fatalf("client-go's OpenAPISchema: %v", err)
	}
	resources, err := kopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatalf("kubectl's reading of the v2 document: %v", err)
	}
	return resources
}

// resourcesGetter hands kubectl's validation the parsed document, as
// kubectl's factory does.
type resourcesGetter struct{ kopenapi.Resources }

func (g resourcesGetter) OpenAPISchema() (kopenapi.Resources, error) { return g.Resources, nil }

const v2Deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  strategy:
    rollingUpdate:
      maxUnavailable: 25%
      maxSurge: 1
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "sleep 3600"]
        resources:
          limits:
            cpu: 1
            memory: 64Mi
        ports:
        - containerPort: 8080
          name: http
        readinessProbe:
          tcpSocket:
            port: http
`

// TestV2ValidatesAsKubectl validates manifests with kubectl's client-side
// validation over the served protobuf: what kubectl create and apply do
// before 1.27, with the default --validate=true. A valid manifest (with
// the int-or-string and quantity fields written both ways) passes; an
// unknown field, a mistyped one or a missing required one is refused, in
// nested objects and behind references with descriptions (metadata).
func TestV2ValidatesAsKubectl(t *testing.T) {
	_, cfg := newV2Server(t)
	v := validation.ConjunctiveSchema{
		validation.NewSchemaValidation(resourcesGetter{v2Resources(t, cfg)}),
		validation.NoDoubleKeySchema{},
	}
	for _, tc := range []struct {
		name, manifest, wantErr string
	}{
		{"valid Deployment", v2Deployment, ""},
		{"valid Namespace", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n", ""},
		{"unknown container field", strings.Replace(v2Deployment, "imagePullPolicy:", "imagePullPolicyy:", 1),
			`ValidationError(Deployment.spec.template.spec.containers[0]): unknown field "imagePullPolicyy" in io.k8s.api.core.v1.Container`},
		{"unknown metadata field", strings.Replace(v2Deployment, "  labels:\n    app: web\nspec:", "  labelz:\n    app: web\nspec:", 1),
			`ValidationError(Deployment.metadata): unknown field "labelz" in io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`},
		{"mistyped field", strings.Replace(v2Deployment, "replicas: 2", "replicas: two", 1),
			`ValidationError(Deployment.spec.replicas): invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"`},
		{"missing required field", strings.Replace(v2Deployment, "      - name: app\n        image:", "      - image:", 1),
			`ValidationError(Deployment.spec.template.spec.containers[0]): missing required field "name" in io.k8s.api.core.v1.Container`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// kubectl reads YAML into JSON before it validates.
			data, err := yaml.YAMLToJSON([]byte(tc.manifest))
			if err != nil {
				t.Fatal(err)
			}
			err = v.ValidateBytes(data)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestV2StrategicMergePatch computes the patch of a second kubectl apply
// with the patch metadata kubectl apply before 1.27 reads from the v2
// document, and with the compiled k8s.io/api types: both must merge lists
// by the same keys.
func TestV2StrategicMergePatch(t *testing.T) {
	_, cfg := newV2Server(t)
	pod := v2Resources(t, cfg).LookupResource(schema.GroupVersionKind{Version: "v1", Kind: "Pod"})
	if pod == nil {
		t.Fatal("no definition of v1 Pod")
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
	got, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), strategicpatch.NewPatchMetaFromOpenAPI(pod), false)
	if err != nil {
		t.Fatalf("patch from the v2 document: %v", err)
	}
	if !jsonEqual(t, got, want) {
		t.Errorf("patch from OpenAPI v2:\n%s\nfrom the Go types:\n%s", got, want)
	}
	if !strings.Contains(string(want), `"$setElementOrder/containers"`) {
		t.Errorf("the patch exercises no merge key: %s", want)
	}
}

// TestV2FollowsV3 checks the v2 document against the v3 documents it is
// converted from: every path and definition is there, every definition
// the schema of the same kinds, and nothing v2 readers cannot follow is
// left (allOf, oneOf, v3 references).
func TestV2FollowsV3(t *testing.T) {
	table := discovery.Resources()
	v2, err := buildV2(table)
	if err != nil {
		t.Fatal(err)
	}
	gvks := map[string][]groupVersionKind{}
	for _, gv := range discovery.GroupVersions(table) {
		v3, _, err := buildDocument(table, gv)
		if err != nil {
			t.Fatal(err)
		}
		for p := range v3.Paths {
			if v2.Paths[p] == nil {
				t.Errorf("path %s of %s is not in v2", p, gv)
			}
		}
		for name, s := range v3.Components.Schemas {
			for _, g := range s.GroupVersionKind {
				if !slices.Contains(gvks[name], g) {
					gvks[name] = append(gvks[name], g)
				}
			}
			if v2.Definitions[name] == nil {
				t.Errorf("definition %s of %s is not in v2", name, gv)
			}
		}
	}
	for name, s := range v2.Definitions {
		if !slices.Equal(s.GroupVersionKind, gvks[name]) {
			t.Errorf("%s: x-kubernetes-group-version-kind %v, want %v", name, s.GroupVersionKind, gvks[name])
		}
		walk(s, func(x *jsonSchema) {
			if len(x.AllOf) > 0 || len(x.OneOf) > 0 || (x.Ref != "" && !strings.HasPrefix(x.Ref, v2RefPrefix)) {
				t.Errorf("%s: a schema v2 readers cannot follow: %+v", name, x)
			}
			if name, ok := strings.CutPrefix(x.Ref, v2RefPrefix); ok && v2.Definitions[name] == nil {
				t.Errorf("dangling reference %s", x.Ref)
			}
		})
	}
	if ios := v2.Definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; ios == nil || ios.Type != "string" || ios.Format != "int-or-string" {
		t.Errorf("IntOrString: %+v, want kube-openapi's v2 string/int-or-string", ios)
	}
	patch := v2.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].Patch
	if patch == nil || !slices.Equal(patch.Consumes, patchTypes()) || patch.Parameters[0].In != "body" ||
		!slices.ContainsFunc(patch.Parameters, func(p v2Parameter) bool { return p.Name == "fieldValidation" && p.Type == "string" }) {
		t.Errorf("Deployment's PATCH: %+v", patch)
	}
}

// TestV2HTTP covers the negotiation client-go and kube-openapi's handler
// agree on: protobuf under both of its names, JSON for JSON and
// wildcards, 406 for anything else; ETags per form.
func TestV2HTTP(t *testing.T) {
	srv, _ := newV2Server(t)
	get := func(accept, ifNoneMatch string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+V2Root, nil)
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
	var jsonBody []byte
	for _, accept := range []string{"", "*/*", "application/json", "application/yaml;q=0.9,application/json;q=0.5"} {
		resp, body := get(accept, "")
		var doc map[string]any
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &doc) != nil || doc["swagger"] != "2.0" {
			t.Errorf("Accept %q: %d %s, %.100s", accept, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		jsonBody = body
	}
	var etags []string
	for _, accept := range []string{contentTypeV2ProtobufDeprecated, contentTypeV2Protobuf, "application/xml;q=1," + contentTypeV2Protobuf + ";q=0.5"} {
		resp, body := get(accept, "")
		var doc openapi_v2.Document
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != contentTypeV2Protobuf || proto.Unmarshal(body, &doc) != nil || doc.GetSwagger() != "2.0" {
			t.Errorf("Accept %q: %d %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		etags = append(etags, resp.Header.Get("ETag"))
	}
	if etags[0] == "" || etags[0] == strconv.Quote(hashOf(jsonBody)) {
		t.Errorf("protobuf ETag %q: want one of its own", etags[0])
	}
	if resp, _ := get(contentTypeV2Protobuf, etags[0]); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	if resp, body := get("application/yaml", ""); resp.StatusCode != http.StatusNotAcceptable || !bytes.Contains(body, []byte(`"reason":"NotAcceptable"`)) {
		t.Errorf("yaml: %d %s, want a 406 Status", resp.StatusCode, body)
	}
}

// BenchmarkBuildV2 measures the first request's cost, the v2 document in
// both forms, and reports their sizes (kept gzipped).
func BenchmarkBuildV2(b *testing.B) {
	var s *Service
	for b.Loop() {
		s = New(discovery.Resources())
		s.buildV2()
		if s.v2err != nil {
			b.Fatal(s.v2err)
		}
	}
	b.ReportMetric(float64(s.v2JSON.size), "json-bytes")
	b.ReportMetric(float64(len(s.v2JSON.gz)), "json-gz-bytes")
	b.ReportMetric(float64(s.v2Pb.size), "pb-bytes")
	b.ReportMetric(float64(len(s.v2Pb.gz)), "pb-gz-bytes")
}
