package writeoptions

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestFilter sends the requests kubectl and client-go send, with their
// options, and checks which reach the handler (with their body intact)
// and which get a 400 Status saying why.
func TestFilter(t *testing.T) {
	const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`
	for _, tc := range []struct {
		method, target, body string
		refused              string // a substring of the 400's message, "" when the request must pass
	}{
		// What kubectl apply and create send by default.
		{"POST", "/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", pod, ""},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl-client-side-apply&fieldValidation=Strict", `{}`, ""},
		{"PUT", "/api/v1/namespaces/default/pods/web?fieldValidation=Strict", pod, ""},
		// client-go's default: no options.
		{"POST", "/api/v1/namespaces/default/pods", pod, ""},
		{"DELETE", "/api/v1/namespaces/default/pods/web", `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`, ""},
		{"DELETE", "/api/v1/namespaces/default/pods/web", "", ""},
		{"POST", "/api/v1/namespaces/default/pods/web/eviction", `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web"},"deleteOptions":{}}`, ""},
		// kubectl apply --validate=false and --validate=warn.
		{"POST", "/api/v1/namespaces/default/pods?fieldValidation=Ignore", pod, "fieldValidation=Ignore is not supported"},
		{"PATCH", "/api/v1/nodes/n1?fieldValidation=Warn", `{}`, "fieldValidation=Warn is not supported"},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments/web?fieldValidation=strict", `{}`, `Unsupported value: "strict"`},
		// Server-side dry runs, in the query (apply, create, diff) and in
		// the body (delete, drain's evictions).
		{"POST", "/api/v1/namespaces/default/pods?dryRun=All&fieldValidation=Strict", pod, "dryRun=All is not supported"},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web?dryRun=All", `{}`, "dryRun=All is not supported"},
		{"DELETE", "/api/v1/namespaces/default/pods/web?dryRun=All", "", "dryRun=All is not supported"},
		{"DELETE", "/api/v1/namespaces/default/pods/web", `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}`, "dryRun=All is not supported"},
		{"POST", "/api/v1/namespaces/default/pods/web/eviction", `{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web"},"deleteOptions":{"dryRun":["All"]}}`, "dryRun=All is not supported"},
		// Not writes of the Kubernetes API: untouched.
		{"GET", "/api/v1/namespaces/default/pods?dryRun=All&fieldValidation=Ignore", "", ""},
		{"POST", "/v1/tokens?dryRun=All", `{}`, ""},
		// A body the handler will refuse is its business.
		{"DELETE", "/api/v1/namespaces/default/pods/web", `not json`, ""},
	} {
		var got string
		called := false
		h := Filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			called = true
			b, _ := io.ReadAll(r.Body)
			got = string(b)
		}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body)))
		name := tc.method + " " + tc.target
		if tc.refused == "" {
			if !called || got != tc.body {
				t.Errorf("%s: handler called %v with body %q, want it called with %q (%d %s)", name, called, got, tc.body, w.Code, w.Body)
			}
			continue
		}
		var st metav1.Status
		if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || called || w.Code != http.StatusBadRequest ||
			st.Reason != metav1.StatusReasonBadRequest || !strings.Contains(st.Message, tc.refused) {
			t.Errorf("%s: %d %s (handler called %v), want a 400 Status saying %q", name, w.Code, w.Body, called, tc.refused)
		}
	}
}

// TestBodyErrorReachesTheHandler: a body over its bound is the handler's
// to report, as without the filter.
func TestBodyErrorReachesTheHandler(t *testing.T) {
	var err error
	h := Filter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err = io.ReadAll(r.Body)
	}))
	r := httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/default/pods/web", strings.NewReader(strings.Repeat("x", 100)))
	w := httptest.NewRecorder()
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	h.ServeHTTP(w, r)
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) {
		t.Errorf("handler read %v, want the MaxBytesError", err)
	}
}
