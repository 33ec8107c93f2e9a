package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gossipod/gossipod/pki"
)

// credentials are a test cluster's secrets, made the way an operator makes them: a
// cluster token in a file every agent reads (--token-file), and an admin client
// certificate from the cluster CA, which only the token's holder can issue. The
// harness's own HTTP calls use them; CLI commands get a kubeconfig made by
// `gossipod kubeconfig` (Cluster.Kubeconfig).
type credentials struct {
	token     string
	tokenFile string
	ca        *pki.CA
	// transport is an HTTPS transport that trusts only the cluster CA and
	// presents the admin certificate; no proxy, since the bridge is private.
	transport *http.Transport
}

// newCredentials makes a fresh token, writes it to dir/token and derives the admin
// client transport from it.
func newCredentials(dir string) (*credentials, error) {
	token, err := pki.GenerateToken()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}
	ca, err := pki.NewCA(token)
	if err != nil {
		return nil, err
	}
	admin, err := ca.Issue(pki.Request{CommonName: "e2e-admin", Organization: []string{pki.AdminGroup}, Client: true, TTL: 24 * time.Hour}, time.Now())
	if err != nil {
		return nil, err
	}
	return &credentials{
		token:     token,
		tokenFile: path,
		ca:        ca,
		transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{admin.TLS}},
		},
	}, nil
}

// TokenFile is the file holding the cluster token every agent is started with.
func (c *Cluster) TokenFile() string { return c.creds.tokenFile }

// Kubeconfig returns the path of an admin kubeconfig for the cluster, made on first
// use by `gossipod kubeconfig --token-file ... --server <host 0>` as a user would.
// Commands that name an agent with --addr use that address with these credentials.
func (c *Cluster) Kubeconfig() string {
	c.t.Helper()
	path := filepath.Join(c.tmp, "kubeconfig")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	res := Run(c.t, "kubeconfig", "--token-file", c.creds.tokenFile, "--server", c.APIAddr(0))
	if res.Err() != nil {
		c.t.Fatalf("gossipod kubeconfig: %v", res.Err())
	}
	if err := os.WriteFile(path, []byte(res.Stdout), 0o600); err != nil {
		c.t.Fatalf("write kubeconfig: %v", err)
	}
	return path
}
