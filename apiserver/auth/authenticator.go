package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TokenGetter finds a stored token by id. The agent passes its replicated
// state, so a token revoked through Raft stops working on each agent as
// soon as that agent applies the revocation. It must be safe for
// concurrent use.
type TokenGetter interface {
	Token(id string) (*api.Token, bool)
}

// Why a credential was refused. The client only ever sees "Unauthorized";
// these are for the agent's log and for tests.
var (
	ErrMalformedCredentials = errors.New("malformed credentials")
	ErrUnknownToken         = errors.New("unknown token")
	ErrTokenExpired         = errors.New("token expired")
	ErrWrongSecret          = errors.New("wrong token secret")
	ErrNoCommonName         = errors.New("client certificate without a common name")
)

// Authenticator finds who made a request: a verified client certificate
// first (the TLS layer has checked it against the cluster CA), then a
// bearer token in the Authorization header: a gossipod API token
// "<id>.<secret>", or a ServiceAccount token (a JWT) when enabled.
type Authenticator struct {
	tokens TokenGetter
	now    func() time.Time

	// serviceAccounts verifies ServiceAccount tokens (JWTs) when set, with
	// what they are bound to read from saObjects.
	serviceAccounts *ServiceAccountTokens
	saObjects       ServiceAccountGetter
}

// NewAuthenticator returns an Authenticator that looks tokens up in tokens
// and checks their expiry against now (time.Now when nil; tests pass a
// fixed clock).
func NewAuthenticator(tokens TokenGetter, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{tokens: tokens, now: now}
}

// WithServiceAccountTokens makes a also accept ServiceAccount tokens
// verified by tokens, bound to objects read from objects, and returns a.
// Call it before the Authenticator serves requests.
func (a *Authenticator) WithServiceAccountTokens(tokens *ServiceAccountTokens, objects ServiceAccountGetter) *Authenticator {
	a.serviceAccounts, a.saObjects = tokens, objects
	return a
}

// Authenticate returns the request's user and true; false with a nil error
// when the request carries no credentials at all (it is anonymous); an
// error when it carries credentials that are not valid, which must be a
// 401 whatever the path, as in Kubernetes.
func (a *Authenticator) Authenticate(r *http.Request) (User, bool, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		if cert.Subject.CommonName == "" {
			return User{}, false, fmt.Errorf("certificate %s issued by %q: %w", cert.SerialNumber, cert.Issuer.CommonName, ErrNoCommonName)
		}
		groups := append(append([]string(nil), cert.Subject.Organization...), GroupAuthenticated)
		return User{Name: cert.Subject.CommonName, Groups: groups}, true, nil
	}
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return User{}, false, nil
	}
	if len(values) > 1 {
		return User{}, false, fmt.Errorf("%d Authorization headers: %w", len(values), ErrMalformedCredentials)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return User{}, false, fmt.Errorf("authorization header is not \"Bearer <token>\": %w", ErrMalformedCredentials)
	}
	token = strings.TrimSpace(token)
	var u User
	var err error
	if a.serviceAccounts != nil && LooksLikeJWT(token) {
		u, err = a.serviceAccounts.verify(token, a.saObjects, a.now())
	} else {
		u, err = a.authenticateToken(token)
	}
	if err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// authenticateToken checks "<id>.<secret>" against the stored token. The
// secret is compared as its hash, in constant time; the id is public.
func (a *Authenticator) authenticateToken(token string) (User, error) {
	id, secret, ok := strings.Cut(token, ".")
	if !ok || !api.IsTokenID(id) || !api.IsTokenSecret(secret) {
		return User{}, fmt.Errorf("bearer token is not <id>.<secret> with a %d-character id and a %d-character secret: %w",
			api.TokenIDLength, api.TokenSecretLength, ErrMalformedCredentials)
	}
	t, ok := a.tokens.Token(id)
	if !ok {
		return User{}, fmt.Errorf("token %q: %w", id, ErrUnknownToken)
	}
	got := api.HashTokenSecret(secret)
	if subtle.ConstantTimeCompare([]byte(got), []byte(t.SecretHash)) != 1 {
		return User{}, fmt.Errorf("token %q: %w", id, ErrWrongSecret)
	}
	if now := a.now(); t.Expired(now) {
		return User{}, fmt.Errorf("token %q expired at %s: %w", id, t.Expires.UTC().Format(time.RFC3339), ErrTokenExpired)
	}
	group, ok := RoleGroup(t.Role)
	if !ok {
		return User{}, fmt.Errorf("token %q has unknown role %q: %w", id, t.Role, ErrUnknownToken)
	}
	return User{Name: TokenUserPrefix + id, Groups: []string{group, GroupAuthenticated}}, nil
}

// RoleGroup is the group a role's holders are in: gossipod:<role>.
func RoleGroup(r api.AccessRole) (string, bool) {
	switch r {
	case api.AccessView:
		return GroupView, true
	case api.AccessEdit:
		return GroupEdit, true
	case api.AccessAdmin:
		return GroupAdmin, true
	}
	return "", false
}
