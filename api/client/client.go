// Package client is the Go client of a gossipod agent's HTTP API, used by the
// CLI. Any agent of a cluster serves every request, forwarding writes to the
// leader itself, so a client needs one address.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
)

// DefaultAddr is the agent a client talks to when none is named.
const DefaultAddr = "http://127.0.0.1:7948"

// Client talks to one agent.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the agent at addr (http://host:port, or host:port).
func New(addr string) (*Client, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--addr %q: want http://HOST:PORT", addr)
	}
	return &Client{
		base: strings.TrimRight(u.String(), "/"),
		http: &http.Client{Timeout: 60 * time.Second},
	}, nil
}

// Addr is the agent's base URL.
func (c *Client) Addr() string { return c.base }

// Members lists the gossip members the agent knows.
func (c *Client) Members(ctx context.Context) ([]api.Member, error) {
	var out []api.Member
	return out, c.get(ctx, "/v1/agent/members", &out)
}

// RaftPeers lists the Raft configuration as the agent sees it.
func (c *Client) RaftPeers(ctx context.Context) ([]api.RaftPeer, error) {
	var out []api.RaftPeer
	return out, c.get(ctx, "/v1/raft/peers", &out)
}

// Nodes lists the cluster's nodes.
func (c *Client) Nodes(ctx context.Context) (*api.NodeList, error) {
	var out api.NodeList
	return &out, c.get(ctx, "/api/v1/nodes", &out)
}

// Node gets one node; a missing node is an *api.Status with Code 404.
func (c *Client) Node(ctx context.Context, name string) (*api.Node, error) {
	var out api.Node
	return &out, c.get(ctx, "/api/v1/nodes/"+url.PathEscape(name), &out)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Do sends a request with in (if not nil) as its JSON body and decodes a
// successful response into out (if not nil). An error response comes back
// as an *api.Status; a transport failure as an error that names the agent.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("cannot reach the gossipod agent at %s: %w (is it running? set --addr or GOSSIPOD_ADDR)", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readStatus(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response of %s%s: %w", c.base, path, err)
	}
	return nil
}

// readStatus turns an error response into an *api.Status.
func readStatus(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var s api.Status
	if err := json.Unmarshal(body, &s); err == nil && s.Kind == "Status" {
		return &s
	}
	return api.NewStatus(resp.StatusCode, api.StatusReasonInternalError,
		fmt.Sprintf("the server responded %s: %s", resp.Status, strings.TrimSpace(string(body))))
}
