// Package testregistry runs an image registry on loopback that wants a
// login, for the tests of pulls with image pull Secrets in several
// packages: go-containerregistry's in-process registry behind HTTP basic
// authentication, answering a request without the right login as a
// registry does (401, a Basic challenge, an UNAUTHORIZED error body).
package testregistry

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a registry over plain HTTP that serves only the one login.
type Registry struct {
	// Host is its host:port (127.0.0.1:PORT from Start): images are
	// Host/repo:tag. A puller must reach it over plain HTTP (loopback is,
	// another address must be an insecure registry).
	Host string
	// Username and Password are the login it wants.
	Username, Password string
	// Refused counts the requests it answered 401.
	Refused atomic.Int64
}

// Start runs a registry on loopback wanting username and password until
// the test ends.
func Start(tb testing.TB, username, password string) *Registry {
	tb.Helper()
	return StartAt(tb, "127.0.0.1:0", username, password)
}

// StartAt is Start listening on addr (host:port, port 0 for any), for
// pullers in another network namespace.
func StartAt(tb testing.TB, addr, username, password string) *Registry {
	tb.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatalf("test registry: %v", err)
	}
	r := &Registry{Username: username, Password: password}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u+"\x00"+p), []byte(username+"\x00"+password)) != 1 {
			r.Refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{
				{"code": "UNAUTHORIZED", "message": "authentication required"}}})
			return
		}
		h.ServeHTTP(w, req)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

// Push puts img at Host/repoTag with the registry's login and returns the
// reference.
func (r *Registry) Push(tb testing.TB, repoTag string, img v1.Image) string {
	tb.Helper()
	ref := r.Host + "/" + repoTag
	n, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(n, img, remote.WithAuth(&authn.Basic{Username: r.Username, Password: r.Password})); err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// DockerConfigJSON is the .dockerconfigjson of a
// kubernetes.io/dockerconfigjson Secret with a login for the registry, as
// `kubectl create secret docker-registry` writes it.
func (r *Registry) DockerConfigJSON(username, password string) []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{r.Host: map[string]string{
		"username": username, "password": password,
		"auth": base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}}})
	return b
}
