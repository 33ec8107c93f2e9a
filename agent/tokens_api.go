package agent

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/consensus"
)

// maxTokenRequestBytes bounds a POST /v1/tokens body: three short fields.
const maxTokenRequestBytes = 16 << 10

// tokenIDAttempts is how many fresh ids a create tries when the id it drew
// is taken (1 in 36^6 per stored token: a retry is all but never needed).
const tokenIDAttempts = 3

// authMiddleware is the API's authentication and authorization filter,
// checking bearer tokens (API tokens, and ServiceAccount tokens' bindings)
// and the RoleBindings and ClusterRoleBindings against this agent's
// replica of the state, so a revocation, the deletion of a token's pod, or
// a binding takes effect here as soon as this agent applies it. It wraps
// every route: New serves routes() only through it.
func (a *Agent) authMiddleware() func(http.Handler) http.Handler {
	st := a.store.State()
	authn := auth.NewAuthenticator(st, time.Now).WithServiceAccountTokens(a.saTokens, st)
	return auth.Middleware(authn, auth.RoleAuthorizer{Grants: st}, a.log)
}

// handleCreateToken serves POST /v1/tokens: it draws the id and secret
// from crypto/rand, commits only the secret's hash through the leader, and
// returns the whole token this once.
func (a *Agent) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("decode token request: %v", err)))
		return
	}
	if !req.Role.Valid() {
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("role %q: want one of %v", req.Role, api.AccessRoles())))
		return
	}
	ttl, err := parseTokenTTL(req.TTL)
	if err != nil {
		apiserver.WriteError(w, api.NewBadRequest(err.Error()))
		return
	}
	for attempt := 1; ; attempt++ {
		id, secret := randomTokenString(api.TokenIDLength), randomTokenString(api.TokenSecretLength)
		cmd, err := consensus.NewCommand(consensus.CmdCreateToken, consensus.CreateToken{
			ID: id, Role: req.Role, Description: req.Description,
			SecretHash: api.HashTokenSecret(secret), TTLSeconds: int64(ttl / time.Second),
		})
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		tok, err := apiserver.CommitFor[api.Token](r.Context(), a, cmd)
		var st *api.Status
		if errors.As(err, &st) && st.Reason == api.StatusReasonAlreadyExists && attempt < tokenIDAttempts {
			continue
		}
		if err != nil {
			apiserver.WriteError(w, err)
			return
		}
		tok.SecretHash = ""
		a.log.Info("created API token", "id", id, "role", tok.Role, "expires", tok.Expires, "by", caller(r))
		apiserver.WriteJSON(w, http.StatusCreated, api.IssuedToken{Token: *tok, Bearer: id + "." + secret})
		return
	}
}

// handleListTokens serves GET /v1/tokens, without the secrets' hashes.
func (a *Agent) handleListTokens(w http.ResponseWriter, r *http.Request) {
	if !a.api.ConsistentRead(w, r) {
		return
	}
	tokens, index := a.store.State().Tokens()
	for i := range tokens {
		tokens[i].SecretHash = ""
	}
	apiserver.WriteJSON(w, http.StatusOK, api.TokenList{
		TypeMeta: api.TypeMeta{Kind: "TokenList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)},
		Items:    tokens,
	})
}

// handleDeleteToken serves DELETE /v1/tokens/{id}: a revocation, in force
// on each agent as soon as it applies the entry.
func (a *Agent) handleDeleteToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cmd, err := consensus.NewCommand(consensus.CmdDeleteToken, consensus.DeleteToken{ID: id})
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	tok, err := apiserver.CommitFor[api.Token](r.Context(), a, cmd)
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	tok.SecretHash = ""
	a.log.Info("revoked API token", "id", id, "by", caller(r))
	apiserver.WriteJSON(w, http.StatusOK, tok)
}

// parseTokenTTL reads a token's lifetime: "" or "0" is never expiring;
// otherwise a Go duration of at least a second, counted in whole seconds.
func parseTokenTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("ttl %q: want a duration such as 24h or 30m, or 0 for a token that never expires", s)
	}
	if d < time.Second {
		return 0, fmt.Errorf("ttl %q: want at least 1s, or 0 for a token that never expires", s)
	}
	return d.Truncate(time.Second), nil
}

// tokenAlphabet is what token ids and secrets are made of.
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomTokenString draws n characters of tokenAlphabet uniformly from
// crypto/rand: bytes of 252 and above are dropped, since 252 is the
// largest multiple of 36 that fits a byte, so no character is likelier.
func randomTokenString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails on supported platforms
		for _, b := range buf {
			if b < 252 && len(out) < n {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out)
}

// caller names who made a request, for the log.
func caller(r *http.Request) string {
	if u, ok := auth.UserFrom(r.Context()); ok {
		return u.Name
	}
	return "unauthenticated (no auth middleware)"
}
