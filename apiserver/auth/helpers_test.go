package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
)

// now is the tests' fixed clock.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// memTokens is a TokenGetter over a map, with revocation.
type memTokens struct {
	mu sync.Mutex
	m  map[string]*api.Token
}

func (t *memTokens) Token(id string) (*api.Token, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.m[id]
	if !ok {
		return nil, false
	}
	c := *tok
	return &c, true
}

func (t *memTokens) revoke(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

// secret returns a valid 32-character secret built from seed.
func secret(seed string) string {
	return (seed + strings.Repeat("x", 32))[:32]
}

// tokenFixtures: one token per role (id = role padded, secret from the
// id), one expiring at now+1h, one expired at now, and one with a role
// the FSM would never store.
func tokenFixtures() *memTokens {
	mk := func(id string, role api.AccessRole, expires *time.Time) *api.Token {
		t := &api.Token{ObjectMeta: api.ObjectMeta{Name: id}, Role: role, SecretHash: api.HashTokenSecret(secret(id))}
		if expires != nil {
			e := api.NewTime(*expires)
			t.Expires = &e
		}
		return t
	}
	later, past := now.Add(time.Hour), now
	ts := &memTokens{m: map[string]*api.Token{}}
	for _, t := range []*api.Token{
		mk("view01", api.AccessView, nil),
		mk("edit01", api.AccessEdit, nil),
		mk("admin1", api.AccessAdmin, nil),
		mk("abc123", api.AccessView, nil),
		mk("later1", api.AccessEdit, &later),
		mk("expir1", api.AccessAdmin, &past),
		mk("weird1", "root", nil),
	} {
		ts.m[t.Name] = t
	}
	return ts
}

// bearer is the Authorization value of a fixture token.
func bearer(id string) string { return "Bearer " + id + "." + secret(id) }

// request builds a request as the server sees it after TLS.
func request(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	return r
}

// withCert simulates a client certificate the TLS layer verified against
// the cluster CA.
func withCert(r *http.Request, cn string, orgs ...string) *http.Request {
	cert := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		Issuer:       pkix.Name{CommonName: "gossipod-ca"},
	}
	ca := &x509.Certificate{Subject: pkix.Name{CommonName: "gossipod-ca"}}
	r.TLS.PeerCertificates = []*x509.Certificate{cert}
	r.TLS.VerifiedChains = [][]*x509.Certificate{{cert, ca}}
	return r
}

// identity is a way of calling the API.
type identity struct {
	name string
	// set adds the credentials to a request.
	set func(*http.Request)
}

func tokenIdentity(id string) identity {
	return identity{"token " + id, func(r *http.Request) { r.Header.Set("Authorization", bearer(id)) }}
}

func certIdentity(cn string, orgs ...string) identity {
	return identity{"cert " + cn + " " + strings.Join(orgs, ","), func(r *http.Request) { withCert(r, cn, orgs...) }}
}

var anonymous = identity{"anonymous", func(*http.Request) {}}
