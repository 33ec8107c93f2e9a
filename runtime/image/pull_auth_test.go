package image

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testregistry"
)

// staticKeychain gives one login for every registry: the node's own
// credentials in a test.
type staticKeychain authn.Basic

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	b := authn.Basic(k)
	return &b, nil
}

// TestPullWithImagePullSecrets pulls from a loopback registry that wants
// a login: with the pod's pull Secret it works; without one, with a wrong
// password, or with a login for another registry, the error is
// ErrImagePull with the registry's 401 and says what to do; the node's own
// login is tried after the pod's, as kubelet tries its default keyring.
func TestPullWithImagePullSecrets(t *testing.T) {
	needRoot(t)
	reg := testregistry.Start(t, "alice", "s3cret")
	ref := reg.Push(t, "private/app:1.0", imageOf(t, []string{"/app"}, layerOf(t, file("app", "#!/bin/true\n"))))
	secret := func(name string, data []byte) *api.Secret {
		return &api.Secret{ObjectMeta: api.ObjectMeta{Name: name}, Type: api.SecretTypeDockerConfigJSON,
			Data: map[string][]byte{api.DockerConfigJSONKey: data}}
	}
	right := secret("regcred", reg.DockerConfigJSON("alice", "s3cret"))
	wrong := secret("regcred", reg.DockerConfigJSON("alice", "hunter2"))
	other := secret("other", []byte(`{"auths":{"quay.io":{"auth":"YWxpY2U6czNjcmV0"}}}`))

	tests := []struct {
		name    string
		secrets []*api.Secret
		node    authn.Keychain // nil: none
		wantErr []string       // parts of the error; none: the pull works
	}{
		{name: "the pod's secret", secrets: []*api.Secret{right}},
		{name: "wrong secret then the right one", secrets: []*api.Secret{wrong, right}},
		{name: "no secret", wantErr: []string{"401 Unauthorized", "UNAUTHORIZED", "imagePullSecrets", reg.Host, "kubernetes.io/dockerconfigjson"}},
		{name: "a secret for another registry", secrets: []*api.Secret{other},
			wantErr: []string{"401 Unauthorized", "UNAUTHORIZED", "imagePullSecrets", "the registry wants credentials for " + reg.Host}},
		{name: "wrong password", secrets: []*api.Secret{wrong},
			wantErr: []string{"401 Unauthorized", "UNAUTHORIZED", `the registry refused the credentials of secret "regcred" for ` + reg.Host, "imagePullSecrets"}},
		{name: "wrong password but the node's login works", secrets: []*api.Secret{wrong},
			node: staticKeychain{Username: "alice", Password: "s3cret"}},
		{name: "no secret but the node's login works", node: staticKeychain{Username: "alice", Password: "s3cret"}},
		{name: "wrong password and the node's too", secrets: []*api.Secret{wrong},
			node:    staticKeychain{Username: "alice", Password: "nope"},
			wantErr: []string{"401 Unauthorized", `the registry refused the credentials of secret "regcred", the agent's docker config for ` + reg.Host}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.node != nil {
				s.keychain = tt.node
			}
			keyring, skipped, err := PullSecretKeyring(tt.secrets)
			if err != nil || len(skipped) > 0 {
				t.Fatalf("PullSecretKeyring: %v (skipped %v)", err, skipped)
			}
			img, err := s.Pull(context.Background(), ref, api.PullIfNotPresent, keyring)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Pull: %v", err)
				}
				if _, ok := s.Get(ref); !ok || img.Reference != ref {
					t.Fatalf("pulled %+v, not in the store", img)
				}
				return
			}
			t.Log(err)
			if !errors.Is(err, ErrImagePull) || Reason(err) != ReasonErrImagePull {
				t.Fatalf("err = %v (reason %q), want ErrImagePull", err, Reason(err))
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			for _, secretWord := range []string{"s3cret", "hunter2", "nope"} {
				if strings.Contains(err.Error(), secretWord) {
					t.Errorf("error shows a password: %v", err)
				}
			}
			if _, ok := s.Get(ref); ok {
				t.Error("the image is in the store after a failed pull")
			}
		})
	}
}
