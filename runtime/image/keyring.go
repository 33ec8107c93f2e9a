package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gossipod/gossipod/api"
)

// A Keyring holds registry credentials by location, as kubelet's
// credentialprovider.BasicDockerKeyring holds a pod's: Pull tries those
// that match the image (Lookup) before the node's own. A location is a
// registry host, with an optional port and path ("registry.example:5000",
// "quay.io/team"); its host may hold globs per dot-separated part
// ("*.example.com"). The zero Keyring and nil hold nothing.
//
// A Keyring holds passwords: it is never logged or printed, and a
// Credential prints as its source only.
type Keyring struct {
	// index holds the locations, sorted in reverse so that the more
	// specific of two nested ones ("quay.io/team" before "quay.io") is
	// tried first, as kubelet sorts them.
	index []string
	creds map[string][]Credential
}

// Credential is one registry login of a Keyring and the Secret it came
// from.
type Credential struct {
	authn.AuthConfig
	// Source says where the login came from, for messages and logs:
	// `secret "regcred"`. It never holds any of the Secret's data.
	Source string
}

// String is the credential's source: printing a Credential must not
// print its password.
func (c Credential) String() string { return c.Source }

// GoString is String, for %#v.
func (c Credential) GoString() string { return c.Source }

// dockerConfig is the content of a dockercfg file (location → login),
// and of the "auths" of a docker config.json. authn.AuthConfig decodes a
// login's "auth" (base64 of "user:password", padded or not) into its
// username and password as kubelet's DockerConfigEntry does.
type dockerConfig map[string]authn.AuthConfig

// add files the logins of cfg under their locations, as kubelet's
// BasicDockerKeyring.Add: a scheme and a leading /v1/ or /v2/ of the path
// are dropped ("https://index.docker.io/v1/" is "index.docker.io"); a
// location that does not parse is reported and skipped.
func (k *Keyring) add(source string, cfg dockerConfig) []string {
	if k.creds == nil {
		k.creds = map[string][]Credential{}
	}
	var skipped []string
	for _, loc := range slices.Sorted(maps.Keys(cfg)) {
		value := loc
		if !strings.HasPrefix(value, "https://") && !strings.HasPrefix(value, "http://") {
			value = "https://" + value
		}
		u, err := url.Parse(value)
		if err != nil || u.Host == "" {
			skipped = append(skipped, fmt.Sprintf("%s: registry %q is not a host[:port][/path]: ignored", source, loc))
			continue
		}
		path := u.Path
		if strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v1/") {
			path = path[3:]
		}
		key := u.Host
		if path != "" && path != "/" {
			key += path
		}
		if _, ok := k.creds[key]; !ok {
			k.index = append(k.index, key)
		}
		k.creds[key] = append(k.creds[key], Credential{AuthConfig: cfg[loc], Source: source})
	}
	slices.Sort(k.index)
	slices.Reverse(k.index)
	return skipped
}

// dockerHubHost is where kubelet files Docker Hub's logins
// (https://index.docker.io/v1/ in a docker config).
const dockerHubHost = "index.docker.io"

// Lookup returns the credentials for the image repository repo, written
// without a scheme as host[:port]/path ("docker.io/library/busybox",
// "127.0.0.1:5000/app"), in the order to try them: those of every matching
// location, most specific first; else, for a Docker Hub image, those filed
// under index.docker.io. It is kubelet's BasicDockerKeyring.Lookup.
func (k *Keyring) Lookup(repo string) []Credential {
	if k == nil {
		return nil
	}
	var out []Credential
	for _, loc := range k.index {
		if locationMatches(loc, repo) {
			out = append(out, k.creds[loc]...)
		}
	}
	if len(out) == 0 && isDockerHub(repo) {
		out = append(out, k.creds[dockerHubHost]...)
	}
	return out
}

// locationMatches is kubelet's URLsMatchStr: the ports are equal, the
// hosts have as many dot-separated parts and each part of the target
// matches the location's as a glob, and the location's path is a prefix
// of the target's (as strings: "reg/team" matches "reg/teammate/app", as
// it does in kubelet).
func locationMatches(location, target string) bool {
	l, err := url.Parse("https://" + location)
	if err != nil {
		return false
	}
	t, err := url.Parse("https://" + target)
	if err != nil {
		return false
	}
	lParts, lPort := splitHost(l.Host)
	tParts, tPort := splitHost(t.Host)
	if lPort != tPort || len(lParts) != len(tParts) || !strings.HasPrefix(t.Path, l.Path) {
		return false
	}
	for i := range lParts {
		if ok, err := filepath.Match(lParts[i], tParts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// splitHost splits host[:port] into the host's dot-separated parts and
// the port.
func splitHost(hostport string) ([]string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}

// isDockerHub is kubelet's isDefaultRegistryMatch: whether repo is pulled
// from Docker Hub, judging by its first component as docker does (no "."
// or ":" in it, or docker.io, index.docker.io).
func isDockerHub(repo string) bool {
	first, _, found := strings.Cut(repo, "/")
	if first == "" {
		return false
	}
	if !found || first == "docker.io" || first == dockerHubHost {
		return true
	}
	return !strings.ContainsAny(first, ".:")
}

// PullSecretKeyring is the Keyring of a pod's image pull Secrets, as
// kubelet's credentialprovider/secrets.MakeDockerKeyring reads them: the
// logins in .dockerconfigjson of every kubernetes.io/dockerconfigjson
// Secret ({"auths": {location: login}}) and in .dockercfg of every
// kubernetes.io/dockercfg Secret ({location: login}), in the order given.
// A Secret of another type, or without its key, holds no pull
// credentials: kubelet passes over it in silence; here it is skipped with
// the reason, returned for the caller to log. A key that is not a docker
// config fails the whole keyring, as it fails kubelet's pull; the error
// names the Secret and the key, never the data.
func PullSecretKeyring(secrets []*api.Secret) (*Keyring, []string, error) {
	k := &Keyring{}
	var skipped []string
	for _, s := range secrets {
		source := fmt.Sprintf("secret %q", s.Name)
		var key string
		switch s.Type {
		case api.SecretTypeDockerConfigJSON:
			key = api.DockerConfigJSONKey
		case api.SecretTypeDockercfg:
			key = api.DockerConfigKey
		default:
			skipped = append(skipped, fmt.Sprintf("%s is of type %q, not %s or %s: it holds no registry credentials",
				source, s.Type, api.SecretTypeDockerConfigJSON, api.SecretTypeDockercfg))
			continue
		}
		data := s.Data[key]
		if len(data) == 0 {
			skipped = append(skipped, fmt.Sprintf("%s of type %s has no %s: it holds no registry credentials", source, s.Type, key))
			continue
		}
		var cfg dockerConfig
		var err error
		if key == api.DockerConfigJSONKey {
			var file struct {
				Auths dockerConfig `json:"auths"`
			}
			err = json.Unmarshal(data, &file)
			cfg = file.Auths
		} else {
			err = json.Unmarshal(data, &cfg)
		}
		if err != nil {
			return nil, skipped, fmt.Errorf("image pull %s: %s: %w", source, key, redactJSONError(err))
		}
		skipped = append(skipped, k.add(source, cfg)...)
	}
	return k, skipped, nil
}

// redactJSONError keeps of a decoding error what says where and why, not
// what: a SyntaxError quotes the offending character, which may be one of
// a password's.
func redactJSONError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Errorf("invalid docker config: %s must not be a JSON %s", typ.Field, typ.Value)
	}
	return err
}
