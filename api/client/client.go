// Package client is the Go client of a gossipod agent's HTTP API, used by the
// CLI. Any agent of a cluster serves every request, forwarding writes to the
// leader itself, so a client needs one address.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
)

// DefaultAddr is the agent a client talks to when neither a kubeconfig nor
// --addr names one: the local agent, whose API is HTTPS only.
const DefaultAddr = "https://127.0.0.1:7948"

// Client talks to one agent.
type Client struct {
	base string
	// http sends every request, with the bearer token when there is one.
	http *http.Client
	// tls is the TLS configuration of an https base, nil for http; exec
	// dials its own connection with it.
	tls *tls.Config
	// token is the bearer token, "" for none; exec adds it itself.
	token string
	// source and hasCredentials explain a 401 or a certificate error.
	source         string
	hasCredentials bool
}

// New returns a client of the agent at addr (http(s)://host:port, or
// host:port for plain http) with no credentials, verifying an https
// agent against the system's roots: for tests and plain-http agents.
// Clients of a real cluster use NewFromConfig with a kubeconfig's settings.
func New(addr string) (*Client, error) {
	if addr != "" && !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return NewFromConfig(Config{Server: addr})
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
	return c.DoAccept(ctx, method, path, "application/json", in, out)
}

// DoAccept is Do with another Accept header: a Table
// (application/json;as=Table;v=v1;g=meta.k8s.io) or aggregated discovery,
// which the server answers only to clients that ask for them.
func (c *Client) DoAccept(ctx context.Context, method, path, accept string, in, out any) error {
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
	req.Header.Set("Accept", accept)
	switch {
	case in != nil && method == http.MethodPatch:
		// A PATCH body is a patch, and the API wants to know which kind:
		// this client's patches are JSON merge patches (RFC 7386).
		req.Header.Set("Content-Type", "application/merge-patch+json")
	case in != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.reachError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.readStatus(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response of %s%s: %w", c.base, path, err)
	}
	return nil
}

// ListOptions narrows a list or watch, as Kubernetes' query parameters do.
type ListOptions struct {
	// Namespace limits the list to one namespace; "" means all.
	Namespace     string
	LabelSelector string
	FieldSelector string
	// ResourceVersion resumes a watch after that version.
	ResourceVersion string
}

func (o ListOptions) query() string {
	q := url.Values{}
	if o.LabelSelector != "" {
		q.Set("labelSelector", o.LabelSelector)
	}
	if o.FieldSelector != "" {
		q.Set("fieldSelector", o.FieldSelector)
	}
	if o.ResourceVersion != "" {
		q.Set("resourceVersion", o.ResourceVersion)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// collectionPath is the REST path of a resource's collection under an API
// prefix ("/api/v1", "/apis/apps/v1"), across namespaces when namespace is "".
func collectionPath(prefix, resource, namespace string) string {
	if namespace == "" {
		return prefix + "/" + resource
	}
	return prefix + "/namespaces/" + url.PathEscape(namespace) + "/" + resource
}

func podsPath(namespace string) string { return collectionPath("/api/v1", "pods", namespace) }

func podPath(namespace, name string) string {
	return podsPath(namespace) + "/" + url.PathEscape(name)
}

// Pods lists pods.
func (c *Client) Pods(ctx context.Context, opts ListOptions) (*api.PodList, error) {
	var out api.PodList
	return &out, c.get(ctx, podsPath(opts.Namespace)+opts.query(), &out)
}

// Pod gets one pod; a missing pod is an *api.Status with Code 404.
func (c *Client) Pod(ctx context.Context, namespace, name string) (*api.Pod, error) {
	var out api.Pod
	return &out, c.get(ctx, podPath(namespace, name), &out)
}

// CreatePod creates a pod and returns it as stored.
func (c *Client) CreatePod(ctx context.Context, p *api.Pod) (*api.Pod, error) {
	var out api.Pod
	return &out, c.Do(ctx, http.MethodPost, podsPath(p.Namespace), p, &out)
}

// UpdatePod replaces a pod's spec and metadata; a stale resourceVersion is
// an *api.Status 409 Conflict.
func (c *Client) UpdatePod(ctx context.Context, p *api.Pod) (*api.Pod, error) {
	var out api.Pod
	return &out, c.Do(ctx, http.MethodPut, podPath(p.Namespace, p.Name), p, &out)
}

// DeletePod deletes a pod; gracePeriodSeconds nil means the pod's own.
func (c *Client) DeletePod(ctx context.Context, namespace, name string, gracePeriodSeconds *int64) (*api.Pod, error) {
	path := podPath(namespace, name)
	if gracePeriodSeconds != nil {
		path += "?gracePeriodSeconds=" + strconv.FormatInt(*gracePeriodSeconds, 10)
	}
	var out api.Pod
	return &out, c.Do(ctx, http.MethodDelete, path, nil, &out)
}

// Events lists events, e.g. with FieldSelector "involvedObject.uid=…".
func (c *Client) Events(ctx context.Context, opts ListOptions) (*api.EventList, error) {
	var out api.EventList
	return &out, c.get(ctx, collectionPath("/api/v1", "events", opts.Namespace)+opts.query(), &out)
}

// WatchEvent is one event of a watch stream; Object is the raw JSON of the
// object, or of a Status for type ERROR.
type WatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// WatchPods streams pod changes to fn until ctx ends, fn returns false, or
// the server ends the stream. Without a ResourceVersion the stream starts
// with an ADDED event for every current pod.
func (c *Client) WatchPods(ctx context.Context, opts ListOptions, fn func(WatchEvent) bool) error {
	return c.watch(ctx, podsPath(opts.Namespace), opts, fn)
}

// Image is one image of an agent's store.
type Image struct {
	Reference string    `json:"reference"`
	ID        string    `json:"id"`
	Size      int64     `json:"size"`
	Created   time.Time `json:"created"`
}

// Images lists the images of the agent the client talks to.
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var out []Image
	return out, c.get(ctx, "/v1/images", &out)
}

// LoadImage uploads an image archive (OCI layout or docker save) into the
// agent's image store and returns the references it imported.
func (c *Client) LoadImage(ctx context.Context, archive io.Reader) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/images/load", archive)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return nil, c.reachError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, c.readStatus(resp)
	}
	var out struct {
		Loaded []string `json:"loaded"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode image load response: %w", err)
	}
	return out.Loaded, nil
}
