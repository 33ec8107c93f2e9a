// Package pki turns a cluster's one shared secret, its token, into everything
// its agents need to trust each other and to be trusted by clients: the gossip
// encryption key, the cluster certificate authority, and the certificates and
// TLS configurations issued from it.
//
// Every secret is derived from the token with HKDF-SHA256, each under its own
// label, so knowing one derived key (say the gossip key) reveals neither the
// token nor the others. The certificate authority's key is an Ed25519 key whose
// seed is derived from the token, and its certificate has fixed fields, so
// every agent computes the same CA, byte for byte, without exchanging it: there
// is nothing to distribute or bootstrap, and only token holders can sign. Leaf
// keys (agents', clients') are random ECDSA P-256 keys, the most widely
// supported kind.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// MinTokenLength is the shortest token accepted. A generated token has 64
// characters (32 random bytes); a user-chosen one must be long enough that
// guessing it is hopeless.
const MinTokenLength = 32

// GenerateHelp is what to tell someone who has no token yet.
const GenerateHelp = "generate one with `gossipod token generate` and give the same token to every agent (--token, --token-file or GOSSIPOD_TOKEN)"

// ErrNoToken is returned when an agent is started without a cluster token.
var ErrNoToken = errors.New("no cluster token: " + GenerateHelp)

// derivation salt and labels: changing any of them changes every derived key,
// so they are versioned.
const (
	hkdfSalt       = "gossipod cluster token"
	labelGossipKey = "gossipod/v1 gossip key"
	labelCASeed    = "gossipod/v1 cluster ca seed"
	labelSecrets   = "gossipod/v1 secrets encryption key"
	labelSAKey     = "gossipod/v1 service account signing key"
)

// GenerateToken returns a fresh random cluster token: 32 bytes from
// crypto/rand, hex-encoded.
func GenerateToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// CheckToken reports why token cannot be a cluster token, or nil. Tokens are
// printable ASCII without spaces, so that they survive files, environment
// variables and command lines unchanged.
func CheckToken(token string) error {
	if token == "" {
		return ErrNoToken
	}
	if len(token) < MinTokenLength {
		return fmt.Errorf("the cluster token has %d characters, fewer than %d: %s", len(token), MinTokenLength, GenerateHelp)
	}
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("the cluster token may only hold printable ASCII characters without spaces: %s", GenerateHelp)
		}
	}
	return nil
}

// ReadTokenFile reads a token from path; surrounding whitespace (a trailing
// newline) is dropped.
func ReadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if err := CheckToken(token); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return token, nil
}

// derive returns n bytes derived from token under label.
func derive(token, label string, n int) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, []byte(token), []byte(hkdfSalt), label, n)
	if err != nil {
		return nil, fmt.Errorf("derive %s: %w", label, err)
	}
	return key, nil
}

// GossipKey is the 32-byte AES-256 key memberlist encrypts and authenticates
// every gossip message with.
func GossipKey(token string) ([]byte, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	return derive(token, labelGossipKey, 32)
}

// SecretsKey is the 32-byte AES-256 key Secrets' data is sealed with in
// the Raft log and snapshots (Kubernetes' aesgcm provider's format): every
// agent derives the same, so any of them can read a log another wrote,
// and a copy of a data dir without the token reveals no Secret.
func SecretsKey(token string) ([]byte, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	return derive(token, labelSecrets, 32)
}

// ServiceAccountKey is the ECDSA P-256 key ServiceAccount tokens are signed
// with (ES256, one of the algorithms kube-apiserver signs them with, so any
// verifier of Kubernetes tokens can check them). Every agent derives the
// same key, so a token issued for a pod on one node is accepted by every
// agent's API, and nothing has to be distributed. The scalar is HKDF output
// under its own label; the rare value outside the curve's order (about one
// in 2^32) is skipped by deriving again under a counter.
func ServiceAccountKey(token string) (*ecdsa.PrivateKey, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	for i := 0; i < 16; i++ {
		label := labelSAKey
		if i > 0 {
			label = fmt.Sprintf("%s %d", labelSAKey, i)
		}
		raw, err := derive(token, label, 32)
		if err != nil {
			return nil, err
		}
		if key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("derive the service account signing key: no valid P-256 scalar in 16 derivations")
}
