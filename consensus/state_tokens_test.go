package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

var testHash = api.HashTokenSecret(strings.Repeat("s", api.TokenSecretLength))

func createTokenCmd(t *testing.T, p CreateToken, at time.Time) Command {
	t.Helper()
	if p.SecretHash == "" {
		p.SecretHash = testHash
	}
	if p.Role == "" {
		p.Role = api.AccessView
	}
	return command(t, CmdCreateToken, p, at)
}

func statusCode(err error) int {
	var s *api.Status
	if errors.As(err, &s) {
		return s.Code
	}
	return 0
}

func TestCreateTokenStoresWhatTheCommandSays(t *testing.T) {
	f := &fsm{state: NewState()}
	if err := applyEntry(t, f, 1, createTokenCmd(t, CreateToken{ID: "abc123", Role: api.AccessEdit, Description: "ci", TTLSeconds: 3600}, t0)); err != nil {
		t.Fatal(err)
	}
	if err := applyEntry(t, f, 2, createTokenCmd(t, CreateToken{ID: "zzz999"}, t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	tok, ok := f.state.Token("abc123")
	if !ok {
		t.Fatal("token abc123 not stored")
	}
	if tok.Name != "abc123" || tok.Role != api.AccessEdit || tok.Description != "ci" || tok.SecretHash != testHash ||
		!tok.CreationTimestamp.Time.Equal(t0) || tok.Expires == nil || !tok.Expires.Time.Equal(t0.Add(time.Hour)) || tok.ResourceVersion != "1" {
		t.Errorf("stored token %s", mustJSON(t, tok))
	}
	never, _ := f.state.Token("zzz999")
	if never.Expires != nil || never.Expired(t0.Add(100*365*24*time.Hour)) {
		t.Errorf("a TTL of 0 stored expiry %v, want none", never.Expires)
	}
	// Reads are copies.
	tok.Expires.Time = t0.Add(1000 * time.Hour)
	if again, _ := f.state.Token("abc123"); !again.Expires.Time.Equal(t0.Add(time.Hour)) {
		t.Error("changing a read token changed the stored one")
	}
	list, index := f.state.Tokens()
	if index != 2 || len(list) != 2 || list[0].Name != "abc123" || list[1].Name != "zzz999" {
		t.Errorf("Tokens() = %s at %d", mustJSON(t, list), index)
	}
}

func TestCreateTokenRechecksEverything(t *testing.T) {
	tests := []struct {
		name     string
		p        CreateToken
		wantCode int
		wantMsg  string
	}{
		{"short id", CreateToken{ID: "abc12"}, 422, "metadata.name"},
		{"upper-case id", CreateToken{ID: "ABC123"}, 422, "metadata.name"},
		{"id with a dot", CreateToken{ID: "abc.12"}, 422, "metadata.name"},
		{"unknown role", CreateToken{ID: "abc123", Role: "root"}, 422, `role: Unsupported value: "root"`},
		{"hash not hex", CreateToken{ID: "abc123", SecretHash: strings.Repeat("g", 64)}, 422, "secretHash"},
		{"hash upper-case", CreateToken{ID: "abc123", SecretHash: strings.ToUpper(testHash)}, 422, "secretHash"},
		{"hash too short", CreateToken{ID: "abc123", SecretHash: testHash[:63]}, 422, "secretHash"},
		{"a secret instead of a hash", CreateToken{ID: "abc123", SecretHash: strings.Repeat("s", 32)}, 422, "secretHash"},
		{"description too long", CreateToken{ID: "abc123", Description: strings.Repeat("d", 257)}, 422, "description"},
		{"negative TTL", CreateToken{ID: "abc123", TTLSeconds: -1}, 400, "TTL"},
		{"TTL beyond ten years", CreateToken{ID: "abc123", TTLSeconds: 11 * 365 * 24 * 3600}, 400, "TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fsm{state: NewState()}
			err := applyEntry(t, f, 1, createTokenCmd(t, tt.p, t0))
			if statusCode(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v (code %d), want %d mentioning %q", err, statusCode(err), tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(err.Error(), strings.Repeat("s", 32)) {
				t.Errorf("the error repeats the hash field's value: %v", err)
			}
			if list, _ := f.state.Tokens(); len(list) != 0 {
				t.Errorf("a refused token was stored: %s", mustJSON(t, list))
			}
		})
	}
}

func TestCreateTokenRefusesADuplicateID(t *testing.T) {
	f := &fsm{state: NewState()}
	if err := applyEntry(t, f, 1, createTokenCmd(t, CreateToken{ID: "abc123", Role: api.AccessView}, t0)); err != nil {
		t.Fatal(err)
	}
	err := applyEntry(t, f, 2, createTokenCmd(t, CreateToken{ID: "abc123", Role: api.AccessAdmin}, t0))
	var s *api.Status
	if !errors.As(err, &s) || s.Code != http.StatusConflict || s.Reason != api.StatusReasonAlreadyExists || s.Message != `tokens "abc123" already exists` {
		t.Fatalf("duplicate id: %v", err)
	}
	if tok, _ := f.state.Token("abc123"); tok.Role != api.AccessView {
		t.Errorf("the duplicate replaced the token: role %s", tok.Role)
	}
}

func TestCreateTokenPrunesExpiredAndBoundsTheCount(t *testing.T) {
	s := NewState()
	for i := range maxTokens {
		ttl := int64(0)
		if i%2 == 0 {
			ttl = 60
		}
		id := fmt.Sprintf("%06d", i)
		if _, err := s.apply(uint64(i+1), createTokenCmd(t, CreateToken{ID: id, TTLSeconds: ttl}, t0)); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	// Full, nothing expired yet.
	_, err := s.apply(maxTokens+1, createTokenCmd(t, CreateToken{ID: "full00"}, t0.Add(time.Second)))
	if statusCode(err) != http.StatusConflict {
		t.Fatalf("token %d: err = %v, want 409", maxTokens+1, err)
	}
	// A minute later half of them expired: they are pruned, the new one fits.
	if _, err := s.apply(maxTokens+2, createTokenCmd(t, CreateToken{ID: "late00"}, t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.Tokens(); len(list) != maxTokens/2+1 {
		t.Errorf("%d tokens after pruning, want %d", len(list), maxTokens/2+1)
	}
}

func TestDeleteToken(t *testing.T) {
	f := &fsm{state: NewState()}
	if err := applyEntry(t, f, 1, createTokenCmd(t, CreateToken{ID: "abc123"}, t0)); err != nil {
		t.Fatal(err)
	}
	if err := applyEntry(t, f, 2, command(t, CmdDeleteToken, DeleteToken{ID: "abc123"}, t0)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.state.Token("abc123"); ok {
		t.Error("revoked token still there")
	}
	err := applyEntry(t, f, 3, command(t, CmdDeleteToken, DeleteToken{ID: "abc123"}, t0))
	if statusCode(err) != http.StatusNotFound || err.Error() != `tokens "abc123" not found` {
		t.Errorf("second revoke: %v, want 404", err)
	}
	// The id is free again.
	if err := applyEntry(t, f, 4, createTokenCmd(t, CreateToken{ID: "abc123"}, t0)); err != nil {
		t.Errorf("re-create after revoke: %v", err)
	}
}

func TestTokensSurviveSnapshotRestore(t *testing.T) {
	src := &fsm{state: NewState()}
	for i, p := range []CreateToken{{ID: "abc123", Role: api.AccessAdmin, Description: "boot", TTLSeconds: 600}, {ID: "def456"}} {
		if err := applyEntry(t, src, uint64(i+1), createTokenCmd(t, p, t0)); err != nil {
			t.Fatal(err)
		}
	}
	dst := &fsm{state: NewState()}
	if err := applyEntry(t, dst, 1, createTokenCmd(t, CreateToken{ID: "stale0"}, t0)); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snapshotOf(t, src)))); err != nil {
		t.Fatal(err)
	}
	want, _ := src.state.Tokens()
	got, _ := dst.state.Tokens()
	if !jsonEqual(t, got, want) {
		t.Errorf("tokens after restore:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
	}
	if _, ok := dst.state.Token("stale0"); ok {
		t.Error("restore kept a token the snapshot does not hold")
	}
	// A restored revocation applies like the original.
	if err := applyEntry(t, dst, 3, command(t, CmdDeleteToken, DeleteToken{ID: "def456"}, t0)); err != nil {
		t.Error(err)
	}
}
