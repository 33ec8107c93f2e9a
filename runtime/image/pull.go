package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/gossipod/gossipod/api"
)

// Pull makes the image ref names available on this node, honouring the
// container's imagePullPolicy as the kubelet does:
//
//   - Always: ask the registry what the reference names now (the manifest)
//     and fetch what the node lacks; layers already unpacked are reused,
//     so an unchanged image costs one manifest request.
//   - IfNotPresent: use the image on the node if there is one, else pull.
//   - Never: use the image on the node, else fail with ErrImageNeverPull.
//   - "": the Kubernetes default for ref (api.DefaultPullPolicy).
//
// A localhost/… reference names no registry: it is found only when loaded
// (Load), and under Always the loaded image is used as it is, since there
// is nothing to ask; when absent, the error is ErrImagePull and
// ErrLocalOnly. Registries on loopback (127.0.0.1:PORT, localhost:PORT) and
// those in Config.InsecureRegistries are reached over plain HTTP.
//
// A pull authenticates as kubelet's does: with each credential of keyring
// (the pod's image pull Secrets, see PullSecretKeyring) that matches the
// image's registry, then with the node's own (Config.NodeKeychain, the
// agent's docker config), until one works; with none of either, it pulls
// anonymously. keyring may be nil.
//
// Errors name the reference, say what to do, and are ErrImagePull,
// ErrImageNeverPull or ErrInvalidImageName for errors.Is (see Reason).
func (s *Store) Pull(ctx context.Context, ref string, policy api.PullPolicy, keyring *Keyring) (*Image, error) {
	r, err := parseReference(ref, s.cfg.InsecureRegistries)
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = api.DefaultPullPolicy(ref)
	}
	switch policy {
	case api.PullNever:
		if img, ok := s.Get(r.canonical); ok {
			return img, nil
		}
		return nil, neverPullError(ref)
	case api.PullIfNotPresent:
		if img, ok := s.Get(r.canonical); ok {
			return img, nil
		}
	case api.PullAlways:
		if img, ok := s.Get(r.canonical); ok && r.localOnly {
			return img, nil
		}
	default:
		return nil, fmt.Errorf("image %q: unknown pull policy %q (want %s, %s or %s)",
			ref, policy, api.PullAlways, api.PullIfNotPresent, api.PullNever)
	}
	return s.pull(ctx, ref, r, keyring)
}

// pull fetches r from its registry and stores it.
func (s *Store) pull(ctx context.Context, ref string, r reference, keyring *Keyring) (*Image, error) {
	if r.localOnly {
		return nil, pullError(ref, fmt.Errorf(
			"%q is not on this node, and %q names no registry (no registry is called %q without a port): "+
				"load the image with `gossipod image load`, or push it to a registry and name it HOST:PORT/…",
			r.canonical, localRegistry, localRegistry), ErrLocalOnly)
	}
	start := time.Now()
	logins := s.logins(r, keyring)
	var (
		img   v1.Image
		err   error
		tried []login
	)
	for _, l := range logins {
		s.logger.Info("pulling image", "ref", r.canonical, "credentials", l.String())
		tried = append(tried, l)
		img, err = remote.Image(r.remote,
			remote.WithContext(ctx),
			remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
			remote.WithAuth(l.auth),
			remote.WithUserAgent("gossipod"),
		)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, pullError(ref, withHint(err, r, tried))
	}
	manifest, err := img.Digest()
	if err != nil {
		return nil, pullError(ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, pullError(ref, err)
	}
	id := m.Config.Digest.String()
	repoDigest := r.repository() + "@" + manifest.String()
	if err := s.add(img, id, []string{r.canonical}, repoDigest); err != nil {
		return nil, pullError(ref, withHint(err, r, tried[len(tried)-1:]))
	}
	got, ok := s.Get(r.canonical)
	if !ok {
		// Removed again between add and here.
		return nil, pullError(ref, fmt.Errorf("%w: removed while it was pulled", ErrNotFound))
	}
	s.logger.Info("pulled image", "ref", r.canonical, "id", id, "digest", manifest.String(),
		"took", time.Since(start).Round(time.Millisecond))
	return got, nil
}

// login is one way a pull authenticates.
type login struct {
	auth authn.Authenticator
	// source names it for logs and messages (`secret "regcred"`, the
	// node's docker config), "" for none (anonymous).
	source string
}

// String is the login's source; never its secret.
func (l login) String() string {
	if l.source == "" {
		return "none"
	}
	return l.source
}

// nodeLogin is the source of the node's own credentials.
const nodeLogin = "the agent's docker config"

// logins lists how to authenticate a pull of r, in order: the credentials
// of keyring matching r's repository, then the node's own for r's
// registry; anonymous when there are none. It is kubelet's union of the
// pod's keyring and the node's default one.
func (s *Store) logins(r reference, keyring *Keyring) []login {
	var out []login
	for _, c := range keyring.Lookup(r.repository()) {
		out = append(out, login{auth: authn.FromConfig(c.AuthConfig), source: c.Source})
	}
	node, err := s.keychain.Resolve(r.remote.Context())
	if err != nil {
		// A broken docker config of the agent's must not stop pulls that
		// need none.
		s.logger.Warn("reading the node's registry credentials", "registry", r.remote.Context().RegistryStr(), "err", err)
	} else if node != authn.Anonymous {
		out = append(out, login{auth: node, source: nodeLogin})
	}
	if len(out) == 0 {
		out = append(out, login{auth: authn.Anonymous})
	}
	return out
}

// withHint adds what to do about an error pulling r, having tried the
// logins tried (the last one's error is err). A refusal by the registry
// keeps its status in the message ("401 Unauthorized"), as containerd's
// does in kubelet's.
func withHint(err error, r reference, tried []login) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w (%d %s: %s)", err, terr.StatusCode, http.StatusText(terr.StatusCode), authHint(r, tried))
		case http.StatusNotFound:
			return fmt.Errorf("%w (check the image name and tag)", err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrUnsafeLayer) {
		return err
	}
	if r.remote.Context().Scheme() == "http" {
		// Plain HTTP was tried already (loopback, or listed insecure).
		return fmt.Errorf("%w (check that the registry runs and this node reaches it)", err)
	}
	return fmt.Errorf("%w (check that this node reaches the registry; a registry serving plain HTTP must be named with --insecure-registry HOST:PORT)", err)
}

// authHint says what to do when the registry refused a pull of r with
// the logins tried.
func authHint(r reference, tried []login) string {
	host := r.remote.Context().RegistryStr()
	var sources []string
	for _, l := range tried {
		if l.source != "" {
			sources = append(sources, l.source)
		}
	}
	if len(sources) == 0 {
		return fmt.Sprintf("the registry wants credentials for %s: name a %s Secret with a login for %s in the pod's "+
			"imagePullSecrets (or in its ServiceAccount's), or log the agent in (~/.docker/config.json)",
			host, api.SecretTypeDockerConfigJSON, host)
	}
	return fmt.Sprintf("the registry refused the credentials of %s for %s: check the username and password of the "+
		"pod's imagePullSecrets (or of the agent's ~/.docker/config.json) for %s", strings.Join(sources, ", "), host, host)
}
