package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is everything a client needs to reach an agent and prove who it
// is. It carries what client-go's rest.Config carries for the same purpose,
// so a kubeconfig's cluster and user map onto it field by field (see
// package kubeconfig) and real kubectl and gossipod's CLI read the same
// file. Data fields win over the matching File fields, as in a kubeconfig.
type Config struct {
	// Server is the agent's base URL, https://HOST:PORT. Without a scheme
	// it is https when any TLS setting is given, http otherwise, as
	// client-go decides.
	Server string

	// CAData (PEM) or CAFile is the cluster CA the agent's serving
	// certificate must chain to. Neither: the system's roots.
	CAData []byte
	CAFile string
	// ServerName is the name checked against the agent's certificate when
	// it is not the host of Server (an address the certificate lacks).
	ServerName string
	// Insecure skips verifying the agent's certificate. Only a kubeconfig
	// that says insecure-skip-tls-verify sets it; it excludes a CA.
	Insecure bool

	// CertData and KeyData (PEM), or CertFile and KeyFile, are the client
	// certificate presented to the agent (CN = user, O = groups).
	CertData []byte
	KeyData  []byte
	CertFile string
	KeyFile  string

	// BearerToken is sent as "Authorization: Bearer …" on every request.
	// BearerTokenFile, when set, is read once and wins over BearerToken,
	// as the last read of the file does in client-go.
	BearerToken     string
	BearerTokenFile string

	// Source says where this config came from, e.g. `kubeconfig
	// "/root/.kube/config", context "gossipod"`, so errors can name the
	// file to fix; "" means no kubeconfig was found.
	Source string

	// Timeout bounds one ordinary request (not watches, logs -f, exec or
	// image uploads, which last as long as their context); 0 means 60 s.
	Timeout time.Duration
}

// hasTLS reports whether c says anything about TLS, which makes a Server
// without a scheme https (client-go's rest.DefaultServerURL rule).
func (c *Config) hasTLS() bool {
	return len(c.CAData) > 0 || c.CAFile != "" || c.ServerName != "" || c.Insecure ||
		len(c.CertData) > 0 || c.CertFile != ""
}

// HasCredentials reports whether c would authenticate the client at all;
// without credentials a 401 means "get a kubeconfig", not "yours is bad".
func (c *Config) HasCredentials() bool {
	return c.BearerToken != "" || c.BearerTokenFile != "" || len(c.CertData) > 0 || c.CertFile != ""
}

// NewFromConfig returns a client of the agent cfg names, verifying its
// certificate against cfg's CA and sending cfg's credentials with every
// request, including the streams of logs -f, watch and exec.
func NewFromConfig(cfg Config) (*Client, error) {
	base, err := serverURL(cfg)
	if err != nil {
		return nil, err
	}
	token, err := bearerToken(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, token: token, source: cfg.Source, hasCredentials: cfg.HasCredentials()}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if strings.HasPrefix(base, "https://") {
		c.tls, err = tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = c.tls
	}
	var rt http.RoundTripper = transport
	if token != "" {
		rt = bearerRoundTripper{token: token, next: transport}
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	c.http = &http.Client{Transport: rt, Timeout: timeout}
	return c, nil
}

// serverURL checks cfg.Server and gives it a scheme.
func serverURL(cfg Config) (string, error) {
	addr := cfg.Server
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		if cfg.hasTLS() {
			addr = "https://" + addr
		} else {
			addr = "http://" + addr
		}
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("server address %q: want https://HOST:PORT", cfg.Server)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// bearerToken is the token to send: the file's content when a file is
// named, else the literal token.
func bearerToken(cfg Config) (string, error) {
	if cfg.BearerTokenFile == "" {
		return cfg.BearerToken, nil
	}
	b, err := os.ReadFile(cfg.BearerTokenFile)
	if err != nil {
		return "", fmt.Errorf("read bearer token file%s: %w", fromSource(cfg.Source), err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("bearer token file %s%s is empty", cfg.BearerTokenFile, fromSource(cfg.Source))
	}
	return t, nil
}

// tlsConfig builds the TLS settings of cfg: its CA as the only roots (the
// system's when it names none), its client certificate, and certificate
// verification unless cfg is explicitly Insecure.
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read certificate authority%s: %w", fromSource(cfg.Source), err)
		}
		ca = b
	}
	switch {
	case cfg.Insecure && len(ca) > 0:
		// client-go refuses the same combination: the user cannot mean both.
		return nil, fmt.Errorf("a certificate authority and insecure-skip-tls-verify together%s: remove one", fromSource(cfg.Source))
	case cfg.Insecure:
		tc.InsecureSkipVerify = true
	case len(ca) > 0:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("certificate authority%s holds no PEM certificate", fromSource(cfg.Source))
		}
		tc.RootCAs = pool
	}
	cert, err := clientCertificate(cfg)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return tc, nil
}

// clientCertificate loads cfg's client certificate and key, or returns nil
// when it names none.
func clientCertificate(cfg Config) (*tls.Certificate, error) {
	certPEM, keyPEM := cfg.CertData, cfg.KeyData
	var err error
	if len(certPEM) == 0 && cfg.CertFile != "" {
		if certPEM, err = os.ReadFile(cfg.CertFile); err != nil {
			return nil, fmt.Errorf("read client certificate%s: %w", fromSource(cfg.Source), err)
		}
	}
	if len(keyPEM) == 0 && cfg.KeyFile != "" {
		if keyPEM, err = os.ReadFile(cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("read client key%s: %w", fromSource(cfg.Source), err)
		}
	}
	switch {
	case len(certPEM) == 0 && len(keyPEM) == 0:
		return nil, nil
	case len(certPEM) == 0:
		return nil, fmt.Errorf("a client key without a client certificate%s", fromSource(cfg.Source))
	case len(keyPEM) == 0:
		return nil, fmt.Errorf("a client certificate without its key%s", fromSource(cfg.Source))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate and key%s: %w", fromSource(cfg.Source), err)
	}
	return &cert, nil
}

// fromSource is " in <source>" for error messages, or "".
func fromSource(source string) string {
	if source == "" {
		return ""
	}
	return " in " + source
}

// bearerRoundTripper adds the bearer token to every request that does not
// carry an Authorization header already, as client-go's does.
type bearerRoundTripper struct {
	token string
	next  http.RoundTripper
}

func (b bearerRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return b.next.RoundTrip(req)
	}
	req = req.Clone(req.Context()) // a RoundTripper must not modify the request
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}
