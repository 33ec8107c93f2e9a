package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AccessRole is what an API credential may do. Roles are cumulative: edit
// can do all that view can, admin all that edit can. A token carries one; a
// client certificate names one through its group (gossipod:<role>).
type AccessRole string

// The roles, from least to most powerful.
const (
	// AccessView reads every object and pod logs.
	AccessView AccessRole = "view"
	// AccessEdit also creates, changes and deletes workloads, execs into
	// pods, scales and evicts.
	AccessEdit AccessRole = "edit"
	// AccessAdmin also changes nodes (cordon, drain, delete), loads images
	// and manages tokens.
	AccessAdmin AccessRole = "admin"
)

// AccessRoles lists the valid roles, least powerful first, for help texts
// and validation messages.
func AccessRoles() []AccessRole { return []AccessRole{AccessView, AccessEdit, AccessAdmin} }

// Valid reports whether r is one of AccessRoles.
func (r AccessRole) Valid() bool {
	return r == AccessView || r == AccessEdit || r == AccessAdmin
}

// Token formats. A token is written "<id>.<secret>", as a Kubernetes
// bootstrap token, with a longer secret: 32 characters of [a-z0-9] are
// about 165 bits, so a plain SHA-256 of the secret is safe to store (no
// dictionary can guess it) and fast to check on every request.
const (
	TokenIDLength     = 6
	TokenSecretLength = 32
	// TokenDescriptionMaxLength bounds a description, so tokens stay small
	// in every snapshot.
	TokenDescriptionMaxLength = 256
)

// Token is an API bearer token as the cluster stores it: never the secret,
// only its SHA-256. metadata.name is the token's id, and metadata's
// creationTimestamp is when it was created.
type Token struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	// Role is what the token may do.
	Role AccessRole `json:"role"`
	// Description says what the token is for, for `token list`.
	Description string `json:"description,omitempty"`
	// Expires is when the token stops working; nil means never.
	Expires *Time `json:"expires,omitempty"`
	// SecretHash is the lowercase hex SHA-256 of the secret. The API never
	// returns it; it is there for the agents' authenticators.
	SecretHash string `json:"secretHash,omitempty"`
}

// ID is the token's public half, the part before the dot.
func (t *Token) ID() string { return t.Name }

// Expired reports whether the token no longer works at now.
func (t *Token) Expired(now time.Time) bool {
	return t.Expires != nil && !now.Before(t.Expires.Time)
}

// TokenList is the response of GET /v1/tokens.
type TokenList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	Items    []Token `json:"items"`
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	// Role is view, edit or admin.
	Role AccessRole `json:"role"`
	// TTL is how long the token works, as a Go duration ("24h", "30m");
	// "" or "0" means it never expires.
	TTL string `json:"ttl,omitempty"`
	// Description says what the token is for.
	Description string `json:"description,omitempty"`
}

// IssuedToken is the response of POST /v1/tokens: the stored token (without
// its hash) and, this once, the whole credential. The cluster keeps only
// the hash, so a lost token cannot be shown again, only revoked.
type IssuedToken struct {
	Token `json:",inline"`
	// Bearer is "<id>.<secret>", what a client sends as
	// "Authorization: Bearer <id>.<secret>".
	Bearer string `json:"bearer"`
}

// HashTokenSecret is the stored form of a token secret: its SHA-256 in
// lowercase hex.
func HashTokenSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IsTokenID reports whether id has the form of a token id: 6 of [a-z0-9].
func IsTokenID(id string) bool { return isLowerAlnum(id, TokenIDLength) }

// IsTokenSecret reports whether s has the form of a token secret: 32 of
// [a-z0-9].
func IsTokenSecret(s string) bool { return isLowerAlnum(s, TokenSecretLength) }

func isLowerAlnum(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'f') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ValidateToken checks a token before it is stored: the id's, role's and
// hash's formats and the description's length. The FSM runs it again on
// every replica, so no path stores a token that could never authenticate
// or that would let a malformed hash through.
func ValidateToken(t *Token) error {
	var errs field.ErrorList
	if !IsTokenID(t.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), t.Name,
			fmt.Sprintf("a token id must be %d characters of [a-z0-9]", TokenIDLength)))
	}
	if !t.Role.Valid() {
		errs = append(errs, field.NotSupported(field.NewPath("role"), t.Role, AccessRoles()))
	}
	if !isSHA256Hex(t.SecretHash) {
		errs = append(errs, field.Invalid(field.NewPath("secretHash"), "<redacted>",
			"must be the lowercase hex SHA-256 of the secret"))
	}
	if len(t.Description) > TokenDescriptionMaxLength {
		errs = append(errs, field.TooLong(field.NewPath("description"), "", TokenDescriptionMaxLength))
	}
	if len(errs) > 0 {
		return newInvalid("Token", t.Name, errs)
	}
	return nil
}
