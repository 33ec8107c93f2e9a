package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gossipod/gossipod/api"
)

func deploymentsPath(namespace string) string {
	return collectionPath("/apis/apps/v1", "deployments", namespace)
}

func deploymentPath(namespace, name string) string {
	return deploymentsPath(namespace) + "/" + url.PathEscape(name)
}

// Deployments lists Deployments (of every namespace when opts.Namespace is
// empty). The server filters by LabelSelector only.
func (c *Client) Deployments(ctx context.Context, opts ListOptions) (*api.DeploymentList, error) {
	var out api.DeploymentList
	return &out, c.get(ctx, deploymentsPath(opts.Namespace)+opts.query(), &out)
}

// Deployment gets one Deployment; a missing one is an *api.Status with
// Code 404.
func (c *Client) Deployment(ctx context.Context, namespace, name string) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.get(ctx, deploymentPath(namespace, name), &out)
}

// CreateDeployment creates a Deployment and returns it as stored.
func (c *Client) CreateDeployment(ctx context.Context, d *api.Deployment) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.Do(ctx, http.MethodPost, deploymentsPath(d.Namespace), d, &out)
}

// UpdateDeployment replaces a Deployment's metadata and spec; a stale
// resourceVersion is an *api.Status 409 Conflict.
func (c *Client) UpdateDeployment(ctx context.Context, d *api.Deployment) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.Do(ctx, http.MethodPut, deploymentPath(d.Namespace, d.Name), d, &out)
}

// DeleteDeployment deletes a Deployment with the propagation policy (""
// for the server's default, Background: its ReplicaSets and their pods are
// deleted after it) and returns it as last stored: with Foreground, still
// there with its deletionTimestamp until its pods are gone.
func (c *Client) DeleteDeployment(ctx context.Context, namespace, name string, policy api.DeletionPropagation) (*api.Deployment, error) {
	var out api.Deployment
	return &out, c.Do(ctx, http.MethodDelete, deploymentPath(namespace, name), deleteBody(policy), &out)
}

// Scale is autoscaling/v1 Scale, a Deployment's scale subresource.
type Scale struct {
	api.TypeMeta   `json:",inline"`
	api.ObjectMeta `json:"metadata"`
	Spec           ScaleSpec   `json:"spec"`
	Status         ScaleStatus `json:"status"`
}

// ScaleSpec is the wanted number of replicas.
type ScaleSpec struct {
	Replicas int32 `json:"replicas"`
}

// ScaleStatus is the observed number of replicas and the label selector
// of their pods.
type ScaleStatus struct {
	Replicas int32  `json:"replicas"`
	Selector string `json:"selector,omitempty"`
}

// GetScale reads a Deployment's scale subresource.
func (c *Client) GetScale(ctx context.Context, namespace, name string) (*Scale, error) {
	var out Scale
	return &out, c.get(ctx, deploymentPath(namespace, name)+"/scale", &out)
}

// UpdateScale sets a Deployment's replicas through its scale subresource.
// A non-empty s.ResourceVersion is a precondition (409 Conflict if stale).
func (c *Client) UpdateScale(ctx context.Context, namespace, name string, s *Scale) (*Scale, error) {
	in := *s
	in.TypeMeta = api.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"}
	in.Name, in.Namespace = name, namespace
	var out Scale
	return &out, c.Do(ctx, http.MethodPut, deploymentPath(namespace, name)+"/scale", &in, &out)
}

// WatchDeployments streams Deployment changes to fn, as WatchPods does for
// pods.
func (c *Client) WatchDeployments(ctx context.Context, opts ListOptions, fn func(WatchEvent) bool) error {
	return c.watch(ctx, deploymentsPath(opts.Namespace), opts, fn)
}

// watch streams the events of a collection's ?watch=1 to fn until ctx
// ends, fn returns false, or the server ends the stream.
func (c *Client) watch(ctx context.Context, path string, opts ListOptions, fn func(WatchEvent) bool) error {
	q := opts.query()
	if q == "" {
		q = "?watch=1"
	} else {
		q += "&watch=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+q, nil)
	if err != nil {
		return err
	}
	// A watch lasts as long as ctx, not the client's request timeout.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return c.reachError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.readStatus(resp)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var e WatchEvent
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read watch stream: %w", err)
		}
		if !fn(e) {
			return nil
		}
	}
}

// CordonNode marks a node unschedulable (true) or schedulable again
// (false), with the merge patch kubectl cordon and uncordon send, and
// returns the node as patched.
func (c *Client) CordonNode(ctx context.Context, name string, unschedulable bool) (*api.Node, error) {
	patch := map[string]any{"spec": map[string]any{"unschedulable": unschedulable}}
	var out api.Node
	return &out, c.Do(ctx, http.MethodPatch, "/api/v1/nodes/"+url.PathEscape(name), patch, &out)
}

// EvictOptions are the delete options of an eviction.
type EvictOptions struct {
	// GracePeriodSeconds overrides the pod's own grace period when set.
	GracePeriodSeconds *int64
}

// eviction is policy/v1 Eviction, the body of the eviction subresource.
type eviction struct {
	api.TypeMeta  `json:",inline"`
	Metadata      api.ObjectMeta `json:"metadata"`
	DeleteOptions *deleteOptions `json:"deleteOptions,omitempty"`
}

type deleteOptions struct {
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
}

// EvictPod asks the cluster to evict a pod: a graceful delete that the
// server refuses, with an *api.Status of Code 429, while it would take a
// Deployment below replicas − maxUnavailable available pods.
func (c *Client) EvictPod(ctx context.Context, namespace, name string, opts EvictOptions) error {
	in := eviction{
		TypeMeta: api.TypeMeta{Kind: "Eviction", APIVersion: "policy/v1"},
		Metadata: api.ObjectMeta{Name: name, Namespace: namespace},
	}
	if opts.GracePeriodSeconds != nil {
		in.DeleteOptions = &deleteOptions{GracePeriodSeconds: opts.GracePeriodSeconds}
	}
	return c.Do(ctx, http.MethodPost, podPath(namespace, name)+"/eviction", &in, nil)
}
