package apiserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/pki"
)

// TestTokenRequest drives the serviceaccounts/token subresource as
// `kubectl create token` does: a token the API then accepts as the
// ServiceAccount, kube-apiserver's defaults, and its refusals.
func TestTokenRequest(t *testing.T) {
	key, err := pki.ServiceAccountKey("0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewServiceAccountTokens(key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := newTestServer(t)
	server := New(store, Config{ServiceAccountTokens: tokens, WatchWriteTimeout: 10 * time.Second, WatchBookmarkInterval: time.Minute, MaxDeploymentReplicas: 100})
	mux := http.NewServeMux()
	Mount(mux, server.Routes()...)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, body := range []string{
		`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder"}}`,
		`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"other"}}`,
	} {
		if code, out := do(t, srv, "POST", "/api/v1/namespaces/default/serviceaccounts", "application/json", body); code != http.StatusCreated {
			t.Fatalf("create service account: %d %s", code, out)
		}
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"job"},"spec":{"serviceAccountName":"builder","containers":[{"name":"c","image":"busybox"}]}}`
	if code, out := do(t, srv, "POST", "/api/v1/namespaces/default/pods", "application/json", pod); code != http.StatusCreated {
		t.Fatalf("create pod: %d %s", code, out)
	}

	path := "/api/v1/namespaces/default/serviceaccounts/builder/token"
	tests := []struct {
		name, path, body string
		code             int
		want             string // in the body
	}{
		{"kubectl create token", path, `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}`, 201, `"expirationSeconds":3600`},
		{"an audience and a day", path, `{"spec":{"audiences":["vault"],"expirationSeconds":86400}}`, 201, `"audiences":["vault"]`},
		{"more than the maximum is cut to it", path, `{"spec":{"expirationSeconds":172800}}`, 201, `"expirationSeconds":86400`},
		{"bound to a pod of the account", path, `{"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"job"}}}`, 201, `"boundObjectRef"`},
		{"too short", path, `{"spec":{"expirationSeconds":60}}`, 422,
			`TokenRequest.authentication.k8s.io \"builder\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`},
		{"bound to a Secret", path, `{"spec":{"boundObjectRef":{"kind":"Secret","name":"s"}}}`, 422, `spec.boundObjectRef.kind: Unsupported value: \"Secret\"`},
		{"bound to a missing pod", path, `{"spec":{"boundObjectRef":{"kind":"Pod","name":"nope"}}}`, 404, `pods \"nope\" not found`},
		{"bound to another account's pod", "/api/v1/namespaces/default/serviceaccounts/other/token",
			`{"spec":{"boundObjectRef":{"kind":"Pod","name":"job"}}}`, 400, `pod running with different serviceaccount name`},
		{"a missing account", "/api/v1/namespaces/default/serviceaccounts/ghost/token", `{"spec":{}}`, 404, `serviceaccounts \"ghost\" not found`},
		{"an unknown field", path, `{"spec":{"lifetime":3}}`, 400, `unknown field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := do(t, srv, "POST", tt.path, "application/json", tt.body)
			var compact bytes.Buffer
			if json.Compact(&compact, []byte(out)) == nil {
				out = compact.String()
			}
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("%d %s\nwant %d with %s", code, out, tt.code, tt.want)
			}
			if code != http.StatusCreated {
				return
			}
			var tr authenticationv1.TokenRequest
			if err := json.Unmarshal([]byte(out), &tr); err != nil {
				t.Fatal(err)
			}
			if tr.Kind != "TokenRequest" || tr.Status.Token == "" || time.Until(tr.Status.ExpirationTimestamp.Time) < 9*time.Minute {
				t.Fatalf("TokenRequest %+v", tr)
			}
			// The API accepts the token as the ServiceAccount, unless it
			// names another audience.
			r := httptest.NewRequest("GET", "/api/v1/namespaces/default/pods", nil)
			r.Header.Set("Authorization", "Bearer "+tr.Status.Token)
			u, ok, err := auth.NewAuthenticator(store.State(), nil).WithServiceAccountTokens(tokens, store.State()).Authenticate(r)
			if len(tr.Spec.Audiences) == 1 && tr.Spec.Audiences[0] == "vault" {
				if err == nil {
					t.Fatal("a token for vault authenticated to the API")
				}
				return
			}
			if err != nil || !ok || u.Name != "system:serviceaccount:default:builder" {
				t.Fatalf("the API took the token as %+v (%v, %v)", u, ok, err)
			}
		})
	}
}
