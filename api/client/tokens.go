package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gossipod/gossipod/api"
)

// CreateToken asks for a new API token. The response holds the whole
// credential (Bearer) this once: the cluster keeps only its hash.
func (c *Client) CreateToken(ctx context.Context, req api.TokenRequest) (*api.IssuedToken, error) {
	var out api.IssuedToken
	return &out, c.Do(ctx, http.MethodPost, "/v1/tokens", req, &out)
}

// Tokens lists the API tokens, without their secrets or hashes.
func (c *Client) Tokens(ctx context.Context) (*api.TokenList, error) {
	var out api.TokenList
	return &out, c.get(ctx, "/v1/tokens", &out)
}

// RevokeToken deletes the token with that id and returns it as it was; a
// missing one is an *api.Status with Code 404.
func (c *Client) RevokeToken(ctx context.Context, id string) (*api.Token, error) {
	var out api.Token
	return &out, c.Do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, &out)
}
