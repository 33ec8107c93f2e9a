package agent

import (
	"crypto/x509"
	"strings"
	"testing"
)

// TestConfigChecksTokenAndSANs: an agent without a usable cluster token, or
// with a --tls-san that is neither an address nor a DNS name, refuses to
// start, naming the flag and saying how to make a token.
func TestConfigChecksTokenAndSANs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		sans  []string
		want  string // "" for valid
	}{
		{"valid", testToken, []string{"10.1.2.3", "api.example.com"}, ""},
		{"no token", "", nil, "gossipod token generate"},
		{"short token", "abc", nil, "--token"},
		{"bad SAN", testToken, []string{"not a name"}, "--tls-san"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "a", "127.0.0.1", t.TempDir(), 1)
			cfg.Token, cfg.TLSSANs = tc.token, tc.sans
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestAgentCertificateNames: the API certificate names the node, localhost,
// the agent's address and every --tls-san, so clients reaching the agent by
// any of them verify it against the cluster CA.
func TestAgentCertificateNames(t *testing.T) {
	c, err := newClusterTLS(testToken, "node-1", []string{"10.9.8.7", "0.0.0.0", "lb.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node-1", "localhost", "127.0.0.1", "10.9.8.7", "lb.example.com"} {
		if _, err := c.leaf.TLS.Leaf.Verify(x509.VerifyOptions{Roots: c.ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
	}
	if _, err := c.leaf.TLS.Leaf.Verify(x509.VerifyOptions{Roots: c.ca.Pool(), DNSName: "other.example.com"}); err == nil {
		t.Error("certificate valid for a name it was not issued for")
	}
}
