package image

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Config is how a Store is set up. Build it from DefaultConfig and change
// what differs; New validates it and never modifies it.
type Config struct {
	// Root is the directory that holds the store (index, layers, temporary
	// files), typically <data-dir>/images. Layers are renamed into place
	// from Root/tmp, so the whole of Root must be one filesystem.
	Root string

	// InsecureRegistries are registries, as host or host:port, that are
	// reached over plain HTTP instead of HTTPS (the agent's
	// --insecure-registry). Loopback registries (127.0.0.1:PORT,
	// localhost:PORT) use HTTP without being listed here.
	InsecureRegistries []string

	// NodeKeychain holds the node's own registry credentials, tried
	// after a pod's image pull Secrets (kubelet's default keyring). Nil
	// means authn.DefaultKeychain: the docker config of the user the
	// agent runs as ($DOCKER_CONFIG/config.json, ~/.docker/config.json).
	NodeKeychain authn.Keychain

	// Logger receives pulls, loads and layer unpacks. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig is the agent's default: the store in
// /var/lib/gossipod/images (the agent's default data dir), no insecure
// registries, logging to slog.Default().
func DefaultConfig() Config {
	return Config{
		Root:   "/var/lib/gossipod/images",
		Logger: slog.Default(),
	}
}

// Validate reports every problem with the config at once, each naming its
// field, so a bad flag is explained before anything touches the disk.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Root == "":
		errs = append(errs, errors.New("image: Root: must be set (the image store directory)"))
	case !filepath.IsAbs(c.Root):
		errs = append(errs, fmt.Errorf("image: Root %q: must be an absolute path", c.Root))
	case strings.ContainsAny(c.Root, ":,"):
		// Layer paths end up in overlayfs' lowerdir option, where ':'
		// separates layers and ',' separates options.
		errs = append(errs, fmt.Errorf("image: Root %q: must not contain ':' or ',' (overlayfs option separators)", c.Root))
	}
	for i, r := range c.InsecureRegistries {
		if err := validRegistryHost(r); err != nil {
			errs = append(errs, fmt.Errorf("image: InsecureRegistries[%d] %q: %w", i, r, err))
		}
	}
	return errors.Join(errs...)
}

// validRegistryHost accepts host or host:port, as docker's
// --insecure-registry does, and rejects URLs and paths with a hint.
func validRegistryHost(r string) error {
	if r == "" {
		return errors.New("empty; want host or host:port")
	}
	if strings.Contains(r, "://") {
		return errors.New("want host or host:port without a scheme")
	}
	u, err := url.Parse("//" + r)
	if err != nil || u.Host != r || u.Hostname() == "" {
		return errors.New("want host or host:port (no path, no credentials)")
	}
	return nil
}
