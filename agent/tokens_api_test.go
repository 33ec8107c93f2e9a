package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// TestTokenAPI runs one agent: a token created through the API works
// through the auth middleware with its role's rights, is listed without
// any secret, and stops working at once when revoked.
func TestTokenAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	cl, err := client.New("http://" + a.apiListener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
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
	raw := httpDo(t, http.MethodGet, "http://"+a.apiListener.Addr().String()+"/v1/tokens", "")
	if strings.Contains(raw.body, "secretHash") || strings.Contains(raw.body, strings.SplitN(view.Bearer, ".", 2)[1]) {
		t.Errorf("token list leaks secrets: %s", raw.body)
	}
	list, err := cl.Tokens(ctx)
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list: %v %+v", err, list)
	}

	// Through the middleware the lead wires with TLS.
	srv := httptest.NewServer(a.authMiddleware()(a.routes()))
	defer srv.Close()
	if got := httpDo(t, http.MethodGet, srv.URL+"/api/v1/nodes", "Bearer "+view.Bearer); got.code != 200 {
		t.Errorf("view token lists nodes: %d %s", got.code, got.body)
	}
	if got := httpDo(t, http.MethodGet, srv.URL+"/v1/tokens", "Bearer "+view.Bearer); got.code != 403 {
		t.Errorf("view token lists tokens: %d %s", got.code, got.body)
	}
	if got := httpDo(t, http.MethodGet, srv.URL+"/v1/tokens", "Bearer "+admin.Bearer); got.code != 200 {
		t.Errorf("admin token lists tokens: %d %s", got.code, got.body)
	}
	if got := httpDo(t, http.MethodGet, srv.URL+"/api/v1/nodes", ""); got.code != 401 {
		t.Errorf("no token lists nodes: %d %s", got.code, got.body)
	}
	if got := httpDo(t, http.MethodGet, srv.URL+"/healthz", ""); got.code != 200 {
		t.Errorf("no token on /healthz: %d %s", got.code, got.body)
	}

	// Revoked: refused at once on this agent.
	if _, err := cl.RevokeToken(ctx, view.Name); err != nil {
		t.Fatal(err)
	}
	if got := httpDo(t, http.MethodGet, srv.URL+"/api/v1/nodes", "Bearer "+view.Bearer); got.code != 401 {
		t.Errorf("revoked token lists nodes: %d %s", got.code, got.body)
	}
	var st *api.Status
	if _, err := cl.RevokeToken(ctx, view.Name); !errors.As(err, &st) || st.Code != 404 || st.Message != `tokens "`+view.Name+`" not found` {
		t.Errorf("second revoke: %v", err)
	}
}

func TestCreateTokenRefusesBadRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	base := "http://" + agents[0].apiListener.Addr().String()
	for body, want := range map[string]string{
		`{"role":"root"}`:                                                  `role \"root\": want one of [view edit admin]`,
		`{"role":"view","ttl":"forever"}`:                                  `ttl \"forever\"`,
		`{"role":"view","ttl":"-1h"}`:                                      `ttl \"-1h\": want at least 1s`,
		`{"role":"view","ttl":"87660h1s"}`:                                 `token TTL`,
		`{"role":"view","secret":"mine"}`:                                  `unknown field \"secret\"`,
		`{"role":"view","description":"` + strings.Repeat("d", 300) + `"}`: `description`,
	} {
		got := httpDoBody(t, http.MethodPost, base+"/v1/tokens", body)
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

func httpDo(t *testing.T, method, url, authorization string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return send(t, req)
}

func httpDoBody(t *testing.T, method, url, body string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func send(t *testing.T, req *http.Request) httpResult {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
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
