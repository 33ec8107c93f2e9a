package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef"

func TestCheckToken(t *testing.T) {
	for _, tc := range []struct {
		name, token, wantErr string
	}{
		{"generated", mustGenerate(t), ""},
		{"long enough", testToken, ""},
		{"empty", "", "gossipod token generate"},
		{"short", "abc", "fewer than 32"},
		{"space", strings.Repeat("a", 20) + " " + strings.Repeat("b", 20), "printable ASCII"},
		{"non-ASCII", strings.Repeat("é", 20), "printable ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckToken(tc.token)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckToken: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckToken = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func mustGenerate(t *testing.T) string {
	t.Helper()
	tok, err := GenerateToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 64 {
		t.Fatalf("generated token %q has %d characters, want 64", tok, len(tok))
	}
	return tok
}

func TestDerivedSecretsDependOnlyOnTheToken(t *testing.T) {
	other := mustGenerate(t)
	k1, _ := GossipKey(testToken)
	k2, _ := GossipKey(testToken)
	k3, _ := GossipKey(other)
	if len(k1) != 32 || !bytes.Equal(k1, k2) || bytes.Equal(k1, k3) {
		t.Fatalf("gossip keys: same token gave %x and %x, other token %x", k1, k2, k3)
	}
	s1, _ := SecretsKey(testToken)
	s2, _ := SecretsKey(testToken)
	s3, _ := SecretsKey(other)
	if len(s1) != 32 || !bytes.Equal(s1, s2) || bytes.Equal(s1, s3) || bytes.Equal(s1, k1) {
		t.Fatalf("secrets keys: same token gave %x and %x, other token %x (gossip key %x)", s1, s2, s3, k1)
	}
	if _, err := SecretsKey("short"); err == nil {
		t.Fatal("SecretsKey accepted a short token")
	}
	sa1, err := ServiceAccountKey(testToken)
	if err != nil {
		t.Fatal(err)
	}
	sa2, _ := ServiceAccountKey(testToken)
	sa3, _ := ServiceAccountKey(other)
	if !sa1.Equal(sa2) || sa1.Equal(sa3) || func() bool { b, _ := sa1.Bytes(); return bytes.Equal(b, s1) }() {
		t.Fatal("service account keys: the same token must give the same key, another token another, unrelated to the secrets key")
	}
	if _, err := ServiceAccountKey("short"); err == nil {
		t.Fatal("ServiceAccountKey accepted a short token")
	}
	ca1, err := NewCA(testToken)
	if err != nil {
		t.Fatal(err)
	}
	ca2, _ := NewCA(testToken)
	ca3, _ := NewCA(other)
	if !bytes.Equal(ca1.CertPEM(), ca2.CertPEM()) {
		t.Fatal("the same token gave two different CA certificates")
	}
	if bytes.Equal(ca1.CertPEM(), ca3.CertPEM()) {
		t.Fatal("two tokens gave the same CA certificate")
	}
	if _, err := NewCA("short"); err == nil {
		t.Fatal("NewCA accepted a short token")
	}
}

func TestAgentCertificate(t *testing.T) {
	ca, _ := NewCA(testToken)
	leaf, err := ca.IssueAgent("node-1", []string{"10.0.0.5", "0.0.0.0", "api.example.com"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert := leaf.TLS.Leaf
	if name, ok := AgentName(cert); !ok || name != "node-1" {
		t.Fatalf("AgentName = %q, %v", name, ok)
	}
	for _, host := range []string{"node-1", "localhost", "10.0.0.5", "127.0.0.1", "api.example.com"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	other, _ := NewCA(mustGenerate(t))
	if _, err := cert.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "node-1"}); err == nil {
		t.Error("another cluster's CA verified this agent's certificate")
	}
	client, _ := ca.Issue(Request{CommonName: "admin", Organization: []string{AdminGroup}, Client: true, TTL: time.Hour}, time.Now())
	if _, ok := AgentName(client.TLS.Leaf); ok {
		t.Error("an admin client certificate passed as an agent's")
	}
}

// handshake runs a TLS handshake between a server and a client
// configuration over an in-memory connection and returns both sides' errors.
func handshake(server, client *tls.Config) (serverErr, clientErr error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, server)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 verifies the client certificate after the client's
			// handshake returns: read once so that failure reaches the client.
			_, err = s.Write([]byte("x"))
		}
		done <- err
		a.Close()
	}()
	c := tls.Client(b, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		_, clientErr = c.Read(make([]byte, 1))
	}
	b.Close()
	return <-done, clientErr
}

func TestPeerTLS(t *testing.T) {
	ca, _ := NewCA(testToken)
	now := time.Now()
	n1, _ := ca.IssueAgent("n1", nil, now)
	n2, _ := ca.IssueAgent("n2", nil, now)
	admin, _ := ca.Issue(Request{CommonName: "admin", Organization: []string{AdminGroup}, Client: true, TTL: time.Hour}, now)
	foreignCA, _ := NewCA(mustGenerate(t))
	foreign, _ := foreignCA.IssueAgent("n2", nil, now)

	for _, tc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"agent calls the agent it expects", PeerServerTLS(ca, n2), PeerClientTLS(ca, n1, "n2"), true},
		{"the peer is another node", PeerServerTLS(ca, n2), PeerClientTLS(ca, n1, "n3"), false},
		{"the peer is of another cluster", PeerServerTLS(foreignCA, foreign), PeerClientTLS(ca, n1, "n2"), false},
		{"a client certificate that is not an agent's", PeerServerTLS(ca, n2),
			&tls.Config{Certificates: []tls.Certificate{admin.TLS}, RootCAs: ca.Pool(), ServerName: "n2"}, false},
		{"no client certificate", PeerServerTLS(ca, n2), &tls.Config{RootCAs: ca.Pool(), ServerName: "n2"}, false},
		{"the API takes a client without a certificate", APIServerTLS(ca, n2), &tls.Config{RootCAs: ca.Pool(), ServerName: "n2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverErr, clientErr := handshake(tc.server, tc.client)
			if ok := serverErr == nil && clientErr == nil; ok != tc.ok {
				t.Fatalf("handshake ok = %v, want %v (server: %v, client: %v)", ok, tc.ok, serverErr, clientErr)
			}
		})
	}
}
