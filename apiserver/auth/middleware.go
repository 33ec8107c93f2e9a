package auth

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gossipod/gossipod/api"
)

// Middleware returns the filter every API request passes before the mux,
// in kube-apiserver's order: authenticate (invalid credentials are a 401
// whatever the path), derive the request's Attributes, authorize (a
// refused anonymous request is a 401, a refused authenticated one a 403),
// then call next with the User in the request's context (UserFrom). log
// records refusals with their real cause, which the client is not told;
// nil discards.
func Middleware(authn *Authenticator, authz Authorizer, log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok, err := authn.Authenticate(r)
			if err != nil {
				log.Info("refused API request: invalid credentials", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "error", err)
				writeStatus(w, api.NewUnauthorized())
				return
			}
			if !ok {
				u = anonymousUser()
			}
			attrs := RequestAttributes(r)
			if !authz.Authorize(u, attrs) {
				if u.IsAnonymous() {
					writeStatus(w, api.NewUnauthorized())
					return
				}
				st := Forbidden(u, attrs)
				log.Info("refused API request: forbidden", "user", u.Name, "groups", u.Groups, "remote", r.RemoteAddr, "message", st.Message)
				writeStatus(w, st)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
		})
	}
}

// Forbidden is the 403 for u doing what attrs describe, in kube-apiserver's
// words (its responsewriters.forbiddenMessage inside apierrors.NewForbidden):
//
//	pods is forbidden: User "u" cannot create resource "pods" in API group "" in the namespace "default"
//	nodes "n1" is forbidden: User "u" cannot patch resource "nodes" in API group "" at the cluster scope
//	forbidden: User "u" cannot get path "/metrics"
func Forbidden(u User, attrs Attributes) *api.Status {
	if !attrs.IsResourceRequest {
		return api.NewForbidden("", "", "", fmt.Sprintf("User %q cannot %s path %q", u.Name, attrs.Verb, attrs.Path))
	}
	resource := attrs.Resource
	if attrs.Subresource != "" {
		resource += "/" + attrs.Subresource
	}
	var why string
	if attrs.Namespace != "" {
		why = fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", u.Name, attrs.Verb, resource, attrs.APIGroup, attrs.Namespace)
	} else {
		why = fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", u.Name, attrs.Verb, resource, attrs.APIGroup)
	}
	return api.NewForbidden(attrs.APIGroup, attrs.Resource, attrs.Name, why)
}

// writeStatus writes a refusal as the agent writes every error: a JSON
// Status with its code.
func writeStatus(w http.ResponseWriter, s *api.Status) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(s.Code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s)
}
