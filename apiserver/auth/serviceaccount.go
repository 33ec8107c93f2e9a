package auth

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/gossipod/gossipod/api"
)

// ServiceAccount identities, as Kubernetes names them: a token of
// ServiceAccount NS/NAME authenticates as system:serviceaccount:NS:NAME, in
// the groups system:serviceaccounts and system:serviceaccounts:NS.
const (
	ServiceAccountUserPrefix    = api.ServiceAccountUsernamePrefix
	GroupServiceAccounts        = "system:serviceaccounts"
	GroupServiceAccountsPrefix  = "system:serviceaccounts:"
	DefaultServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
)

// Bounds of a token's life, as kube-apiserver's TokenRequest validation and
// kubelet use them: at least 10 minutes; 1 hour when the request names none.
const (
	MinServiceAccountTokenExpiration     = 10 * time.Minute
	DefaultServiceAccountTokenExpiration = time.Hour
	// MaxServiceAccountTokenExpiration bounds what a TokenRequest may ask
	// (kube-apiserver's --service-account-max-token-expiration; gossipod
	// keeps one day, so a leaked token dies within one).
	MaxServiceAccountTokenExpiration = 24 * time.Hour
	// tokenLeeway is the clock skew between agents a token's times allow,
	// as Kubernetes' validator allows.
	tokenLeeway = time.Minute
	// deletedPodGrace is how long a token bound to a pod being deleted
	// still works, so the pod's preStop hooks and graceful shutdown may
	// still call the API, as in Kubernetes.
	deletedPodGrace = time.Minute
)

// ServiceAccountUser is the user name of a ServiceAccount's tokens.
func ServiceAccountUser(namespace, name string) string {
	return api.ServiceAccountUsername(namespace, name)
}

// SplitServiceAccountUser returns the namespace and name of a
// ServiceAccount user name, and false for any other user.
func SplitServiceAccountUser(user string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountUserPrefix)
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, ":")
	return namespace, name, ok && namespace != "" && name != "" && !strings.Contains(name, ":")
}

// serviceAccountClaims are the claims of a bound token, in Kubernetes'
// layout (pkg/serviceaccount/claims.go), so tools that read Kubernetes
// tokens read gossipod's.
type serviceAccountClaims struct {
	jwt.Claims
	Kubernetes kubernetesClaims `json:"kubernetes.io"`
}

type kubernetesClaims struct {
	Namespace      string           `json:"namespace"`
	ServiceAccount objectRef        `json:"serviceaccount"`
	Pod            *objectRef       `json:"pod,omitempty"`
	Node           *objectRef       `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

type objectRef struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

// maxVerifiedTokens bounds the cache of verified signatures: past it, the
// cache starts again empty (a burst of distinct tokens costs one signature
// check each, as without a cache, and never more memory than this).
const maxVerifiedTokens = 4096

// ServiceAccountTokens issues and verifies ServiceAccount tokens: JWTs
// signed with ES256 under the cluster's derived key (pki.ServiceAccountKey),
// bound to a pod and expiring, as kube-apiserver's TokenRequest makes them.
// Every agent holds the same key, so the agent that runs a pod issues its
// token itself (where kubelet asks kube-apiserver), and every agent accepts
// it. Safe for concurrent use.
type ServiceAccountTokens struct {
	signer    jose.Signer
	public    *ecdsa.PublicKey
	issuer    string
	audiences []string

	// verified caches the claims of tokens whose signature checked, by
	// the token's SHA-256: the signature check is most of a request's
	// authentication cost, and a pod sends the same token for an hour.
	// Times and bindings are checked on every request all the same, so a
	// deleted pod's token stops at once, as without the cache.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]*serviceAccountClaims
}

// signedClaims returns the claims of token once its ES256 signature is
// checked against the cluster's key, from the cache when it was before.
func (t *ServiceAccountTokens) signedClaims(token string) (*serviceAccountClaims, error) {
	sum := sha256.Sum256([]byte(token))
	t.mu.Lock()
	claims, ok := t.verified[sum]
	t.mu.Unlock()
	if ok {
		return claims, nil
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidServiceAccountToken, err)
	}
	claims = &serviceAccountClaims{}
	if err := parsed.Claims(t.public, claims); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidServiceAccountToken, err)
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= maxVerifiedTokens {
		t.verified = make(map[[sha256.Size]byte]*serviceAccountClaims)
	}
	t.verified[sum] = claims
	t.mu.Unlock()
	return claims, nil
}

// NewServiceAccountTokens returns the issuer and verifier of tokens signed
// with key, carrying issuer as "iss"; apiAudiences are the audiences the API
// accepts (kube-apiserver's --api-audiences), the issuer when empty.
func NewServiceAccountTokens(key *ecdsa.PrivateKey, issuer string, apiAudiences []string) (*ServiceAccountTokens, error) {
	if issuer == "" {
		issuer = DefaultServiceAccountIssuer
	}
	if len(apiAudiences) == 0 {
		apiAudiences = []string{issuer}
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("service account key: %w", err)
	}
	// The key id as kube-apiserver computes it: the unpadded URL-safe
	// base64 of the SHA-256 of the public key's DER.
	sum := sha256.Sum256(der)
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), base64.RawURLEncoding.EncodeToString(sum[:]))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("service account token signer: %w", err)
	}
	return &ServiceAccountTokens{signer: signer, public: &key.PublicKey, issuer: issuer, audiences: apiAudiences}, nil
}

// APIAudiences are the audiences a token must name to be accepted by the
// API: what a token request that names none gets.
func (t *ServiceAccountTokens) APIAudiences() []string { return append([]string(nil), t.audiences...) }

// TokenRequest is what a token is asked for: the ServiceAccount, the pod it
// is bound to (nil for an unbound one, as `kubectl create token` gets), the
// node that pod runs on, the audiences (the API's when empty) and the
// lifetime (DefaultServiceAccountTokenExpiration when 0).
type TokenRequest struct {
	ServiceAccount *api.ServiceAccount
	Pod            *api.Pod
	Audiences      []string
	Expiration     time.Duration
	Now            time.Time
}

// Issue signs a token for req and returns it with its expiry. It checks
// what kube-apiserver's TokenRequest validation checks: the lifetime bounds
// and, for a bound token, that the pod runs as the ServiceAccount.
func (t *ServiceAccountTokens) Issue(req TokenRequest) (string, time.Time, error) {
	sa := req.ServiceAccount
	if sa == nil || sa.Name == "" || sa.Namespace == "" {
		return "", time.Time{}, errors.New("issue service account token: no service account")
	}
	exp := req.Expiration
	if exp == 0 {
		exp = DefaultServiceAccountTokenExpiration
	}
	if exp < MinServiceAccountTokenExpiration {
		return "", time.Time{}, fmt.Errorf("spec.expirationSeconds: Invalid value: %d: may not specify a duration less than %d seconds",
			int64(exp/time.Second), int64(MinServiceAccountTokenExpiration/time.Second))
	}
	if exp > MaxServiceAccountTokenExpiration {
		exp = MaxServiceAccountTokenExpiration
	}
	audiences := req.Audiences
	if len(audiences) == 0 {
		audiences = t.audiences
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Truncate(time.Second)
	expires := now.Add(exp)
	claims := serviceAccountClaims{
		Claims: jwt.Claims{
			Issuer:    t.issuer,
			Subject:   ServiceAccountUser(sa.Namespace, sa.Name),
			Audience:  jwt.Audience(audiences),
			Expiry:    jwt.NewNumericDate(expires),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        string(uuid.NewUUID()),
		},
		Kubernetes: kubernetesClaims{
			Namespace:      sa.Namespace,
			ServiceAccount: objectRef{Name: sa.Name, UID: string(sa.UID)},
		},
	}
	if p := req.Pod; p != nil {
		if p.Namespace != sa.Namespace || p.Spec.ServiceAccountName != sa.Name {
			return "", time.Time{}, fmt.Errorf("issue service account token: pod %s/%s runs as service account %q, not %s/%s",
				p.Namespace, p.Name, p.Spec.ServiceAccountName, sa.Namespace, sa.Name)
		}
		claims.Kubernetes.Pod = &objectRef{Name: p.Name, UID: string(p.UID)}
		if p.Spec.NodeName != "" {
			claims.Kubernetes.Node = &objectRef{Name: p.Spec.NodeName}
		}
	}
	token, err := jwt.Signed(t.signer).Claims(claims).Serialize()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign service account token: %w", err)
	}
	return token, expires, nil
}

// ServiceAccountGetter reads what a token is bound to from the replicated
// state, so that a token dies with its pod or ServiceAccount, on each agent
// as soon as it applies the deletion. It must be safe for concurrent use.
type ServiceAccountGetter interface {
	ServiceAccount(namespace, name string) (*api.ServiceAccount, bool)
	Pod(namespace, name string) (*api.Pod, bool)
}

// Why a ServiceAccount token was refused (for the log and tests; the client
// sees only "Unauthorized").
var (
	ErrInvalidServiceAccountToken = errors.New("invalid service account token")
	ErrStaleServiceAccountToken   = errors.New("service account token bound to an object that no longer exists")
)

// LooksLikeJWT reports whether a bearer token is a JWT (three base64url
// parts) rather than a gossipod API token <id>.<secret>.
func LooksLikeJWT(token string) bool {
	return strings.Count(token, ".") == 2 && strings.HasPrefix(token, "eyJ")
}

// verify checks token's signature, issuer, audience and times, then that
// the ServiceAccount (and the pod, for a bound token) still exist with the
// uids the token names, as Kubernetes' validator does; it returns the user
// the token authenticates.
func (t *ServiceAccountTokens) verify(token string, objects ServiceAccountGetter, now time.Time) (User, error) {
	claims, err := t.signedClaims(token)
	if err != nil {
		return User{}, err
	}
	if claims.Issuer != t.issuer {
		return User{}, fmt.Errorf("%w: issuer %q, want %q", ErrInvalidServiceAccountToken, claims.Issuer, t.issuer)
	}
	if !anyAudience(claims.Audience, t.audiences) {
		return User{}, fmt.Errorf("%w: audiences %q name none of the API's %q", ErrInvalidServiceAccountToken, []string(claims.Audience), t.audiences)
	}
	if claims.Expiry == nil {
		return User{}, fmt.Errorf("%w: no expiry", ErrInvalidServiceAccountToken)
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Time: now}, tokenLeeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return User{}, fmt.Errorf("%w: %v", ErrTokenExpired, err)
		}
		return User{}, fmt.Errorf("%w: %v", ErrInvalidServiceAccountToken, err)
	}
	k := claims.Kubernetes
	namespace, name, ok := SplitServiceAccountUser(claims.Subject)
	if !ok || namespace != k.Namespace || name != k.ServiceAccount.Name {
		return User{}, fmt.Errorf("%w: subject %q does not match service account %s/%s", ErrInvalidServiceAccountToken, claims.Subject, k.Namespace, k.ServiceAccount.Name)
	}
	sa, ok := objects.ServiceAccount(namespace, name)
	if !ok {
		return User{}, fmt.Errorf("%w: serviceaccounts %q not found in namespace %q", ErrStaleServiceAccountToken, name, namespace)
	}
	if k.ServiceAccount.UID != "" && string(sa.UID) != k.ServiceAccount.UID {
		return User{}, fmt.Errorf("%w: service account %s/%s has uid %s, the token names %s", ErrStaleServiceAccountToken, namespace, name, sa.UID, k.ServiceAccount.UID)
	}
	if ref := k.Pod; ref != nil {
		pod, ok := objects.Pod(namespace, ref.Name)
		if !ok {
			return User{}, fmt.Errorf("%w: pods %q not found in namespace %q", ErrStaleServiceAccountToken, ref.Name, namespace)
		}
		if string(pod.UID) != ref.UID {
			return User{}, fmt.Errorf("%w: pod %s/%s has uid %s, the token names %s", ErrStaleServiceAccountToken, namespace, ref.Name, pod.UID, ref.UID)
		}
		if d := pod.DeletionTimestamp; d != nil && d.Time.Before(now.Add(-deletedPodGrace)) {
			return User{}, fmt.Errorf("%w: pod %s/%s is being deleted since %s", ErrStaleServiceAccountToken, namespace, ref.Name, d.UTC().Format(time.RFC3339))
		}
	}
	return User{
		Name:   claims.Subject,
		Groups: []string{GroupServiceAccounts, GroupServiceAccountsPrefix + namespace, GroupAuthenticated},
	}, nil
}

func anyAudience(have jwt.Audience, want []string) bool {
	for _, w := range want {
		if have.Contains(w) {
			return true
		}
	}
	return false
}
