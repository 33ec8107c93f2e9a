package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api/client/kubeconfig"
	"github.com/gossipod/gossipod/pki"
)

// TestKubeconfigCommand: `gossipod kubeconfig` writes a kubeconfig that names the
// server, trusts exactly the CA the token derives, and carries a client certificate
// of that CA with the asked user and role; bad requests are refused and print
// nothing.
func TestKubeconfigCommand(t *testing.T) {
	const token = "kubeconfig-command-test-token-0123456789abcdef"
	ca, err := pki.NewCA(token)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, err := runCLI("kubeconfig", "--token-file", tokenFile, "--server", "10.0.0.11", "--role", "view", "--user", "alice")
	if err != nil {
		t.Fatalf("kubeconfig: %v\n%s", err, stderr)
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := kubeconfig.Load(kubeconfig.Options{Path: path})
	if err != nil {
		t.Fatalf("load the written kubeconfig: %v\n%s", err, out)
	}
	if cfg.Server != "https://10.0.0.11:7948" {
		t.Errorf("server %q, want https://10.0.0.11:7948", cfg.Server)
	}
	if !bytes.Equal(cfg.CAData, ca.CertPEM()) {
		t.Error("the kubeconfig's CA is not the one the token derives")
	}
	pair, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	cert := pair.Leaf
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate not from the cluster CA: %v", err)
	}
	if cert.Subject.CommonName != "alice" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != pki.ViewGroup {
		t.Errorf("client certificate for %q in %v, want alice in %s", cert.Subject.CommonName, cert.Subject.Organization, pki.ViewGroup)
	}
	if strings.Contains(out, token) {
		t.Error("the kubeconfig holds the cluster token")
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a role that does not exist", []string{"--token-file", tokenFile, "--role", "root"}, "--role"},
		{"a plain HTTP server", []string{"--token-file", tokenFile, "--server", "http://10.0.0.11:7948"}, "HTTPS only"},
		{"a short token", []string{"--token", "short"}, "--token"},
		{"both token flags", []string{"--token", token, "--token-file", tokenFile}, "both given"},
		{"a missing token file", []string{"--token-file", filepath.Join(t.TempDir(), "none")}, "--token-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(append([]string{"kubeconfig"}, tc.args...)...)
			if err == nil || out != "" || !strings.Contains(stderr, tc.want) {
				t.Fatalf("err %v, stdout %q, stderr %q; want a refusal naming %q and no output", err, out, stderr, tc.want)
			}
		})
	}
}
