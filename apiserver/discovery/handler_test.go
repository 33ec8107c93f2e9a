package discovery

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/kubectl/pkg/drain"
)

// server is an httptest server with the discovery routes as agent/http.go
// registers them, recording the Content-Type of every discovery answer.
type server struct {
	*httptest.Server
	mu           sync.Mutex
	contentTypes map[string]string // path → Content-Type answered
}

func newServer(t *testing.T, resources []Resource) *server {
	t.Helper()
	s := &server{contentTypes: map[string]string{}}
	h := NewHandler(resources, "10.0.0.1:7948")
	mux := http.NewServeMux()
	for _, p := range []string{"/api", "/apis", "/api/{version}", "/apis/{group}", "/apis/{group}/{version}"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			s.mu.Lock()
			s.contentTypes[r.URL.Path] = w.Header().Get("Content-Type")
			s.mu.Unlock()
		})
	}
	mux.Handle("GET /version", VersionHandler(VersionInfo("3993eef-dirty")))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *server) contentType(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contentTypes[path]
}

// wantResources is what a client must discover from a table: one
// APIResource per resource and per subresource, by group-version.
func wantResources(table []Resource) map[string][]metav1.APIResource {
	want := map[string][]metav1.APIResource{}
	for _, r := range table {
		gv := r.GroupVersion().String()
		verbs := slices.Sorted(slices.Values(r.Verbs))
		want[gv] = append(want[gv], metav1.APIResource{Name: r.Resource, SingularName: r.Singular,
			Namespaced: r.Namespaced, Kind: r.Kind, Verbs: verbs, ShortNames: r.ShortNames, Categories: r.Categories})
		for _, s := range r.Subresources {
			want[gv] = append(want[gv], metav1.APIResource{Name: r.Resource + "/" + s.Name, SingularName: r.Singular,
				Namespaced: r.Namespaced, Group: s.Group, Version: s.Version, Kind: s.Kind,
				Verbs: slices.Sorted(slices.Values(s.Verbs))})
		}
	}
	for gv := range want {
		slices.SortFunc(want[gv], func(a, b metav1.APIResource) int { return cmp.Compare(a.Name, b.Name) })
	}
	return want
}

// TestClientGoDiscovery reads the documents with client-go's discovery
// client, aggregated (what kubectl 1.30+ asks for first) and legacy (what
// older clients and UseLegacyDiscovery ask for), and checks that both
// list exactly the table, and that the server answered in the form asked.
func TestClientGoDiscovery(t *testing.T) {
	table := Resources()
	for _, tc := range []struct {
		name        string
		legacy      bool
		contentType string
	}{
		{"aggregated", false, contentTypeAggregated},
		{"legacy", true, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, table)
			dc := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
			dc.UseLegacyDiscovery = tc.legacy
			groups, lists, err := dc.ServerGroupsAndResources()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/api", "/apis"} {
				if got := srv.contentType(p); got != tc.contentType {
					t.Errorf("%s answered %q, want %q", p, got, tc.contentType)
				}
			}
			var names []string
			for _, g := range groups {
				names = append(names, g.Name+"="+g.PreferredVersion.GroupVersion)
			}
			if want := []string{"=v1", "apps=apps/v1", "discovery.k8s.io=discovery.k8s.io/v1", "rbac.authorization.k8s.io=rbac.authorization.k8s.io/v1"}; !slices.Equal(names, want) {
				t.Errorf("groups %v, want %v", names, want)
			}
			got := map[string][]metav1.APIResource{}
			for _, l := range lists {
				got[l.GroupVersion] = l.APIResources
			}
			want := wantResources(table)
			if len(got) != len(want) {
				t.Errorf("group-versions %v, want those of %v", keys(got), keys(want))
			}
			for gv, w := range want {
				g := got[gv]
				if len(g) != len(w) {
					t.Errorf("%s: %d resources %v, want %d %v", gv, len(g), resourceNames(g), len(w), resourceNames(w))
					continue
				}
				for i := range w {
					if !equalResource(g[i], w[i]) {
						t.Errorf("%s: resource %d\n got %+v\nwant %+v", gv, i, g[i], w[i])
					}
				}
			}
		})
	}
}

func equalResource(a, b metav1.APIResource) bool {
	return a.Name == b.Name && a.SingularName == b.SingularName && a.Namespaced == b.Namespaced &&
		a.Group == b.Group && a.Version == b.Version && a.Kind == b.Kind && slices.Equal(a.Verbs, b.Verbs) &&
		slices.Equal(a.ShortNames, b.ShortNames) && slices.Equal(a.Categories, b.Categories)
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

func resourceNames(rs []metav1.APIResource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

// TestWhatKubectlLooksFor checks, with kubectl's own code, the facts
// kubectl depends on: drain finds policy/v1 evictions, short names and
// singular names resolve, `kubectl get all` covers pods and deployments,
// and nothing is served under policy.
func TestWhatKubectlLooksFor(t *testing.T) {
	srv := newServer(t, Resources())
	cfg := &rest.Config{Host: srv.URL}
	cs := kubernetes.NewForConfigOrDie(cfg)
	gv, err := drain.CheckEvictionSupport(cs)
	if err != nil || gv != (schema.GroupVersion{Group: "policy", Version: "v1"}) {
		t.Errorf("drain.CheckEvictionSupport = %v, %v; want policy/v1", gv, err)
	}

	dc := memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg))
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil)
	for in, want := range map[string]schema.GroupVersionResource{
		"po":                 {Version: "v1", Resource: "pods"},
		"pod":                {Version: "v1", Resource: "pods"},
		"no":                 {Version: "v1", Resource: "nodes"},
		"ns":                 {Version: "v1", Resource: "namespaces"},
		"sa":                 {Version: "v1", Resource: "serviceaccounts"},
		"ev":                 {Version: "v1", Resource: "events"},
		"cm":                 {Version: "v1", Resource: "configmaps"},
		"configmap":          {Version: "v1", Resource: "configmaps"},
		"secret":             {Version: "v1", Resource: "secrets"},
		"deploy":             {Group: "apps", Version: "v1", Resource: "deployments"},
		"deployment":         {Group: "apps", Version: "v1", Resource: "deployments"},
		"rolebinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		"rolebindings":       {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		"clusterrolebinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	} {
		got, err := mapper.ResourceFor(schema.GroupVersionResource{Resource: in})
		if err != nil || got != want {
			t.Errorf("kubectl's mapper resolves %q to %v, %v; want %v", in, got, err, want)
		}
	}
	kind, err := mapper.KindFor(schema.GroupVersionResource{Resource: "deploy"})
	if err != nil || kind != (schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) {
		t.Errorf("kind of deploy: %v, %v", kind, err)
	}
	_, all, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var inAll []string
	for _, l := range all {
		for _, r := range l.APIResources {
			if slices.Contains(r.Categories, "all") {
				inAll = append(inAll, r.Name)
			}
		}
	}
	slices.Sort(inAll)
	if !slices.Equal(inAll, []string{"deployments", "pods", "replicasets", "services"}) {
		t.Errorf("category all: %v, want deployments, pods, replicasets and services", inAll)
	}

	if _, err := cs.Discovery().ServerResourcesForGroupVersion("policy/v1"); !apierrors.IsNotFound(err) {
		t.Errorf("policy/v1 (nothing served under it): %v, want NotFound", err)
	}
}

// TestUnservedPathsAre404 checks that group-versions not served are 404
// Status objects, which client-go reads as "not there" instead of failing.
func TestUnservedPathsAre404(t *testing.T) {
	srv := newServer(t, Resources())
	for _, p := range []string{"/api/v2", "/apis/policy/v1", "/apis/policy", "/apis/apps/v2", "/apis/batch/v1", "/apis/apps/v1beta1"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var st metav1.Status
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || err != nil || st.Kind != "Status" || st.Reason != metav1.StatusReasonNotFound {
			t.Errorf("GET %s: %d %+v (%v), want a 404 NotFound Status", p, resp.StatusCode, st, err)
		}
	}
	for _, p := range []string{"/api/v1", "/apis/apps/v1", "/apis/apps", "/api", "/apis"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
		}
	}
}

// TestNegotiate covers the Accept headers clients send.
func TestNegotiate(t *testing.T) {
	const (
		v2      = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
		v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
	)
	for _, tc := range []struct {
		accept       string
		aggregatedOK bool
		want         mediaType
	}{
		{"", true, mediaJSON},
		{"application/json", true, mediaJSON},
		{"*/*", true, mediaJSON},
		{"application/*", true, mediaJSON},
		// client-go 1.37, and with the no-peer profile.
		{v2 + ",application/json", true, mediaAggregated},
		{v2 + ";profile=nopeer," + v2 + ",application/json", true, mediaAggregated},
		// kubectl 1.27-1.29 asked for v2beta1 first, which is no longer served.
		{v2beta1 + ",application/json", true, mediaJSON},
		{v2 + "," + v2beta1 + ",application/json", true, mediaAggregated},
		// Parameter order does not matter; spaces are allowed.
		{"application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io", true, mediaAggregated},
		// Preference by q.
		{"application/json;q=0.5, " + v2, true, mediaAggregated},
		{v2 + ";q=0.5, application/json", true, mediaJSON},
		{v2 + ";q=0, application/json;q=0.1", true, mediaJSON},
		// A document without an aggregated form.
		{v2 + ",application/json", false, mediaJSON},
		{v2, false, mediaNone},
		// Nothing gossipod serves.
		{"application/vnd.kubernetes.protobuf", true, mediaNone},
		{"application/yaml", true, mediaNone},
		{"application/json;as=Table;v=v1;g=meta.k8s.io", true, mediaNone},
		{"application/vnd.kubernetes.protobuf, application/json", true, mediaJSON},
		{"application/json;q=0", true, mediaNone},
		{"garbage;;;", true, mediaNone},
	} {
		if got := negotiate(tc.accept, tc.aggregatedOK); got != tc.want {
			t.Errorf("negotiate(%q, %v) = %d, want %d", tc.accept, tc.aggregatedOK, got, tc.want)
		}
	}
}

// TestHTTPBehaviour: 406 in a Status, ETag revalidation with 304, and the
// body of each form.
func TestHTTPBehaviour(t *testing.T) {
	srv := newServer(t, Resources())
	get := func(path, accept, ifNoneMatch string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
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
		return resp, string(b)
	}

	resp, body := get("/apis", "application/vnd.kubernetes.protobuf", "")
	if resp.StatusCode != http.StatusNotAcceptable || !strings.Contains(body, `"reason":"NotAcceptable"`) {
		t.Errorf("protobuf only: %d %s, want a 406 Status", resp.StatusCode, body)
	}

	resp, body = get("/apis", contentTypeAggregated, "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" || resp.Header.Get("Vary") != "Accept" ||
		!strings.Contains(body, `"kind":"APIGroupDiscoveryList"`) || !strings.Contains(body, `"apiVersion":"apidiscovery.k8s.io/v2"`) {
		t.Fatalf("aggregated /apis: %d etag %q vary %q %s", resp.StatusCode, etag, resp.Header.Get("Vary"), body)
	}
	if resp, _ := get("/apis", contentTypeAggregated, etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the ETag: %d, want 304", resp.StatusCode)
	}
	resp, body = get("/apis", "application/json", etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag || !strings.Contains(body, `"kind":"APIGroupList"`) {
		t.Errorf("legacy /apis with the aggregated ETag: %d etag %q %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}

	var versions metav1.APIVersions
	_, body = get("/api", "", "")
	if err := json.Unmarshal([]byte(body), &versions); err != nil || !slices.Equal(versions.Versions, []string{"v1"}) ||
		len(versions.ServerAddressByClientCIDRs) != 1 || versions.ServerAddressByClientCIDRs[0].ServerAddress != "10.0.0.1:7948" {
		t.Errorf("/api: %s (%v)", body, err)
	}
}
