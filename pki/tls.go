package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// APIServerTLS is the TLS configuration of an agent's API. Clients may
// present a certificate from the cluster CA (agents, admin kubeconfigs) or
// none (bearer tokens); which requests need what is the authorizer's call.
// Only HTTP/1.1 is offered: exec and attach upgrade the connection, which
// HTTP/2 cannot.
func APIServerTLS(ca *CA, leaf *Leaf) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{leaf.TLS},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.pool,
		NextProtos:   []string{"http/1.1"},
	}
}

// PeerServerTLS is the TLS configuration of a listener only agents may use
// (Raft): the client must present an agent certificate of this cluster.
func PeerServerTLS(ca *CA, leaf *Leaf) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{leaf.TLS},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			if _, ok := AgentName(cs.PeerCertificates[0]); !ok {
				return fmt.Errorf("client certificate %q is not an agent's", cs.PeerCertificates[0].Subject.CommonName)
			}
			return nil
		},
	}
}

// PeerClientTLS is the TLS configuration for calling node's agent: this
// agent presents its own certificate and accepts only a certificate of the
// cluster CA that names node, so a peer cannot pose as another.
func PeerClientTLS(ca *CA, leaf *Leaf, node string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{leaf.TLS},
		RootCAs:      ca.pool,
		ServerName:   node,
		NextProtos:   []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return checkAgent(cs.PeerCertificates, node)
		},
	}
}

// checkAgent reports whether the verified chain's leaf is node's agent
// certificate.
func checkAgent(certs []*x509.Certificate, node string) error {
	if len(certs) == 0 {
		return errors.New("the peer presented no certificate")
	}
	name, ok := AgentName(certs[0])
	if !ok {
		return fmt.Errorf("the peer's certificate %q is not an agent's", certs[0].Subject.CommonName)
	}
	if name != node {
		return fmt.Errorf("the peer's certificate names node %q, want %q", name, node)
	}
	return nil
}
