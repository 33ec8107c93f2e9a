package auth

import (
	"context"
	"slices"
	"strings"
)

// Identities and groups. Client certificates carry them as Kubernetes'
// x509 authenticator reads them: the user is the subject's common name,
// the groups its organizations.
const (
	// GroupAdmin, GroupEdit and GroupView are the role groups: a client
	// certificate with O=gossipod:edit, or an edit token, may edit.
	GroupAdmin = "gossipod:admin"
	GroupEdit  = "gossipod:edit"
	GroupView  = "gossipod:view"
	// GroupNodes is the group of every agent's certificate, whose common
	// name is NodeUserPrefix + the node name.
	GroupNodes     = "system:nodes"
	NodeUserPrefix = "system:node:"
	// TokenUserPrefix + the token id is the user a bearer token
	// authenticates as.
	TokenUserPrefix = "gossipod:token:"
	// GroupAuthenticated is added to every authenticated user, as
	// Kubernetes does.
	GroupAuthenticated = "system:authenticated"
	// Anonymous and GroupUnauthenticated are who a request without
	// credentials is: it may reach only the open paths (/healthz, ...).
	Anonymous            = "system:anonymous"
	GroupUnauthenticated = "system:unauthenticated"
)

// User is who made a request: what the authorizer decides on and what
// handlers may record (e.g. who revoked a token).
type User struct {
	Name   string
	Groups []string
}

// InGroup reports whether the user is in group g.
func (u User) InGroup(g string) bool { return slices.Contains(u.Groups, g) }

// IsAnonymous reports whether the request carried no credentials.
func (u User) IsAnonymous() bool { return u.Name == Anonymous }

// IsNode reports whether the user is an agent: in the nodes group and
// named system:node:<name>, as Kubernetes' node authorizer requires both.
func (u User) IsNode() bool {
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	return ok && name != "" && u.InGroup(GroupNodes)
}

// anonymousUser is the identity of a request without credentials.
func anonymousUser() User {
	return User{Name: Anonymous, Groups: []string{GroupUnauthenticated}}
}

// userKey is the context key of the request's User.
type userKey struct{}

// WithUser returns ctx carrying u, as the middleware passes the caller to
// the handlers.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns who made the request of ctx, and false outside the
// middleware (e.g. in a handler test).
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
