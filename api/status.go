package api

import (
	"fmt"
	"net/http"
)

// StatusReason is the machine-readable reason of a failed request, with the
// values Kubernetes uses so that clients can branch on them.
type StatusReason string

// The reasons gossipod returns.
const (
	StatusReasonNotFound           StatusReason = "NotFound"
	StatusReasonAlreadyExists      StatusReason = "AlreadyExists"
	StatusReasonConflict           StatusReason = "Conflict"
	StatusReasonInvalid            StatusReason = "Invalid"
	StatusReasonBadRequest         StatusReason = "BadRequest"
	StatusReasonMethodNotAllowed   StatusReason = "MethodNotAllowed"
	StatusReasonServiceUnavailable StatusReason = "ServiceUnavailable"
	StatusReasonTimeout            StatusReason = "Timeout"
	StatusReasonInternalError      StatusReason = "InternalError"
	// StatusReasonTooManyRequests: the client holds as many of something
	// (watches) as it may; it can retry after Details.RetryAfterSeconds.
	StatusReasonTooManyRequests StatusReason = "TooManyRequests"
	// StatusReasonRequestEntityTooLarge: the body is larger than the
	// endpoint accepts.
	StatusReasonRequestEntityTooLarge StatusReason = "RequestEntityTooLarge"
)

// Status is the Kubernetes error object: every failed API request returns one,
// with the HTTP status in Code.
type Status struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`
	// Status is "Success" or "Failure".
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Reason  StatusReason   `json:"reason,omitempty"`
	Details *StatusDetails `json:"details,omitempty"`
	Code    int            `json:"code"`
}

// StatusDetails names the object a Status is about.
type StatusDetails struct {
	Name   string        `json:"name,omitempty"`
	Group  string        `json:"group,omitempty"`
	Kind   string        `json:"kind,omitempty"`
	Causes []StatusCause `json:"causes,omitempty"`
	// RetryAfterSeconds, when set, is how long the client should wait
	// before trying again (a 429).
	RetryAfterSeconds int32 `json:"retryAfterSeconds,omitempty"`
}

// StatusCause is one field-level problem of an Invalid request.
type StatusCause struct {
	Type    string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// Error makes *Status an error, so handlers can return it and clients can
// errors.As it back out of a response.
func (s *Status) Error() string { return s.Message }

// NewStatus builds a Failure Status.
func NewStatus(code int, reason StatusReason, message string) *Status {
	return &Status{
		TypeMeta: TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   "Failure",
		Message:  message,
		Reason:   reason,
		Code:     code,
	}
}

// NewNotFound is the 404 for a missing object, worded as Kubernetes words it:
// `nodes "node-9" not found`.
func NewNotFound(resource, name string) *Status {
	s := NewStatus(http.StatusNotFound, StatusReasonNotFound, fmt.Sprintf("%s %q not found", resource, name))
	s.Details = &StatusDetails{Name: name, Kind: resource}
	return s
}

// NewBadRequest is the 400 for a request the server cannot parse.
func NewBadRequest(message string) *Status {
	return NewStatus(http.StatusBadRequest, StatusReasonBadRequest, message)
}

// NewServiceUnavailable is the 503 for a cluster that cannot take the request
// now (no leader yet, leader unreachable).
func NewServiceUnavailable(message string) *Status {
	return NewStatus(http.StatusServiceUnavailable, StatusReasonServiceUnavailable, message)
}

// NewTooManyRequests is the 429 for a client over a per-client limit, as
// kube-apiserver answers when it sheds load: the message says which limit,
// and retryAfterSeconds when to try again.
func NewTooManyRequests(message string, retryAfterSeconds int32) *Status {
	s := NewStatus(http.StatusTooManyRequests, StatusReasonTooManyRequests, message)
	s.Details = &StatusDetails{RetryAfterSeconds: retryAfterSeconds}
	return s
}

// NewRequestEntityTooLarge is the 413 for a body over its endpoint's bound.
func NewRequestEntityTooLarge(message string) *Status {
	return NewStatus(http.StatusRequestEntityTooLarge, StatusReasonRequestEntityTooLarge, message)
}

// CauseResourceVersionTooLarge is the cause of a NewTooLargeResourceVersion
// Status, the value client-go's reflector looks for.
const CauseResourceVersionTooLarge = "ResourceVersionTooLarge"

// NewTooLargeResourceVersion is the 504 for a read that asked for state at
// least as new as resourceVersion rv from a server that has only reached
// current, in kube-apiserver's words and with its cause and retry hint.
func NewTooLargeResourceVersion(rv, current uint64) *Status {
	s := NewStatus(http.StatusGatewayTimeout, StatusReasonTimeout,
		fmt.Sprintf("Too large resource version: %d, current: %d", rv, current))
	s.Details = &StatusDetails{
		Causes:            []StatusCause{{Type: CauseResourceVersionTooLarge, Message: "Too large resource version"}},
		RetryAfterSeconds: 1,
	}
	return s
}

// NewInternalError is the 500 for a failure on the server's side.
func NewInternalError(err error) *Status {
	return NewStatus(http.StatusInternalServerError, StatusReasonInternalError, fmt.Sprintf("Internal error occurred: %v", err))
}

// The reasons of refused requests (authentication and authorization).
const (
	StatusReasonUnauthorized StatusReason = "Unauthorized"
	StatusReasonForbidden    StatusReason = "Forbidden"
)

// NewUnauthorized is the 401 for a request without valid credentials, in
// the words kube-apiserver uses: the message is just "Unauthorized", so
// the answer tells a caller nothing about which tokens exist.
func NewUnauthorized() *Status {
	return NewStatus(http.StatusUnauthorized, StatusReasonUnauthorized, "Unauthorized")
}

// NewForbidden is the 403 for an authenticated caller whose role does not
// allow the request, built as apierrors.NewForbidden builds it: `pods "web"
// is forbidden: <why>`, `pods is forbidden: <why>` without a name, and
// `forbidden: <why>` for a path that is not a resource. group is the
// resource's API group ("" for core, "apps").
func NewForbidden(group, resource, name, why string) *Status {
	qualified := resource
	if group != "" && resource != "" {
		qualified = resource + "." + group
	}
	var msg string
	switch {
	case resource == "":
		msg = "forbidden: " + why
	case name == "":
		msg = fmt.Sprintf("%s is forbidden: %s", qualified, why)
	default:
		msg = fmt.Sprintf("%s %q is forbidden: %s", qualified, name, why)
	}
	s := NewStatus(http.StatusForbidden, StatusReasonForbidden, msg)
	s.Details = &StatusDetails{Group: group, Kind: resource, Name: name}
	return s
}
