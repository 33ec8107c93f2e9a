package consensus

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// SecretsKeySize is the size of Config.SecretsKey: an AES-256 key.
const SecretsKeySize = 32

// secretsKeyName names the key in every sealed value's prefix, as the key's
// name in a Kubernetes EncryptionConfiguration does: a later key (another
// derivation, a rotation) gets another name, and a value names the key
// that opens it.
const secretsKeyName = "cluster-token-v1"

// sealPrefix is Kubernetes' aesgcm provider's prefix; the key name and a
// colon follow it.
const sealPrefix = "k8s:enc:aesgcm:v1:"

// sealer seals Secrets' data for the Raft log and snapshots as Kubernetes'
// EncryptionConfiguration aesgcm provider seals what it writes to etcd:
// the prefix k8s:enc:aesgcm:v1:<key name>:, then a fresh random 12-byte
// nonce per write, then AES-GCM's ciphertext and tag. The additional data
// is the object's key (/secrets/<namespace>/<name>), so a sealed value
// copied onto another Secret does not open.
type sealer struct {
	name string
	aead cipher.AEAD
}

// newSealer returns a sealer for an AES-256 key.
func newSealer(name string, key []byte) (*sealer, error) {
	if len(key) != SecretsKeySize {
		return nil, fmt.Errorf("secrets key has %d bytes, want %d", len(key), SecretsKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &sealer{name: name, aead: aead}, nil
}

// randomSealer is the sealer of a state whose log and snapshots never
// outlive the process (a MemStore, an in-memory Store): a random key,
// so that nothing in clear is written even there.
func randomSealer() *sealer {
	key := make([]byte, SecretsKeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it panics first)
	s, err := newSealer(secretsKeyName, key)
	if err != nil {
		panic(err) // the size is right by construction
	}
	return s
}

func (s *sealer) prefix() []byte { return []byte(sealPrefix + s.name + ":") }

// seal returns plaintext sealed, bound to aad.
func (s *sealer) seal(plaintext, aad []byte) []byte {
	prefix := s.prefix()
	out := make([]byte, len(prefix)+s.aead.NonceSize(), len(prefix)+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	copy(out, prefix)
	nonce := out[len(prefix):]
	_, _ = rand.Read(nonce)
	return s.aead.Seal(out, nonce, plaintext, aad)
}

// errNotSealed is the refusal of a value without the aesgcm prefix.
var errNotSealed = errors.New("not sealed by the aesgcm provider")

// open returns what seal sealed, or an error if the value is not this
// key's, was changed, or was sealed for other additional data.
func (s *sealer) open(sealed, aad []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, []byte(sealPrefix)) {
		return nil, errNotSealed
	}
	prefix := s.prefix()
	if !bytes.HasPrefix(sealed, prefix) {
		name, _, _ := bytes.Cut(sealed[len(sealPrefix):], []byte(":"))
		return nil, fmt.Errorf("sealed with key %q, this cluster has %q", name, s.name)
	}
	rest := sealed[len(prefix):]
	if len(rest) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	nonce, ct := rest[:s.aead.NonceSize()], rest[s.aead.NonceSize():]
	plain, err := s.aead.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return plain, nil
}
