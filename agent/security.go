package agent

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/pki"
)

// clusterTLS is what this agent derives from the cluster token: the cluster
// CA, its own certificate (server for its API, client towards other agents),
// and one HTTP transport per peer, each accepting only that peer's
// certificate, so that connections are reused and a peer cannot be
// impersonated by whoever takes its address.
type clusterTLS struct {
	node string
	ca   *pki.CA
	leaf *pki.Leaf

	mu    sync.Mutex
	peers map[string]*http.Transport
}

// newClusterTLS derives the CA from token and issues this agent's
// certificate for node and its other names (addresses, --tls-san).
func newClusterTLS(token, node string, names []string) (*clusterTLS, error) {
	ca, err := pki.NewCA(token)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.IssueAgent(node, names, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issue the agent certificate: %w", err)
	}
	return &clusterTLS{node: node, ca: ca, leaf: leaf, peers: map[string]*http.Transport{}}, nil
}

// raft is the Raft transport's mutual TLS.
func (c *clusterTLS) raft() *consensus.TransportTLS {
	return &consensus.TransportTLS{
		Server: pki.PeerServerTLS(c.ca, c.leaf),
		Client: func(id string) *tls.Config { return pki.PeerClientTLS(c.ca, c.leaf, id) },
	}
}

// peerTransport returns the HTTP transport for calling node's agent.
func (c *clusterTLS) peerTransport(node string) *http.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.peers[node]; ok {
		return t
	}
	t := &http.Transport{
		Proxy:               nil, // agents talk directly, whatever the environment says
		TLSClientConfig:     pki.PeerClientTLS(c.ca, c.leaf, node),
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	c.peers[node] = t
	return t
}

// close drops every peer's idle connections.
func (c *clusterTLS) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for node, t := range c.peers {
		t.CloseIdleConnections()
		delete(c.peers, node)
	}
}
