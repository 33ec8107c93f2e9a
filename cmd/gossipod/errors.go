package main

import (
	"errors"
	"fmt"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// serverError is a Status the server returned, printed as kubectl prints
// it: `Error from server (NotFound): pods "x" not found`. Context, when set,
// says what was being done, as in `error when creating "pod.yaml": `.
type serverError struct {
	status  *api.Status
	context string
}

func (e serverError) Error() string {
	if e.status.Reason == "" {
		return "Error from server: " + e.context + e.status.Message
	}
	return fmt.Sprintf("Error from server (%s): %s%s", e.status.Reason, e.context, e.status.Message)
}

func (e serverError) Unwrap() error { return e.status }

// createError is a create subcommand's failure to create, printed as
// kubectl's create prints it: "error: failed to create configmap: " and
// the server's message (`configmaps "x" already exists`), not "Error from
// server (…)". It unwraps to the Status, for errors.As.
type createError struct {
	prefix string
	err    error
}

func (e createError) Error() string { return e.prefix + e.err.Error() }
func (e createError) Unwrap() error { return e.err }

// reportedError says that a command already printed its failures one by
// one (apply and delete go on after a failed object, as kubectl does);
// main prints nothing more and exits 1.
type reportedError struct{ failed int }

func (e reportedError) Error() string { return fmt.Sprintf("%d object(s) failed", e.failed) }

// errorMessage is what main prints for a command's error: kubectl's
// "Error from server (…)" for a server's Status, nothing for failures
// already reported, "error: …" otherwise.
func errorMessage(err error) string {
	if err == nil {
		return ""
	}
	var r reportedError
	if errors.As(err, &r) {
		return ""
	}
	var ae *client.AuthError
	if errors.As(err, &ae) {
		return unauthorizedMessage(ae)
	}
	var ce createError
	if errors.As(err, &ce) {
		return "error: " + ce.Error()
	}
	var se serverError
	if errors.As(err, &se) {
		return se.Error()
	}
	var s *api.Status
	if errors.As(err, &s) {
		return serverError{status: s}.Error()
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.Error() // kubectl prints it bare
	}
	return "error: " + err.Error()
}

// unauthorizedMessage is kubectl's line for a 401, "error: You must be
// logged in to the server (Unauthorized)", and on a second line what to do
// about it: get a kubeconfig, or a fresh one.
func unauthorizedMessage(e *client.AuthError) string {
	msg := e.Status.Message
	if msg == "" {
		msg = "Unauthorized"
	}
	return fmt.Sprintf("error: You must be logged in to the server (%s)\n%s", msg, e.Hint())
}

// isNotFound reports whether err is the server's 404.
func isNotFound(err error) bool {
	var s *api.Status
	return errors.As(err, &s) && (s.Reason == api.StatusReasonNotFound || s.Code == 404)
}

// hasReason reports whether err is a Status with that reason.
func hasReason(err error, reason api.StatusReason) bool {
	var s *api.Status
	return errors.As(err, &s) && s.Reason == reason
}
