// Package auth is the front door of the gossipod API: it authenticates each
// request (a verified client certificate or a bearer token), derives what
// the request does in Kubernetes' terms (verb, API group, resource,
// subresource, namespace, name, or a non-resource path), authorizes that
// against the caller's role, and refuses with the Status objects
// kube-apiserver returns, in its words, so kubectl prints what its users
// know.
//
// It is the first piece of the apiserver package that is to come out of
// agent/: it depends only on the api package and on one small interface it
// declares (TokenGetter), so the agent wires it around its mux with its
// replicated state behind that interface.
package auth
