package main

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
)

// defaultDockerServer is kubectl's --docker-server: Docker Hub.
const defaultDockerServer = "https://index.docker.io/v1/"

// dockerConfigJSON is a ~/.docker/config.json as kubectl create secret
// docker-registry writes it into .dockerconfigjson: the field names and
// their order are kubectl's (k8s.io/kubectl/pkg/cmd/create), so the bytes,
// and with them --append-hash, are the same.
type dockerConfigJSON struct {
	Auths map[string]dockerConfigEntry `json:"auths"`
	// HTTPHeaders is never written by create; it is here so the shape is
	// the docker CLI's.
	HTTPHeaders map[string]string `json:"HttpHeaders,omitempty"`
}

// dockerConfigEntry is one registry's credentials. Auth is
// base64(username:password), what the docker CLI and kubelet read.
type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// dockerRegistryOptions are the flags of `create secret docker-registry`.
type dockerRegistryOptions struct {
	server, username, password, email string
	// files are --from-file: a docker config file, under
	// .dockerconfigjson unless the source names another key.
	files []string
}

// validate refuses, in kubectl's words, a command line that says neither
// where the config file is nor all the credentials.
func (o dockerRegistryOptions) validate() error {
	if len(o.files) == 0 && (o.username == "" || o.password == "" || o.server == "") {
		return usageError{errors.New("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required")}
	}
	return nil
}

// dockerRegistrySecret builds the kubernetes.io/dockerconfigjson Secret of
// `create secret docker-registry` as kubectl does: the --from-file files,
// or else a config with one registry's credentials.
func dockerRegistrySecret(name, namespace string, o dockerRegistryOptions) (*api.Secret, error) {
	s := newSecret(name, namespace, api.SecretTypeDockerConfigJSON)
	if len(o.files) > 0 {
		files := make([]string, len(o.files))
		for i, f := range o.files {
			if !strings.Contains(f, "=") {
				f = corev1.DockerConfigJsonKey + "=" + f
			}
			files[i] = f
		}
		if err := addSecretFiles(s, files); err != nil {
			return nil, err
		}
		return s, nil
	}
	b, err := dockerConfigJSONFor(o.username, o.password, o.email, o.server)
	if err != nil {
		return nil, err
	}
	s.Data[corev1.DockerConfigJsonKey] = b
	return s, nil
}

// dockerConfigJSONFor is the config.json kubectl writes for one registry:
// {"auths":{SERVER:{"username":…,"password":…,"email":…,"auth":base64(user:password)}}}.
func dockerConfigJSONFor(username, password, email, server string) ([]byte, error) {
	return json.Marshal(dockerConfigJSON{Auths: map[string]dockerConfigEntry{server: {
		Username: username,
		Password: password,
		Email:    email,
		Auth:     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}}})
}

// tlsSecret builds the kubernetes.io/tls Secret of `create secret tls`:
// the PEM files as tls.crt and tls.key, after checking, as kubectl does
// with tls.X509KeyPair, that they are a certificate and its private key.
func tlsSecret(name, namespace, certPath, keyPath string) (*api.Secret, error) {
	if certPath == "" || keyPath == "" {
		return nil, usageError{errors.New("key and cert must be specified")}
	}
	cert, err := readTLSFile(certPath)
	if err != nil {
		return nil, err
	}
	key, err := readTLSFile(keyPath)
	if err != nil {
		return nil, err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, err
	}
	s := newSecret(name, namespace, api.SecretTypeTLS)
	s.Data[corev1.TLSCertKey] = cert
	s.Data[corev1.TLSPrivateKeyKey] = key
	return s, nil
}

// readTLSFile reads --cert or --key, failing in kubectl's words.
func readTLSFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("Cannot read file %v, %v", path, err)
	}
	return b, nil
}
