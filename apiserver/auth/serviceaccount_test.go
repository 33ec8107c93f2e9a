package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/pki"
)

// saObjects is the replicated state a token's bindings are checked against.
type saObjects struct {
	accounts map[string]*api.ServiceAccount
	pods     map[string]*api.Pod
}

func (o saObjects) ServiceAccount(ns, name string) (*api.ServiceAccount, bool) {
	sa, ok := o.accounts[ns+"/"+name]
	return sa, ok
}

func (o saObjects) Pod(ns, name string) (*api.Pod, bool) {
	p, ok := o.pods[ns+"/"+name]
	return p, ok
}

func newSATokens(t *testing.T, clusterToken string) *ServiceAccountTokens {
	t.Helper()
	key, err := pki.ServiceAccountKey(clusterToken)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := NewServiceAccountTokens(key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestServiceAccountTokens(t *testing.T) {
	const clusterToken = "0123456789abcdef0123456789abcdef0123456789abcdef"
	tokens := newSATokens(t, clusterToken)
	other := newSATokens(t, "fedcba9876543210fedcba9876543210fedcba9876543210")
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

	sa := &api.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reader", UID: "sa-uid-1"}}
	pod := &api.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web-1", UID: "pod-uid-1"},
		Spec: api.PodSpec{ServiceAccountName: "reader", NodeName: "node-2"}}
	state := func() saObjects {
		return saObjects{
			accounts: map[string]*api.ServiceAccount{"apps/reader": sa.DeepCopy()},
			pods:     map[string]*api.Pod{"apps/web-1": pod.DeepCopy()},
		}
	}
	issue := func(t *testing.T, tk *ServiceAccountTokens, req TokenRequest) string {
		t.Helper()
		if req.ServiceAccount == nil {
			req.ServiceAccount = sa
		}
		if req.Now.IsZero() {
			req.Now = now
		}
		tok, exp, err := tk.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		want := req.Expiration
		if want == 0 {
			want = DefaultServiceAccountTokenExpiration
		}
		if !exp.Equal(req.Now.Add(want)) {
			t.Fatalf("expiry %s, want %s", exp, req.Now.Add(want))
		}
		return tok
	}
	wantUser := User{Name: "system:serviceaccount:apps:reader",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:apps", GroupAuthenticated}}

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		objects func(o saObjects)
		at      time.Time
		wantErr error
	}{
		{name: "bound to a running pod", token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "unbound", token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{}) }},
		{name: "within the clock leeway after expiry", at: now.Add(time.Hour + 30*time.Second),
			token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "expired", at: now.Add(time.Hour + 2*time.Minute), wantErr: ErrTokenExpired,
			token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "not valid yet", at: now.Add(-5 * time.Minute), wantErr: ErrInvalidServiceAccountToken,
			token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "another cluster's key", wantErr: ErrInvalidServiceAccountToken,
			token: func(t *testing.T) string { return issue(t, other, TokenRequest{Pod: pod}) }},
		{name: "another audience", wantErr: ErrInvalidServiceAccountToken,
			token: func(t *testing.T) string {
				return issue(t, tokens, TokenRequest{Pod: pod, Audiences: []string{"vault"}})
			}},
		{name: "claims changed after signing", wantErr: ErrInvalidServiceAccountToken,
			token: func(t *testing.T) string {
				parts := strings.Split(issue(t, tokens, TokenRequest{Pod: pod}), ".")
				payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
				payload = []byte(strings.Replace(string(payload), "apps:reader", "apps:admin0", 1))
				parts[1] = base64.RawURLEncoding.EncodeToString(payload)
				return strings.Join(parts, ".")
			}},
		{name: "service account deleted", wantErr: ErrStaleServiceAccountToken,
			objects: func(o saObjects) { delete(o.accounts, "apps/reader") },
			token:   func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "service account recreated", wantErr: ErrStaleServiceAccountToken,
			objects: func(o saObjects) { o.accounts["apps/reader"].UID = "sa-uid-2" },
			token:   func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "pod deleted", wantErr: ErrStaleServiceAccountToken,
			objects: func(o saObjects) { delete(o.pods, "apps/web-1") },
			token:   func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "pod recreated under the same name", wantErr: ErrStaleServiceAccountToken,
			objects: func(o saObjects) { o.pods["apps/web-1"].UID = "pod-uid-2" },
			token:   func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "pod terminating for 30 s still works",
			objects: func(o saObjects) {
				o.pods["apps/web-1"].DeletionTimestamp = &metav1.Time{Time: now.Add(30 * time.Second)} // 30 s before the request
			},
			token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
		{name: "pod terminating for 2 minutes", wantErr: ErrStaleServiceAccountToken,
			objects: func(o saObjects) {
				o.pods["apps/web-1"].DeletionTimestamp = &metav1.Time{Time: now.Add(-time.Minute)} // 2 minutes before
			},
			token: func(t *testing.T) string { return issue(t, tokens, TokenRequest{Pod: pod}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := state()
			if tt.objects != nil {
				tt.objects(o)
			}
			at := tt.at
			if at.IsZero() {
				at = now.Add(time.Minute)
			}
			a := NewAuthenticator(tokenFixtures(), func() time.Time { return at }).WithServiceAccountTokens(tokens, o)
			r := httptest.NewRequest("GET", "/api/v1/namespaces/apps/pods", nil)
			r.Header.Set("Authorization", "Bearer "+tt.token(t))
			u, ok, err := a.Authenticate(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if ok {
					t.Fatal("a refused token authenticated")
				}
				return
			}
			if !ok || u.Name != wantUser.Name || !slices.Equal(u.Groups, wantUser.Groups) {
				t.Fatalf("user %+v (ok %v), want %+v", u, ok, wantUser)
			}
		})
	}
}

// TestServiceAccountTokenClaims checks the token's layout against
// Kubernetes' (header, registered and kubernetes.io claims), which tools
// reading Kubernetes tokens rely on.
func TestServiceAccountTokenClaims(t *testing.T) {
	tokens := newSATokens(t, "0123456789abcdef0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	sa := &api.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reader", UID: "sa-1"}}
	pod := &api.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web-1", UID: "pod-1"},
		Spec: api.PodSpec{ServiceAccountName: "reader", NodeName: "node-2"}}
	tok, _, err := tokens.Issue(TokenRequest{ServiceAccount: sa, Pod: pod, Expiration: 3607 * time.Second, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	var header map[string]any
	decodePart(t, parts[0], &header)
	if header["alg"] != "ES256" || header["typ"] != "JWT" || header["kid"] == "" {
		t.Errorf("header %v, want alg ES256, typ JWT and a kid", header)
	}
	var claims map[string]any
	decodePart(t, parts[1], &claims)
	want := map[string]any{
		"iss": DefaultServiceAccountIssuer,
		"sub": "system:serviceaccount:apps:reader",
		"aud": DefaultServiceAccountIssuer, // RFC 7519: one audience may be a string
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Unix() + 3607),
		"kubernetes.io": map[string]any{
			"namespace":      "apps",
			"serviceaccount": map[string]any{"name": "reader", "uid": "sa-1"},
			"pod":            map[string]any{"name": "web-1", "uid": "pod-1"},
			"node":           map[string]any{"name": "node-2"},
		},
	}
	if claims["jti"] == "" {
		t.Error("no jti")
	}
	delete(claims, "jti")
	got, _ := json.Marshal(claims)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("claims\n%s\nwant\n%s", got, exp)
	}
}

func TestServiceAccountTokenRequestChecks(t *testing.T) {
	tokens := newSATokens(t, "0123456789abcdef0123456789abcdef0123456789abcdef")
	sa := &api.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reader"}}
	for _, tt := range []struct {
		name    string
		req     TokenRequest
		wantErr string
	}{
		{"too short a life", TokenRequest{ServiceAccount: sa, Expiration: 5 * time.Minute}, "may not specify a duration less than 600 seconds"},
		{"no service account", TokenRequest{}, "no service account"},
		{"pod of another account", TokenRequest{ServiceAccount: sa, Pod: &api.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "p"}, Spec: api.PodSpec{ServiceAccountName: "default"}}},
			`runs as service account "default"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tokens.Issue(tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	// A life past the maximum is cut to it, as kube-apiserver does.
	_, exp, err := tokens.Issue(TokenRequest{ServiceAccount: sa, Expiration: 48 * time.Hour, Now: time.Unix(1000, 0)})
	if err != nil || !exp.Equal(time.Unix(1000, 0).Add(MaxServiceAccountTokenExpiration)) {
		t.Fatalf("48 h asked: expiry %s, %v; want %s", exp, err, time.Unix(1000, 0).Add(MaxServiceAccountTokenExpiration))
	}
}

func TestSplitServiceAccountUser(t *testing.T) {
	for _, tt := range []struct {
		user     string
		ns, name string
		ok       bool
	}{
		{"system:serviceaccount:apps:reader", "apps", "reader", true},
		{"system:serviceaccount:apps", "", "", false},
		{"system:serviceaccount::reader", "", "", false},
		{"system:serviceaccount:a:b:c", "", "", false},
		{"gossipod:token:abc", "", "", false},
	} {
		ns, name, ok := SplitServiceAccountUser(tt.user)
		if ok != tt.ok || (ok && (ns != tt.ns || name != tt.name)) {
			t.Errorf("%q: %q %q %v, want %q %q %v", tt.user, ns, name, ok, tt.ns, tt.name, tt.ok)
		}
	}
}

func decodePart(t *testing.T, part string, into any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkServiceAccountToken prices what every request with a
// ServiceAccount token costs the agent (the ES256 signature check, the
// claims, the bound pod and ServiceAccount looked up), beside issuing one
// (what a pod's token refresh costs its node).
func BenchmarkServiceAccountToken(b *testing.B) {
	key, err := pki.ServiceAccountKey("0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := NewServiceAccountTokens(key, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	sa := &api.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "reader", UID: "sa-1"}}
	pod := &api.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web-1", UID: "pod-1"},
		Spec: api.PodSpec{ServiceAccountName: "reader", NodeName: "n"}}
	objects := saObjects{accounts: map[string]*api.ServiceAccount{"apps/reader": sa}, pods: map[string]*api.Pod{"apps/web-1": pod}}
	b.Run("issue", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := tokens.Issue(TokenRequest{ServiceAccount: sa, Pod: pod}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// authenticate measures one request with a token, the signature cache
	// emptied before each when uncached.
	authenticate := func(uncached bool) func(b *testing.B) {
		return func(b *testing.B) {
			tok, _, err := tokens.Issue(TokenRequest{ServiceAccount: sa, Pod: pod})
			if err != nil {
				b.Fatal(err)
			}
			a := NewAuthenticator(tokenFixtures(), nil).WithServiceAccountTokens(tokens, objects)
			r := httptest.NewRequest("GET", "/api/v1/namespaces/apps/pods", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				if uncached {
					tokens.mu.Lock()
					tokens.verified = nil // the signature is checked again
					tokens.mu.Unlock()
				}
				if _, ok, err := a.Authenticate(r); !ok || err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("authenticate", authenticate(false))
	b.Run("authenticate, first use", authenticate(true))
}
