package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// fakeTokens serves /v1/tokens from memory as the agent does: it records
// each create request and answers with a token and its bearer, lists
// without hashes, and revokes with the agent's 404 for an unknown id.
type fakeTokens struct {
	srv      *httptest.Server
	mu       sync.Mutex
	tokens   map[string]api.Token
	requests []api.TokenRequest
}

func newFakeTokens(t *testing.T) *fakeTokens {
	t.Helper()
	f := &fakeTokens{tokens: map[string]api.Token{}}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		var req api.TokenRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(w, 400, api.NewBadRequest(err.Error()))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, req)
		tok := api.Token{TypeMeta: api.TypeMeta{Kind: "Token", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{Name: "new123", CreationTimestamp: api.NewTime(time.Now())},
			Role:       req.Role, Description: req.Description}
		f.tokens[tok.Name] = tok
		reply(w, 201, api.IssuedToken{Token: tok, Bearer: "new123." + strings.Repeat("s", 32)})
	})
	mux.HandleFunc("GET /v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list := api.TokenList{TypeMeta: api.TypeMeta{Kind: "TokenList", APIVersion: "v1"}, Items: []api.Token{}}
		for _, id := range slices.Sorted(maps.Keys(f.tokens)) {
			list.Items = append(list.Items, f.tokens[id])
		}
		reply(w, 200, list)
	})
	mux.HandleFunc("DELETE /v1/tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		tok, ok := f.tokens[id]
		if !ok {
			reply(w, 404, api.NewNotFound("tokens", id))
			return
		}
		delete(f.tokens, id)
		reply(w, 200, tok)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTokens) run(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"gossipod", "--addr", f.srv.URL}, args...))
	if msg := errorMessage(err); msg != "" {
		errOut.WriteString(msg + "\n")
	}
	return out.String(), errOut.String(), err
}

func TestTokenCreate(t *testing.T) {
	tests := []struct {
		args []string
		want api.TokenRequest
	}{
		{[]string{"token", "create", "--role", "view"}, api.TokenRequest{Role: api.AccessView, TTL: "24h0m0s"}},
		{[]string{"token", "create", "--role", "admin", "--ttl", "0", "--description", "ops laptop"},
			api.TokenRequest{Role: api.AccessAdmin, TTL: "0", Description: "ops laptop"}},
		{[]string{"token", "create", "--ttl", "30m", "--role=edit"}, api.TokenRequest{Role: api.AccessEdit, TTL: "30m0s"}},
	}
	for _, tt := range tests {
		f := newFakeTokens(t)
		out, errOut, err := f.run(tt.args...)
		if err != nil || out != "new123."+strings.Repeat("s", 32)+"\n" {
			t.Errorf("%q: out %q, stderr %q, err %v", tt.args, out, errOut, err)
		}
		if len(f.requests) != 1 || f.requests[0] != tt.want {
			t.Errorf("%q: sent %+v, want %+v", tt.args, f.requests, tt.want)
		}
	}
}

func TestTokenCreateUsageErrors(t *testing.T) {
	f := newFakeTokens(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create"}, `error: --role "": want one of view, edit, admin`},
		{[]string{"token", "create", "--role", "root"}, `error: --role "root": want one of view, edit, admin`},
		{[]string{"token", "create", "--role", "view", "--ttl", "-1h"}, "error: --ttl -1h0m0s: want at least 1s"},
		{[]string{"token", "create", "--role", "view", "extra"}, `takes no arguments`},
		{[]string{"token", "revoke"}, "error: token revoke needs the id of a token (see token list)"},
	} {
		_, errOut, err := f.run(tt.args...)
		if exitCode(err) != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, exitCode(err), errOut, tt.want)
		}
	}
	if len(f.requests) != 0 {
		t.Errorf("usage errors sent requests: %+v", f.requests)
	}
}

func TestTokenList(t *testing.T) {
	f := newFakeTokens(t)
	created := api.NewTime(time.Now().Add(-20 * time.Minute))
	future := api.NewTime(time.Date(2099, 1, 2, 3, 4, 5, 0, time.UTC))
	past := api.NewTime(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, tok := range []api.Token{
		{ObjectMeta: api.ObjectMeta{Name: "abc123", CreationTimestamp: created}, Role: api.AccessView, Description: "dashboard", Expires: &future},
		{ObjectMeta: api.ObjectMeta{Name: "def456", CreationTimestamp: created}, Role: api.AccessAdmin},
		{ObjectMeta: api.ObjectMeta{Name: "old999", CreationTimestamp: created}, Role: api.AccessEdit, Expires: &past},
	} {
		f.tokens[tok.Name] = tok
	}
	out, errOut, err := f.run("token", "list")
	want := "" +
		"ID       ROLE    EXPIRES                          DESCRIPTION   AGE\n" +
		"abc123   view    2099-01-02T03:04:05Z             dashboard     20m\n" +
		"def456   admin   <never>                          <none>        20m\n" +
		"old999   edit    2020-01-02T03:04:05Z (expired)   <none>        20m\n"
	if err != nil || out != want {
		t.Errorf("token list:\n%s(stderr %q, err %v)\nwant:\n%s", out, errOut, err, want)
	}
	out, _, err = f.run("token", "list", "-o", "json")
	var list api.TokenList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 3 || list.Kind != "TokenList" {
		t.Errorf("token list -o json: %q %v", out, err)
	}
}

func TestTokenRevoke(t *testing.T) {
	f := newFakeTokens(t)
	for _, id := range []string{"abc123", "def456"} {
		f.tokens[id] = api.Token{ObjectMeta: api.ObjectMeta{Name: id}, Role: api.AccessView}
	}
	// A whole token is taken for its id: the secret is never sent.
	out, errOut, err := f.run("token", "revoke", "abc123", "def456."+strings.Repeat("s", 32))
	if err != nil || out != "token \"abc123\" revoked\ntoken \"def456\" revoked\n" {
		t.Errorf("revoke: %q %q %v", out, errOut, err)
	}
	if len(f.tokens) != 0 {
		t.Errorf("left %v", f.tokens)
	}
	_, errOut, err = f.run("token", "revoke", "abc123")
	if exitCode(err) != 1 || errOut != "Error from server (NotFound): tokens \"abc123\" not found\n" {
		t.Errorf("revoke unknown: exit %d, %q", exitCode(err), errOut)
	}
}

func TestTokenHelpListsSubcommands(t *testing.T) {
	f := newFakeTokens(t)
	out, _, err := f.run("token", "--help")
	if err != nil || !regexp.MustCompile(`(?s)create.*list.*revoke`).MatchString(out) {
		t.Errorf("token --help: %q %v", out, err)
	}
}
