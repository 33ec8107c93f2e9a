package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*http.Request)
		want    User
		wantOK  bool
		wantErr error
	}{
		{"no credentials", func(*http.Request) {}, User{}, false, nil},
		{"admin certificate", func(r *http.Request) { withCert(r, "admin", "gossipod:admin") },
			User{"admin", []string{"gossipod:admin", GroupAuthenticated}}, true, nil},
		{"agent certificate", func(r *http.Request) { withCert(r, "system:node:n1", "system:nodes") },
			User{"system:node:n1", []string{"system:nodes", GroupAuthenticated}}, true, nil},
		{"certificate with several groups", func(r *http.Request) { withCert(r, "ann", "gossipod:view", "team-a") },
			User{"ann", []string{"gossipod:view", "team-a", GroupAuthenticated}}, true, nil},
		{"certificate without a common name", func(r *http.Request) { withCert(r, "", "gossipod:admin") }, User{}, false, ErrNoCommonName},
		{"certificate wins over a token", func(r *http.Request) {
			withCert(r, "system:node:n1", "system:nodes")
			r.Header.Set("Authorization", bearer("admin1"))
		}, User{"system:node:n1", []string{"system:nodes", GroupAuthenticated}}, true, nil},
		{"unverified certificate is no credential", func(r *http.Request) {
			withCert(r, "admin", "gossipod:admin")
			r.TLS.VerifiedChains = nil
		}, User{}, false, nil},
		{"view token", func(r *http.Request) { r.Header.Set("Authorization", bearer("view01")) },
			User{"gossipod:token:view01", []string{GroupView, GroupAuthenticated}}, true, nil},
		{"edit token", func(r *http.Request) { r.Header.Set("Authorization", bearer("edit01")) },
			User{"gossipod:token:edit01", []string{GroupEdit, GroupAuthenticated}}, true, nil},
		{"admin token", func(r *http.Request) { r.Header.Set("Authorization", bearer("admin1")) },
			User{"gossipod:token:admin1", []string{GroupAdmin, GroupAuthenticated}}, true, nil},
		{"scheme is case-insensitive", func(r *http.Request) { r.Header.Set("Authorization", "bearer view01."+secret("view01")) },
			User{"gossipod:token:view01", []string{GroupView, GroupAuthenticated}}, true, nil},
		{"token not expired yet", func(r *http.Request) { r.Header.Set("Authorization", bearer("later1")) },
			User{"gossipod:token:later1", []string{GroupEdit, GroupAuthenticated}}, true, nil},
		{"token expired at this second", func(r *http.Request) { r.Header.Set("Authorization", bearer("expir1")) }, User{}, false, ErrTokenExpired},
		{"wrong secret", func(r *http.Request) { r.Header.Set("Authorization", "Bearer admin1."+secret("other")) }, User{}, false, ErrWrongSecret},
		{"another token's secret", func(r *http.Request) { r.Header.Set("Authorization", "Bearer admin1."+secret("view01")) }, User{}, false, ErrWrongSecret},
		{"unknown id", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope00."+secret("nope00")) }, User{}, false, ErrUnknownToken},
		{"role the FSM never stores", func(r *http.Request) { r.Header.Set("Authorization", bearer("weird1")) }, User{}, false, ErrUnknownToken},
		{"basic auth", func(r *http.Request) { r.SetBasicAuth("admin", "admin") }, User{}, false, ErrMalformedCredentials},
		{"scheme only", func(r *http.Request) { r.Header.Set("Authorization", "Bearer") }, User{}, false, ErrMalformedCredentials},
		{"empty token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, User{}, false, ErrMalformedCredentials},
		{"token without a dot", func(r *http.Request) { r.Header.Set("Authorization", "Bearer view01"+secret("view01")) }, User{}, false, ErrMalformedCredentials},
		{"upper-case id", func(r *http.Request) { r.Header.Set("Authorization", "Bearer VIEW01."+secret("view01")) }, User{}, false, ErrMalformedCredentials},
		{"short secret", func(r *http.Request) { r.Header.Set("Authorization", "Bearer view01."+secret("view01")[:31]) }, User{}, false, ErrMalformedCredentials},
		{"long secret", func(r *http.Request) { r.Header.Set("Authorization", "Bearer view01."+secret("view01")+"x") }, User{}, false, ErrMalformedCredentials},
		{"two dots", func(r *http.Request) { r.Header.Set("Authorization", "Bearer view01."+secret("view01")+".x") }, User{}, false, ErrMalformedCredentials},
		{"two headers", func(r *http.Request) {
			r.Header.Add("Authorization", bearer("view01"))
			r.Header.Add("Authorization", bearer("admin1"))
		}, User{}, false, ErrMalformedCredentials},
	}
	authn := NewAuthenticator(tokenFixtures(), func() time.Time { return now })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(http.MethodGet, "/api/v1/pods")
			tt.set(r)
			got, ok, err := authn.Authenticate(r)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.wantOK || got.Name != tt.want.Name || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("Authenticate = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
			if err != nil && strings.Contains(err.Error(), secret("view01")[6:]) {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestAuthenticateSeesRevocationAndExpiryAtOnce(t *testing.T) {
	tokens := tokenFixtures()
	clock := now
	authn := NewAuthenticator(tokens, func() time.Time { return clock })
	r := request(http.MethodGet, "/api/v1/pods")
	r.Header.Set("Authorization", bearer("later1"))
	if _, ok, err := authn.Authenticate(r); !ok || err != nil {
		t.Fatalf("before expiry: %v %v", ok, err)
	}
	clock = now.Add(time.Hour - time.Second)
	if _, ok, err := authn.Authenticate(r); !ok || err != nil {
		t.Fatalf("a second before expiry: %v %v", ok, err)
	}
	clock = now.Add(time.Hour)
	if _, _, err := authn.Authenticate(r); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("at expiry: %v, want expired", err)
	}
	r.Header.Set("Authorization", bearer("view01"))
	if _, ok, err := authn.Authenticate(r); !ok || err != nil {
		t.Fatalf("before revocation: %v %v", ok, err)
	}
	tokens.revoke("view01")
	if _, _, err := authn.Authenticate(r); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("after revocation: %v, want unknown", err)
	}
}
