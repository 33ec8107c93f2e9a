package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
)

// maxTokens bounds the stored tokens, so token creation cannot grow every
// replica's state (and snapshot) without limit. Expired tokens are pruned
// before the bound is checked.
const maxTokens = 1000

// maxTokenTTL bounds a token's lifetime; longer is "never" (TTL 0).
const maxTokenTTL = 10 * 365 * 24 * time.Hour

// Token returns a copy of the token with that id. It makes the State an
// auth.TokenGetter: every agent authenticates bearer tokens against its own
// replica, so a revocation works everywhere as soon as it is applied.
func (s *State) Token(id string) (*api.Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.tokens[id]
	if !ok {
		return nil, false
	}
	return copyToken(t), true
}

// Tokens returns copies of all tokens sorted by id, and the index they
// reflect. They include the secret hashes: the API layer strips them.
func (s *State) Tokens() ([]api.Token, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]api.Token, 0, len(s.tokens))
	for _, id := range slices.Sorted(maps.Keys(s.tokens)) {
		out = append(out, *copyToken(s.tokens[id]))
	}
	return out, s.index
}

// createToken stores a new token after checking it again, as every
// replica must: id, role and hash formats, the TTL's bounds, a free id and
// the token count. Creation time and expiry come from the command's time,
// so every replica stores the same token.
func (s *State) createToken(index uint64, cmd Command, p CreateToken) (*api.Token, error) {
	if p.TTLSeconds < 0 || time.Duration(p.TTLSeconds)*time.Second > maxTokenTTL {
		return nil, api.NewBadRequest(fmt.Sprintf("token TTL %ds: must be between 0 (never expires) and %d", p.TTLSeconds, int64(maxTokenTTL/time.Second)))
	}
	t := &api.Token{
		TypeMeta: api.TypeMeta{Kind: "Token", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name:              p.ID,
			CreationTimestamp: api.NewTime(cmd.Time),
			ResourceVersion:   strconv.FormatUint(index, 10),
		},
		Role:        p.Role,
		Description: p.Description,
		SecretHash:  p.SecretHash,
	}
	if p.TTLSeconds > 0 {
		exp := api.NewTime(cmd.Time.Add(time.Duration(p.TTLSeconds) * time.Second))
		t.Expires = &exp
	}
	if err := api.ValidateToken(t); err != nil {
		return nil, err
	}
	if _, ok := s.tokens[p.ID]; ok {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("tokens %q already exists", p.ID))
		st.Details = &api.StatusDetails{Name: p.ID, Kind: "tokens"}
		return nil, st
	}
	for id, old := range s.tokens {
		if old.Expired(cmd.Time) {
			delete(s.tokens, id)
		}
	}
	if len(s.tokens) >= maxTokens {
		return nil, api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
			fmt.Sprintf("the cluster already holds %d tokens, the most it keeps: revoke some first", maxTokens))
	}
	s.tokens[p.ID] = t
	return copyToken(t), nil
}

// deleteToken revokes a token: from the moment the entry is applied on an
// agent, that agent refuses it.
func (s *State) deleteToken(p DeleteToken) (*api.Token, error) {
	t, ok := s.tokens[p.ID]
	if !ok {
		return nil, api.NewNotFound("tokens", p.ID)
	}
	delete(s.tokens, p.ID)
	return copyToken(t), nil
}

// copyToken deep-copies a token. The FSM sets no labels, annotations,
// owners or deletion fields on tokens, so Expires is the only pointer to
// copy.
func copyToken(t *api.Token) *api.Token {
	c := *t
	if t.Expires != nil {
		e := *t.Expires
		c.Expires = &e
	}
	return &c
}
