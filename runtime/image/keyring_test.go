package image

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// dockerConfigJSONSecret is a kubernetes.io/dockerconfigjson Secret with
// one login per location, as `kubectl create secret docker-registry`
// writes it (auth = base64 of user:password).
func dockerConfigJSONSecret(name string, logins map[string][2]string) *api.Secret {
	var auths []string
	for _, loc := range slices.Sorted(maps.Keys(logins)) {
		up := logins[loc]
		auths = append(auths, fmt.Sprintf("%q:{%q:%q,%q:%q,%q:%q}", loc, "username", up[0], "password", up[1],
			"auth", base64.StdEncoding.EncodeToString([]byte(up[0]+":"+up[1]))))
	}
	return &api.Secret{ObjectMeta: api.ObjectMeta{Name: name}, Type: api.SecretTypeDockerConfigJSON,
		Data: map[string][]byte{api.DockerConfigJSONKey: []byte(`{"auths":{` + strings.Join(auths, ",") + `}}`)}}
}

// TestKeyringLookup: which credentials an image repository gets, in which
// order, as kubelet's BasicDockerKeyring answers (its keyring_test cases:
// globs per host part, ports, path prefixes, Docker Hub's spellings).
func TestKeyringLookup(t *testing.T) {
	tests := []struct {
		name     string
		location string // of the one login
		repo     string
		match    bool
	}{
		{"host", "quay.io", "quay.io/foo/bar", true},
		{"host with scheme", "https://quay.io", "quay.io/foo/bar", true},
		{"host with /v2/ path", "http://registry.example/v2/", "registry.example/app", true},
		{"other host", "quay.io", "gcr.io/foo/bar", false},
		{"host is a suffix", "example.com", "registry.example.com/app", false},
		{"glob part", "*.docker.io", "prefix.docker.io/foo", true},
		{"glob needs the part", "*.docker.io", "docker.io/foo", false},
		{"two globs", "*.*.io", "a.b.io/x", true},
		{"glob within a part", "reg-*.example", "reg-eu.example/app", true},
		{"path prefix", "quay.io/foo", "quay.io/foo/bar", true},
		{"other path", "quay.io/foo", "quay.io/bar/baz", false},
		{"path prefix as a string, as kubelet", "quay.io/foo", "quay.io/foobar/x", true},
		{"port", "127.0.0.1:5000", "127.0.0.1:5000/app", true},
		{"other port", "127.0.0.1:5000", "127.0.0.1:5001/app", false},
		{"port wanted", "127.0.0.1:5000", "127.0.0.1/app", false},
		{"no port wanted", "registry.example", "registry.example:443/app", false},
		{"Docker Hub, docker's own key", "https://index.docker.io/v1/", "docker.io/library/busybox", true},
		{"Docker Hub as docker.io", "docker.io", "docker.io/library/busybox", true},
		{"index.docker.io is not another registry's", "https://index.docker.io/v1/", "quay.io/library/busybox", false},
		{"localhost with port", "localhost:5000", "localhost:5000/app", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, skipped, err := PullSecretKeyring([]*api.Secret{dockerConfigJSONSecret("regcred", map[string][2]string{tt.location: {"u", "p"}})})
			if err != nil || len(skipped) > 0 {
				t.Fatalf("PullSecretKeyring: %v, skipped %v", err, skipped)
			}
			got := k.Lookup(tt.repo)
			if tt.match != (len(got) == 1) || tt.match && (got[0].Username != "u" || got[0].Password != "p") {
				t.Errorf("Lookup(%q) with a login for %q = %v (%d), want a match: %v", tt.repo, tt.location, got, len(got), tt.match)
			}
		})
	}

	// The more specific location first, then the others; each location's
	// logins in the order of the Secrets.
	k, _, err := PullSecretKeyring([]*api.Secret{
		dockerConfigJSONSecret("host", map[string][2]string{"quay.io": {"h", "1"}}),
		dockerConfigJSONSecret("team", map[string][2]string{"quay.io/team": {"t", "2"}, "gcr.io": {"g", "3"}}),
		dockerConfigJSONSecret("host2", map[string][2]string{"https://quay.io": {"h2", "4"}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range k.Lookup("quay.io/team/app") {
		order = append(order, c.Username+" from "+c.Source)
	}
	if want := []string{`t from secret "team"`, `h from secret "host"`, `h2 from secret "host2"`}; !slices.Equal(order, want) {
		t.Errorf("Lookup order %q, want %q", order, want)
	}
	if got := (*Keyring)(nil).Lookup("quay.io/x"); got != nil {
		t.Errorf("nil keyring: %v", got)
	}
}

// TestPullSecretKeyring: the Secrets a pod names as kubelet reads them:
// both docker config types, "auth" padded or not, explicit username and
// password; a Secret of another type or without its key is skipped with
// the reason; a key that is not a docker config fails, naming the Secret
// and not its data.
func TestPullSecretKeyring(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	secret := func(typ api.SecretType, key, data string) *api.Secret {
		return &api.Secret{ObjectMeta: api.ObjectMeta{Name: "regcred"}, Type: typ, Data: map[string][]byte{key: []byte(data)}}
	}
	tests := []struct {
		name        string
		secret      *api.Secret
		wantUser    string // of the login for reg.example:5000/app; "" for none
		wantPass    string
		wantSkipped string // part of the reason
		wantErr     string // part of the error
	}{
		{name: "dockerconfigjson, auth padded",
			secret:   secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"auth":"`+b64([]byte("alice:s3cr:et"))+`"}}}`),
			wantUser: "alice", wantPass: "s3cr:et"},
		{name: "dockerconfigjson, auth unpadded",
			secret:   secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"auth":"`+strings.TrimRight(b64([]byte("bob:pw")), "=")+`"}}}`),
			wantUser: "bob", wantPass: "pw"},
		{name: "dockerconfigjson, username and password",
			secret:   secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"https://reg.example:5000":{"username":"carol","password":"pw","email":"c@example.com"}}}`),
			wantUser: "carol", wantPass: "pw"},
		{name: "dockercfg",
			secret:   secret(api.SecretTypeDockercfg, api.DockerConfigKey, `{"reg.example:5000":{"auth":"`+b64([]byte("dave:pw"))+`","email":"d@example.com"}}`),
			wantUser: "dave", wantPass: "pw"},
		{name: "dockerconfigjson for another registry",
			secret: secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"other.example":{"auth":"`+b64([]byte("eve:pw"))+`"}}}`)},
		{name: "Opaque is skipped",
			secret:      secret(api.SecretTypeOpaque, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"auth":"`+b64([]byte("x:y"))+`"}}}`),
			wantSkipped: `secret "regcred" is of type "Opaque", not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg`},
		{name: "dockercfg key in a dockerconfigjson Secret is skipped",
			secret:      secret(api.SecretTypeDockerConfigJSON, api.DockerConfigKey, `{}`),
			wantSkipped: `secret "regcred" of type kubernetes.io/dockerconfigjson has no .dockerconfigjson`},
		{name: "a location that does not parse is skipped",
			secret:      secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"http://[::1":{"auth":"`+b64([]byte("x:y"))+`"}}}`),
			wantSkipped: `secret "regcred": registry "http://[::1" is not a host[:port][/path]: ignored`},
		{name: "bad JSON",
			secret:  secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"password":"hunter2"`),
			wantErr: `image pull secret "regcred": .dockerconfigjson: `},
		{name: "bad JSON character is not quoted",
			secret:  secret(api.SecretTypeDockercfg, api.DockerConfigKey, `{"reg.example:5000":{"password":hunter2}}`),
			wantErr: `image pull secret "regcred": .dockercfg: invalid JSON at byte 33`},
		{name: "auths of the wrong shape",
			secret:  secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":["hunter2"]}`),
			wantErr: `image pull secret "regcred": .dockerconfigjson: invalid docker config: auths must not be a JSON array`},
		{name: "auth not base64",
			secret:  secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"auth":"hunter2!"}}}`),
			wantErr: `image pull secret "regcred": .dockerconfigjson: unable to decode auth field`},
		{name: "auth without a colon",
			secret:  secret(api.SecretTypeDockerConfigJSON, api.DockerConfigJSONKey, `{"auths":{"reg.example:5000":{"auth":"`+b64([]byte("hunter2"))+`"}}}`),
			wantErr: "must be formatted as base64(username:password)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, skipped, err := PullSecretKeyring([]*api.Secret{tt.secret})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error quotes the Secret's data: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(skipped, "; "); tt.wantSkipped == "" && got != "" || !strings.Contains(got, tt.wantSkipped) {
				t.Errorf("skipped %q, want %q", got, tt.wantSkipped)
			}
			creds := k.Lookup("reg.example:5000/app")
			if tt.wantUser == "" {
				if len(creds) != 0 {
					t.Errorf("logins %v, want none", creds)
				}
				return
			}
			if len(creds) != 1 || creds[0].Username != tt.wantUser || creds[0].Password != tt.wantPass {
				t.Fatalf("logins %d, want %s", len(creds), tt.wantUser)
			}
			if s := fmt.Sprintf("%v %+v %#v %s", creds[0], creds[0], creds[0], creds); strings.Contains(s, tt.wantPass) {
				t.Errorf("a Credential prints its password: %s", s)
			}
		})
	}
}
