package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
)

// maxTokenRequestBytes bounds a TokenRequest body: audiences and a
// reference.
const maxTokenRequestBytes = 64 << 10

// tokenRequestKind names a TokenRequest in its errors, as kube-apiserver
// does ("TokenRequest.authentication.k8s.io \"x\" is invalid").
const tokenRequestKind = "TokenRequest.authentication.k8s.io"

// serveTokenRequest serves the serviceaccounts/token subresource
// (authentication.k8s.io/v1 TokenRequest): `kubectl create token SA`, and
// any client that wants a ServiceAccount's token, as kube-apiserver's
// TokenREST does: audiences (the API's when none), expirationSeconds (an
// hour when 0; at least 10 minutes; cut to the maximum), and a boundObjectRef
// to a Pod running as the ServiceAccount, whose deletion ends the token.
func (s *Server) serveTokenRequest(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ServiceAccountTokens == nil {
		WriteError(w, api.NewStatus(http.StatusNotFound, api.StatusReasonNotFound, "this server issues no service account tokens"))
		return
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	var req authenticationv1.TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		WriteError(w, api.NewBadRequest(fmt.Sprintf("decode TokenRequest: %v", err)))
		return
	}
	if req.Spec.ExpirationSeconds == nil {
		exp := int64(auth.DefaultServiceAccountTokenExpiration / time.Second)
		req.Spec.ExpirationSeconds = &exp
	}
	expiration := *req.Spec.ExpirationSeconds
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if min := int64(auth.MinServiceAccountTokenExpiration / time.Second); expiration < min {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), expiration, "may not specify a duration less than 10 minutes"))
	}
	if expiration > 1<<32 {
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), expiration, "may not specify a duration larger than 2^32 seconds"))
	}
	st := s.b.State()
	sa, ok := st.ServiceAccount(ns, name)
	if !ok {
		WriteError(w, api.NewNotFound("serviceaccounts", name))
		return
	}
	var pod *api.Pod
	if ref := req.Spec.BoundObjectRef; ref != nil {
		refPath := spec.Child("boundObjectRef")
		switch {
		case ref.Kind != "Pod":
			errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Pod"}))
		case ref.APIVersion != "" && ref.APIVersion != "v1":
			errs = append(errs, field.Invalid(refPath.Child("apiVersion"), ref.APIVersion, "must be v1 for a Pod"))
		default:
			p, ok := st.Pod(ns, ref.Name)
			if !ok {
				WriteError(w, api.NewNotFound("pods", ref.Name))
				return
			}
			if ref.UID != "" && ref.UID != p.UID {
				WriteError(w, api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
					fmt.Sprintf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID)))
				return
			}
			if p.Spec.ServiceAccountName != name {
				WriteError(w, api.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name)))
				return
			}
			pod = p
		}
	}
	if len(errs) > 0 {
		WriteError(w, api.NewInvalid(tokenRequestKind, name, errs))
		return
	}
	token, expires, err := s.cfg.ServiceAccountTokens.Issue(auth.TokenRequest{
		ServiceAccount: sa, Pod: pod, Audiences: req.Spec.Audiences,
		Expiration: time.Duration(expiration) * time.Second,
	})
	if err != nil {
		WriteError(w, api.NewBadRequest(err.Error()))
		return
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = s.cfg.ServiceAccountTokens.APIAudiences()
	}
	// The lifetime issued, which the maximum may have cut, as
	// kube-apiserver reports it.
	issued := min(expiration, int64(auth.MaxServiceAccountTokenExpiration/time.Second))
	req.Spec.ExpirationSeconds = &issued
	out := authenticationv1.TokenRequest{
		TypeMeta:   metav1.TypeMeta{Kind: "TokenRequest", APIVersion: "authentication.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.Now()},
		Spec:       req.Spec,
		Status:     authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(expires)},
	}
	WriteJSON(w, http.StatusCreated, out)
}
