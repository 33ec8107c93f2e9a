package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/pki"
)

// TestTokenAPI runs one agent: a token created through the API is listed
// without any secret and works through the auth middleware, served with
// the cluster's HTTPS configuration, with its role's rights beside
// client certificates; revoked, it stops working at once.
func TestTokenAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	view, err := cl.CreateToken(ctx, api.TokenRequest{Role: api.AccessView, TTL: "1h", Description: "dashboard"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{32}$`).MatchString(view.Bearer) || !strings.HasPrefix(view.Bearer, view.Name+".") {
		t.Errorf("bearer %q for id %q", view.Bearer, view.Name)
	}
	if view.SecretHash != "" || view.Role != api.AccessView || view.Description != "dashboard" || view.Expires == nil ||
		view.Expires.Sub(view.CreationTimestamp.Time) != time.Hour {
		t.Errorf("created token %+v", view.Token)
	}
	admin, err := cl.CreateToken(ctx, api.TokenRequest{Role: api.AccessAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if admin.Expires != nil {
		t.Errorf("a token without a TTL expires at %v", admin.Expires)
	}

	// The list shows both, never a hash or a secret.
	var raw json.RawMessage
	if err := cl.Do(ctx, http.MethodGet, "/v1/tokens", nil, &raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "secretHash") || strings.Contains(string(raw), strings.SplitN(view.Bearer, ".", 2)[1]) {
		t.Errorf("token list leaks secrets: %s", raw)
	}
	list, err := cl.Tokens(ctx)
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}

	// Through the middleware, on the API's TLS configuration.
	srv := httptest.NewUnstartedServer(a.authMiddleware()(a.routes()))
	srv.TLS = pki.APIServerTLS(a.tls.ca, a.tls.leaf)
	srv.StartTLS()
	defer srv.Close()
	anyone := tlsClient(t, a, nil)
	agent := tlsClient(t, a, &a.tls.leaf.TLS)
	adminCert, err := a.tls.ca.Issue(pki.Request{CommonName: "admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admins := tlsClient(t, a, &adminCert.TLS)
	for _, c := range []struct {
		who    string
		client *http.Client
		method string
		path   string
		bearer string
		want   int
	}{
		{"view token", anyone, "GET", "/api/v1/nodes", view.Bearer, 200},
		{"view token", anyone, "GET", "/v1/tokens", view.Bearer, 403},
		{"view token", anyone, "POST", "/api/v1/namespaces/default/pods", view.Bearer, 403},
		{"admin token", anyone, "GET", "/v1/tokens", admin.Bearer, 200},
		{"no credentials", anyone, "GET", "/api/v1/nodes", "", 401},
		{"no credentials", anyone, "GET", "/healthz", "", 200},
		{"no credentials", anyone, "GET", "/readyz", "", 200},
		{"admin certificate", admins, "GET", "/v1/tokens", "", 200},
		{"admin certificate", admins, "GET", "/v1/internal/read-index", "", 403},
		{"agent certificate", agent, "GET", "/v1/internal/read-index", "", 200},
		{"agent certificate", agent, "GET", "/v1/tokens", "", 403},
		{"agent certificate", agent, "GET", "/api/v1/pods", "", 200},
	} {
		if got := httpDo(t, c.client, c.method, srv.URL+c.path, c.bearer); got.code != c.want {
			t.Errorf("%s: %s %s: %d %s, want %d", c.who, c.method, c.path, got.code, got.body, c.want)
		}
	}

	// Revoked: refused at once on this agent.
	if _, err := cl.RevokeToken(ctx, view.Name); err != nil {
		t.Fatal(err)
	}
	if got := httpDo(t, anyone, "GET", srv.URL+"/api/v1/nodes", view.Bearer); got.code != 401 {
		t.Errorf("revoked token lists nodes: %d %s", got.code, got.body)
	}
	var st *api.Status
	if _, err := cl.RevokeToken(ctx, view.Name); !errors.As(err, &st) || st.Code != 404 || st.Message != `tokens "`+view.Name+`" not found` {
		t.Errorf("second revoke: %v", err)
	}
}

// tlsClient is an HTTPS client trusting a's cluster CA, presenting cert if
// not nil.
func tlsClient(t *testing.T, a *Agent, cert *tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: a.tls.ca.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestCreateTokenRefusesBadRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	base := "https://" + agents[0].apiListener.Addr().String()
	adminCert, err := agents[0].tls.ca.Issue(pki.Request{CommonName: "admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admins := tlsClient(t, agents[0], &adminCert.TLS)
	for body, want := range map[string]string{
		`{"role":"root"}`:                                                  `role \"root\": want one of [view edit admin]`,
		`{"role":"view","ttl":"forever"}`:                                  `ttl \"forever\"`,
		`{"role":"view","ttl":"-1h"}`:                                      `ttl \"-1h\": want at least 1s`,
		`{"role":"view","ttl":"87660h1s"}`:                                 `token TTL`,
		`{"role":"view","secret":"mine"}`:                                  `unknown field \"secret\"`,
		`{"role":"view","description":"` + strings.Repeat("d", 300) + `"}`: `description`,
	} {
		got := httpDoBody(t, admins, http.MethodPost, base+"/v1/tokens", body)
		if got.code/100 != 4 || !strings.Contains(got.body, want) {
			t.Errorf("%s: %d %s, want a 4xx mentioning %s", body, got.code, got.body, want)
		}
	}
	if tokens, _ := agents[0].store.State().Tokens(); len(tokens) != 0 {
		t.Errorf("refused requests stored tokens: %+v", tokens)
	}
}

type httpResult struct {
	code int
	body string
}

func httpDo(t *testing.T, c *http.Client, method, url, bearer string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return sendRequest(t, c, req)
}

func httpDoBody(t *testing.T, c *http.Client, method, url, body string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return sendRequest(t, c, req)
}

func sendRequest(t *testing.T, c *http.Client, req *http.Request) httpResult {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, string(b)}
}

func TestRandomTokenString(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := randomTokenString(api.TokenSecretLength)
		if !api.IsTokenSecret(s) || seen[s] {
			t.Fatalf("random secret %q (seen before: %v)", s, seen[s])
		}
		seen[s] = true
	}
}
