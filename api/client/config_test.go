package client

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// seen is what a test agent saw of one request's credentials.
type seen struct {
	CN, Auth string
	Groups   []string
}

// tlsAgent is an HTTPS test agent with a certificate from ca. It records
// the client certificate and Authorization header of every request, and
// answers 401 to any request that has neither, as the agents do.
type tlsAgent struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []seen
}

func newTLSAgent(t *testing.T, ca *testCA, requireClientCert bool) *tlsAgent {
	t.Helper()
	a := &tlsAgent{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		if !a.record(w, r) {
			return
		}
		_ = json.NewEncoder(w).Encode(api.NodeList{})
	})
	mux.HandleFunc("GET /api/v1/namespaces/default/pods/p/log", func(w http.ResponseWriter, r *http.Request) {
		if !a.record(w, r) {
			return
		}
		_, _ = io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("POST /api/v1/namespaces/default/pods/p/exec", func(w http.ResponseWriter, r *http.Request) {
		if !a.record(w, r) {
			return
		}
		if r.Header.Get("Upgrade") != ExecProtocol {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + ExecProtocol + "\r\n\r\n")
		_ = WriteFrame(brw, FrameStdout, []byte("out"))
		var code [4]byte
		binary.BigEndian.PutUint32(code[:], 7)
		_ = WriteFrame(brw, FrameExit, code[:])
		_ = brw.Flush()
	})
	a.srv = httptest.NewUnstartedServer(mux)
	a.srv.TLS = ca.serverTLS(t, requireClientCert)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	return a
}

// record notes the request's credentials and answers 401 when there are
// none; it reports whether the handler goes on.
func (a *tlsAgent) record(w http.ResponseWriter, r *http.Request) bool {
	s := seen{Auth: r.Header.Get("Authorization")}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		s.CN = r.TLS.PeerCertificates[0].Subject.CommonName
		s.Groups = r.TLS.PeerCertificates[0].Subject.Organization
	}
	a.mu.Lock()
	a.seen = append(a.seen, s)
	a.mu.Unlock()
	if s.CN == "" && s.Auth == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(api.NewStatus(http.StatusUnauthorized, "Unauthorized", "Unauthorized"))
		return false
	}
	return true
}

func (a *tlsAgent) last(t *testing.T) seen {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		t.Fatal("the agent saw no request")
	}
	return a.seen[len(a.seen)-1]
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLSCredentials: the client verifies the agent against the given CA
// and presents its certificate and token, whether they come as data or
// as files, on ordinary requests, on the log stream and on exec's own
// connection.
func TestTLSCredentials(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	agent := newTLSAgent(t, ca, true)
	certPEM, keyPEM := ca.issue(t, "admin", []string{"system:masters"}, false)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.crt", ca.PEM)
	certFile := writeFile(t, dir, "admin.crt", certPEM)
	keyFile := writeFile(t, dir, "admin.key", keyPEM)
	tokenFile := writeFile(t, dir, "token", []byte("file-token\n"))

	tests := []struct {
		name      string
		cfg       Config
		wantToken string
	}{
		{"data", Config{Server: agent.srv.URL, CAData: ca.PEM, CertData: certPEM, KeyData: keyPEM, BearerToken: "t0ken"}, "Bearer t0ken"},
		{"files", Config{Server: agent.srv.URL, CAFile: caFile, CertFile: certFile, KeyFile: keyFile, BearerTokenFile: tokenFile}, "Bearer file-token"},
		{"token file wins over token", Config{Server: agent.srv.URL, CAData: ca.PEM, CertData: certPEM, KeyData: keyPEM, BearerToken: "t0ken", BearerTokenFile: tokenFile}, "Bearer file-token"},
		{"certificate only", Config{Server: agent.srv.URL, CAData: ca.PEM, CertData: certPEM, KeyData: keyPEM}, ""},
		{"server name", Config{Server: agent.srv.URL, CAData: ca.PEM, CertData: certPEM, KeyData: keyPEM, ServerName: "node-1"}, ""},
		{"no scheme is https with TLS settings", Config{Server: strings.TrimPrefix(agent.srv.URL, "https://"), CAData: ca.PEM, CertData: certPEM, KeyData: keyPEM}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewFromConfig(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := c.Nodes(ctx); err != nil {
				t.Fatalf("Nodes: %v", err)
			}
			check := func(what string) {
				t.Helper()
				got := agent.last(t)
				if got.CN != "admin" || len(got.Groups) != 1 || got.Groups[0] != "system:masters" || got.Auth != tt.wantToken {
					t.Errorf("%s: agent saw %+v, want CN admin, O system:masters, Authorization %q", what, got, tt.wantToken)
				}
			}
			check("Nodes")
			var logs strings.Builder
			if err := c.Logs(ctx, "default", "p", LogOptions{TailLines: -1}, &logs); err != nil || logs.String() != "hello\n" {
				t.Fatalf("Logs = %q, %v", logs.String(), err)
			}
			check("Logs")
			var out strings.Builder
			code, err := c.Exec(ctx, "default", "p", ExecOptions{Command: []string{"true"}, Stdout: &out})
			if err != nil || code != 7 || out.String() != "out" {
				t.Fatalf("Exec = %d, %q, %v; want 7, \"out\"", code, out.String(), err)
			}
			check("Exec")
		})
	}
}

// TestTLSRefusals: a client whose kubeconfig holds another cluster's CA,
// or none, or is for another name, fails with a message that says which
// setting to fix, and the x509 cause stays reachable with errors.As.
func TestTLSRefusals(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	other := newTestCA(t, "other-cluster-ca")
	agent := newTLSAgent(t, ca, false)
	source := `kubeconfig "/home/u/.kube/config", context "gossipod"`

	tests := []struct {
		name      string
		cfg       Config
		wantErrs  []string
		wantCause any
	}{
		{"another cluster's CA", Config{Server: agent.srv.URL, CAData: other.PEM, BearerToken: "t", Source: source},
			[]string{"not signed by the certificate-authority of " + source, "the kubeconfig's CA does not match the cluster", "gossipod kubeconfig"}, &x509.UnknownAuthorityError{}},
		{"no kubeconfig", Config{Server: agent.srv.URL},
			[]string{"no kubeconfig names the cluster's CA", "gossipod kubeconfig"}, &x509.UnknownAuthorityError{}},
		{"wrong server name", Config{Server: agent.srv.URL, CAData: ca.PEM, ServerName: "node-2", BearerToken: "t", Source: source},
			[]string{"not valid for that address", "tls-server-name"}, &x509.HostnameError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewFromConfig(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Nodes(context.Background())
			if err == nil {
				t.Fatal("Nodes succeeded")
			}
			t.Log(err)
			for _, want := range tt.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if !errors.As(err, tt.wantCause) {
				t.Errorf("error %q does not wrap a %T", err, tt.wantCause)
			}
			// exec dials its own connection and must refuse the same way.
			_, err = c.Exec(context.Background(), "default", "p", ExecOptions{Command: []string{"true"}})
			if !errors.As(err, tt.wantCause) {
				t.Errorf("Exec error %q does not wrap a %T", err, tt.wantCause)
			}
		})
	}

	t.Run("insecure skips verification, and only then", func(t *testing.T) {
		c, err := NewFromConfig(Config{Server: agent.srv.URL, Insecure: true, BearerToken: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Nodes(context.Background()); err != nil {
			t.Errorf("insecure-skip-tls-verify: %v", err)
		}
		if _, err := NewFromConfig(Config{Server: agent.srv.URL, Insecure: true, CAData: ca.PEM}); err == nil {
			t.Error("a CA together with insecure-skip-tls-verify was accepted")
		}
	})
}

// TestUnauthorized: a 401 is an *AuthError that unwraps to the agent's
// Status, and its hint tells "no credentials" from "refused credentials".
func TestUnauthorized(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	agent := newTLSAgent(t, ca, false)
	tests := []struct {
		name, wantHint string
		cfg            Config
	}{
		{"no kubeconfig", "no kubeconfig was found", Config{Server: agent.srv.URL, CAData: ca.PEM}},
		{"kubeconfig without credentials", `kubeconfig "k" has no credentials`, Config{Server: agent.srv.URL, CAData: ca.PEM, Source: `kubeconfig "k"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewFromConfig(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Nodes(context.Background())
			var ae *AuthError
			var st *api.Status
			if !errors.As(err, &ae) || !errors.As(err, &st) || st.Code != http.StatusUnauthorized {
				t.Fatalf("error %v (%T): want an *AuthError around a 401 Status", err, err)
			}
			if !strings.Contains(ae.Hint(), tt.wantHint) || !strings.Contains(ae.Hint(), "gossipod kubeconfig") {
				t.Errorf("hint %q lacks %q", ae.Hint(), tt.wantHint)
			}
		})
	}
	refused := &AuthError{Status: api.NewStatus(401, "Unauthorized", "Unauthorized"), Server: "https://a:7948", Source: `kubeconfig "k"`, SentCredentials: true}
	if h := refused.Hint(); !strings.Contains(h, `refused the credentials of kubeconfig "k"`) {
		t.Errorf("hint for refused credentials: %q", h)
	}
}

// TestUnreachable: an agent that is not there is named, with the
// kubeconfig its address came from.
func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	for _, tt := range []struct{ source, want string }{
		{"", "(is it running? set --addr or GOSSIPOD_ADDR)"},
		{`kubeconfig "k", context "c"`, `the server of kubeconfig "k", context "c"`},
	} {
		c, err := NewFromConfig(Config{Server: addr, Source: tt.source})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Nodes(context.Background())
		if err == nil || !strings.Contains(err.Error(), "cannot reach the gossipod agent at "+addr) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want one naming %s and containing %q", err, addr, tt.want)
		}
	}
}

// TestConfigErrors: settings that cannot work are refused before any
// request, naming the kubeconfig they came from.
func TestConfigErrors(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	certPEM, keyPEM := ca.issue(t, "admin", nil, false)
	const src = `kubeconfig "k"`
	tests := []struct {
		name, want string
		cfg        Config
	}{
		{"bad scheme", "want https://HOST:PORT", Config{Server: "ftp://x"}},
		{"CA without a certificate", "holds no PEM certificate", Config{Server: "https://x", CAData: []byte("junk"), Source: src}},
		{"missing CA file", `read certificate authority in kubeconfig "k"`, Config{Server: "https://x", CAFile: "/nonexistent/ca", Source: src}},
		{"certificate without key", "without its key", Config{Server: "https://x", CertData: certPEM, Source: src}},
		{"key without certificate", "without a client certificate", Config{Server: "https://x", KeyData: keyPEM, Source: src}},
		{"mismatched key", "client certificate and key", Config{Server: "https://x", CertData: certPEM, KeyData: mustIssueKey(t, ca), Source: src}},
		{"missing token file", "read bearer token file", Config{Server: "https://x", BearerTokenFile: "/nonexistent/token", Source: src}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFromConfig(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewFromConfig error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func mustIssueKey(t *testing.T, ca *testCA) []byte {
	t.Helper()
	_, key := ca.issue(t, "someone-else", nil, false)
	return key
}

// TestPlainHTTP: New keeps working for plain http test
// servers and sends no Authorization it was not given.
func TestPlainHTTP(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_ = json.NewEncoder(w).Encode(api.NodeList{})
	}))
	defer srv.Close()
	for _, addr := range []string{srv.URL, strings.TrimPrefix(srv.URL, "http://")} {
		c, err := New(addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Nodes(context.Background()); err != nil {
			t.Errorf("New(%q).Nodes: %v", addr, err)
		}
		if auth != "" {
			t.Errorf("Authorization %q sent without a token", auth)
		}
	}
	c, _ := New("")
	if c.Addr() != DefaultAddr {
		t.Errorf("New(\"\").Addr() = %q, want %q", c.Addr(), DefaultAddr)
	}
}
