package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
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
// Errors name the reference, say what to do, and are ErrImagePull,
// ErrImageNeverPull or ErrInvalidImageName for errors.Is (see Reason).
func (s *Store) Pull(ctx context.Context, ref string, policy api.PullPolicy) (*Image, error) {
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
	return s.pull(ctx, ref, r)
}

// pull fetches r from its registry and stores it.
func (s *Store) pull(ctx context.Context, ref string, r reference) (*Image, error) {
	if r.localOnly {
		return nil, pullError(ref, fmt.Errorf(
			"%q is not on this node, and %q names no registry (no registry is called %q without a port): "+
				"load the image with `gossipod image load`, or push it to a registry and name it HOST:PORT/…",
			r.canonical, localRegistry, localRegistry), ErrLocalOnly)
	}
	start := time.Now()
	s.logger.Info("pulling image", "ref", r.canonical)
	img, err := remote.Image(r.remote,
		remote.WithContext(ctx),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("gossipod"),
	)
	if err != nil {
		return nil, pullError(ref, withHint(err, r))
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
		return nil, pullError(ref, withHint(err, r))
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

// withHint adds what to do about an error pulling r.
func withHint(err error, r reference) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w (check the registry credentials in the agent's docker config, ~/.docker/config.json)", err)
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
