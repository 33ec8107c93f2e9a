package client

import (
	"net/http"
	"time"
)

// NewWithTransport returns a client of the agent at addr that sends its
// requests through rt: agents call each other with their own TLS
// configuration (mutual TLS, the peer's certificate checked against its node
// name) and keep one connection pool per peer.
func NewWithTransport(addr string, rt http.RoundTripper) (*Client, error) {
	c, err := New(addr)
	if err != nil {
		return nil, err
	}
	c.http = &http.Client{Timeout: 60 * time.Second, Transport: rt}
	return c, nil
}
