package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gossipod/gossipod/api"
)

func replicaSetsPath(namespace string) string {
	return collectionPath("/apis/apps/v1", "replicasets", namespace)
}

func replicaSetPath(namespace, name string) string {
	return replicaSetsPath(namespace) + "/" + url.PathEscape(name)
}

// ReplicaSets lists ReplicaSets (of every namespace when opts.Namespace is
// empty), filtered by the label and field selectors.
func (c *Client) ReplicaSets(ctx context.Context, opts ListOptions) (*api.ReplicaSetList, error) {
	var out api.ReplicaSetList
	return &out, c.get(ctx, replicaSetsPath(opts.Namespace)+opts.query(), &out)
}

// ReplicaSet gets one ReplicaSet; a missing one is an *api.Status with
// Code 404.
func (c *Client) ReplicaSet(ctx context.Context, namespace, name string) (*api.ReplicaSet, error) {
	var out api.ReplicaSet
	return &out, c.get(ctx, replicaSetPath(namespace, name), &out)
}

// CreateReplicaSet creates a ReplicaSet and returns it as stored.
func (c *Client) CreateReplicaSet(ctx context.Context, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	var out api.ReplicaSet
	return &out, c.Do(ctx, http.MethodPost, replicaSetsPath(rs.Namespace), rs, &out)
}

// DeleteReplicaSet deletes a ReplicaSet with the propagation policy (""
// for the server's default, Background) and returns it as last stored.
func (c *Client) DeleteReplicaSet(ctx context.Context, namespace, name string, policy api.DeletionPropagation) (*api.ReplicaSet, error) {
	var out api.ReplicaSet
	return &out, c.Do(ctx, http.MethodDelete, replicaSetPath(namespace, name), deleteBody(policy), &out)
}

// deleteBody is the DeleteOptions body kubectl sends with a DELETE, or
// no body (an untyped nil) for the server's default policy.
func deleteBody(policy api.DeletionPropagation) any {
	if policy == "" {
		return nil
	}
	return &api.DeleteOptions{TypeMeta: api.TypeMeta{Kind: "DeleteOptions", APIVersion: "v1"}, PropagationPolicy: &policy}
}

// UpdateReplicaSet replaces a ReplicaSet's labels, annotations and spec; a
// stale resourceVersion is an *api.Status 409 Conflict.
func (c *Client) UpdateReplicaSet(ctx context.Context, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	var out api.ReplicaSet
	return &out, c.Do(ctx, http.MethodPut, replicaSetPath(rs.Namespace, rs.Name), rs, &out)
}
