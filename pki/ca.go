package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Identities written into certificates, in Kubernetes' convention: the user is
// the subject's common name, its groups the organizations.
const (
	// AgentGroup is the group of every agent's certificate, as kubelets'
	// certificates carry system:nodes.
	AgentGroup = "system:nodes"
	// agentUserPrefix precedes the node name in an agent's user name.
	agentUserPrefix = "system:node:"
	// AdminGroup, EditGroup and ViewGroup carry the API roles.
	AdminGroup = "gossipod:admin"
	EditGroup  = "gossipod:edit"
	ViewGroup  = "gossipod:view"
)

// AgentUser is the user name of node's agent certificate.
func AgentUser(node string) string { return agentUserPrefix + node }

// caValidity is fixed, not relative to now, so that every agent derives the
// same certificate. A hundred years: the CA changes when the token does.
var (
	caNotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC)
)

// clockSkew is how far back a leaf certificate's validity starts, so that a
// peer whose clock is a little behind accepts it.
const clockSkew = 5 * time.Minute

// CA is the cluster's certificate authority, derived from the token.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     ed25519.PrivateKey
	pool    *x509.CertPool
}

// NewCA derives the cluster CA from token. The same token gives the same CA
// on every machine.
func NewCA(token string) (*CA, error) {
	if err := CheckToken(token); err != nil {
		return nil, err
	}
	seed, err := derive(token, labelCASeed, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	// The serial and key id come from the public key: fixed per cluster, and
	// different between clusters, so a client never confuses two of them.
	sum := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("gossipod-ca-%x", sum[:4]), Organization: []string{"gossipod"}},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          sum[:20],
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("create cluster CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse cluster CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		pool:    pool,
	}, nil
}

// CertPEM is the CA certificate, PEM-encoded, as a kubeconfig's
// certificate-authority-data holds it.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Pool is a certificate pool holding only the cluster CA.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// Request describes a leaf certificate to issue.
type Request struct {
	// CommonName and Organization are the user and groups.
	CommonName   string
	Organization []string
	// DNSNames and IPs are the subject alternative names of a server.
	DNSNames []string
	IPs      []net.IP
	// Server and Client select the extended key usages.
	Server, Client bool
	// TTL is how long the certificate is valid from now.
	TTL time.Duration
}

// Leaf is an issued certificate with its private key.
type Leaf struct {
	// TLS is ready for tls.Config.Certificates.
	TLS tls.Certificate
	// CertPEM and KeyPEM are the PEM encodings, for files and kubeconfigs.
	CertPEM, KeyPEM []byte
}

// Issue signs a fresh key for req.
func (ca *CA) Issue(req Request, now time.Time) (*Leaf, error) {
	if req.CommonName == "" {
		return nil, errors.New("issue certificate: a common name is required")
	}
	if req.TTL <= 0 {
		return nil, fmt.Errorf("issue certificate for %s: TTL must be positive", req.CommonName)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: generate key: %w", req.CommonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: serial: %w", req.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.CommonName, Organization: req.Organization},
		NotBefore:      now.Add(-clockSkew),
		NotAfter:       now.Add(req.TTL),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPs,
		AuthorityKeyId: ca.cert.SubjectKeyId,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), crypto.Signer(ca.key))
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", req.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: encode key: %w", req.CommonName, err)
	}
	leaf := &Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	leaf.TLS, err = tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", req.CommonName, err)
	}
	return leaf, nil
}

// AgentCertTTL is how long an agent's certificate is valid. An agent issues
// itself a new one at every start, so it only has to outlive an uptime.
const AgentCertTTL = 365 * 24 * time.Hour

// IssueAgent issues node's agent certificate: a server certificate for its API
// (names: the node name, localhost, the loopback addresses and the given
// extra names, each an IP address or a DNS name) that is also its client
// certificate towards other agents.
func (ca *CA) IssueAgent(node string, names []string, now time.Time) (*Leaf, error) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	dns := []string{node, "localhost"}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			if !ip.IsUnspecified() && !containsIP(ips, ip) {
				ips = append(ips, ip)
			}
		} else if n != "" && !slices.Contains(dns, n) {
			dns = append(dns, n)
		}
	}
	return ca.Issue(Request{
		CommonName:   AgentUser(node),
		Organization: []string{AgentGroup},
		DNSNames:     dns,
		IPs:          ips,
		Server:       true,
		Client:       true,
		TTL:          AgentCertTTL,
	}, now)
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, have := range ips {
		if have.Equal(ip) {
			return true
		}
	}
	return false
}

// AgentName returns the node name of an agent certificate, and false for
// any other certificate. It does not verify the chain: callers pass
// certificates the TLS handshake verified.
func AgentName(cert *x509.Certificate) (string, bool) {
	name, ok := strings.CutPrefix(cert.Subject.CommonName, agentUserPrefix)
	if !ok || name == "" {
		return "", false
	}
	for _, o := range cert.Subject.Organization {
		if o == AgentGroup {
			return name, true
		}
	}
	return "", false
}
