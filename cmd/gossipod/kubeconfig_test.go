package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client/kubeconfig"
)

// TestMain keeps the CLI tests from reading the kubeconfig of whoever runs
// them: HOME is an empty directory and KUBECONFIG is unset.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "gossipod-cli-test-home")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Unsetenv("KUBECONFIG")
	os.Unsetenv("GOSSIPOD_ADDR")
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// selfSigned returns a self-signed client certificate and key (PEM) for
// CN = user, O = groups; the test agent requests but does not verify it.
func selfSigned(t *testing.T, user string, groups ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func (s *tlsServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// runCLI runs the CLI with args and returns stdout and what main would
// print on stderr.
func runCLI(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"gossipod"}, args...))
	if msg := errorMessage(err); msg != "" {
		errOut.WriteString(msg + "\n")
	}
	return out.String(), errOut.String(), err
}

// TestKubeconfigCLI: the CLI finds the kubeconfig as kubectl does, sends
// its client certificate and token over TLS verified against its CA, and
// --addr/GOSSIPOD_ADDR replace only the server.
func TestKubeconfigCLI(t *testing.T) {
	agent := newTestServer(t).startTLS()
	certPEM, keyPEM := selfSigned(t, "admin", "system:masters")
	dir := t.TempDir()
	render := func(name, server string, ca []byte) string {
		t.Helper()
		out, err := kubeconfig.Render(kubeconfig.Credentials{Server: server, CAPEM: ca, CertPEM: certPEM, KeyPEM: keyPEM, Token: "s3cret"})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := render("good", agent.URL, agent.caPEM())
	// elsewhere names a server that is not there: only --addr can work.
	elsewhere := render("elsewhere", "https://127.0.0.1:1", agent.caPEM())
	otherCA, _ := selfSigned(t, "another-cluster-ca")
	wrongCA := render("wrong-ca", agent.URL, otherCA)
	hostPort := strings.TrimPrefix(agent.URL, "https://")

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string // in what main prints; "" = success
	}{
		{name: "--kubeconfig", args: []string{"--kubeconfig", good}},
		{name: "KUBECONFIG", env: map[string]string{"KUBECONFIG": good}},
		{name: "~/.kube/config", env: map[string]string{"HOME": "home"}},
		{name: "--addr keeps CA and credentials", env: map[string]string{"KUBECONFIG": elsewhere}, args: []string{"--addr", agent.URL}},
		{name: "--addr without scheme is https", args: []string{"--kubeconfig", elsewhere, "--addr", hostPort}},
		{name: "GOSSIPOD_ADDR", env: map[string]string{"KUBECONFIG": elsewhere, "GOSSIPOD_ADDR": agent.URL}},
		{name: "--context", args: []string{"--kubeconfig", good, "--context", "gossipod"}},
		{name: "unknown --context", args: []string{"--kubeconfig", good, "--context", "prod"}, wantErr: `no context "prod" (there are: gossipod)`},
		{name: "missing --kubeconfig", args: []string{"--kubeconfig", filepath.Join(dir, "nope")}, wantErr: "load kubeconfig"},
		{name: "another cluster's CA", args: []string{"--kubeconfig", wrongCA}, wantErr: "the kubeconfig's CA does not match the cluster"},
		{name: "no kubeconfig", args: []string{"--addr", agent.URL}, wantErr: "no kubeconfig names the cluster's CA; run `gossipod kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				if k == "HOME" {
					home := t.TempDir()
					if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
						t.Fatal(err)
					}
					b, _ := os.ReadFile(good)
					if err := os.WriteFile(filepath.Join(home, ".kube", "config"), b, 0o600); err != nil {
						t.Fatal(err)
					}
					v = home
				}
				t.Setenv(k, v)
			}
			agent.mu.Lock()
			agent.seen = nil
			agent.mu.Unlock()
			out, errOut, err := runCLI(append(tt.args, "get", "pods")...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(errOut, tt.wantErr) {
					t.Fatalf("err %v, stderr %q; want one containing %q", err, errOut, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("get pods: %v\n%s", err, errOut)
			}
			if !strings.Contains(out+errOut, "No resources found") {
				t.Errorf("stdout %q, stderr %q", out, errOut)
			}
			agent.mu.Lock()
			defer agent.mu.Unlock()
			if len(agent.seen) == 0 || agent.seen[0] != "CN=admin Authorization=Bearer s3cret" {
				t.Errorf("the agent saw %q, want the kubeconfig's certificate and token", agent.seen)
			}
		})
	}
}

// TestUnauthorizedMessage: a 401 prints kubectl's line and what to do.
func TestUnauthorizedMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(api.NewStatus(http.StatusUnauthorized, "Unauthorized", "Unauthorized"))
	}))
	defer srv.Close()
	_, errOut, err := runCLI("--addr", srv.URL, "get", "pods")
	if err == nil {
		t.Fatal("get pods succeeded")
	}
	want := "error: You must be logged in to the server (Unauthorized)\nno credentials were sent: no kubeconfig was found (--kubeconfig, KUBECONFIG, ~/.kube/config); run `gossipod kubeconfig > ~/.kube/config`"
	if !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr:\n%s\nwant it to start with:\n%s", errOut, want)
	}
}
