package client

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/gossipod/gossipod/api"
)

// getKubeconfig is the advice every "you have no or the wrong kubeconfig"
// error ends with.
const getKubeconfig = "run `gossipod kubeconfig > ~/.kube/config` where the cluster token is, or name one with --kubeconfig or KUBECONFIG"

// AuthError is the agent's 401 Unauthorized: it did not accept who the
// client said it was, or the client said nothing. It unwraps to the
// agent's *api.Status, so errors.As finds that too; Hint says what to do,
// which differs between "no credentials" and "refused credentials".
type AuthError struct {
	Status *api.Status
	// Server is the agent that refused.
	Server string
	// Source is the kubeconfig the credentials came from ("" for none).
	Source string
	// SentCredentials is whether the client sent a token or certificate.
	SentCredentials bool
}

func (e *AuthError) Error() string { return e.Status.Error() + ": " + e.Hint() }

// Unwrap returns the agent's Status.
func (e *AuthError) Unwrap() error { return e.Status }

// Hint tells the user how to get credentials the agent accepts.
func (e *AuthError) Hint() string {
	switch {
	case e.SentCredentials:
		return fmt.Sprintf("the agent at %s refused the credentials of %s (revoked, expired, or of another cluster); get fresh ones: %s",
			e.Server, e.Source, getKubeconfig)
	case e.Source != "":
		return fmt.Sprintf("%s has no credentials (token or client certificate) for its user; %s", e.Source, getKubeconfig)
	default:
		return "no credentials were sent: no kubeconfig was found (--kubeconfig, KUBECONFIG, ~/.kube/config); " + getKubeconfig
	}
}

// readStatus turns an error response into an *api.Status, or an *AuthError
// for a 401.
func (c *Client) readStatus(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var s api.Status
	st := &s
	if err := json.Unmarshal(body, &s); err != nil || s.Kind != "Status" {
		st = api.NewStatus(resp.StatusCode, api.StatusReasonInternalError,
			fmt.Sprintf("the server responded %s: %s", resp.Status, strings.TrimSpace(string(body))))
		if resp.StatusCode == http.StatusUnauthorized {
			st.Reason, st.Message = "Unauthorized", "Unauthorized"
		}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return &AuthError{Status: st, Server: c.base, Source: c.source, SentCredentials: c.hasCredentials}
	}
	return st
}

// reachError explains a failed round trip. A certificate the kubeconfig's
// CA did not sign, or one for another name, is not "cannot reach": it gets
// its own message, saying which setting to fix. The cause stays wrapped
// (errors.As finds x509.UnknownAuthorityError and the like).
func (c *Client) reachError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	switch {
	case errors.As(err, &unknown) && c.source == "":
		return fmt.Errorf("the agent at %s presented a certificate of an authority this client does not trust, and no kubeconfig names the cluster's CA; %s: %w",
			c.base, getKubeconfig, err)
	case errors.As(err, &unknown):
		return fmt.Errorf("the agent at %s presented a certificate not signed by the certificate-authority of %s: the kubeconfig's CA does not match the cluster (a kubeconfig of another cluster?); %s: %w",
			c.base, c.source, getKubeconfig, err)
	case errors.As(err, &hostname):
		return fmt.Errorf("the certificate of the agent at %s is not valid for that address; use an address it names, or set tls-server-name in the kubeconfig: %w",
			c.base, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("the certificate of the agent at %s is not valid: %w", c.base, err)
	case errors.As(err, &op) && op.Op == "dial" && c.source != "":
		return fmt.Errorf("cannot reach the gossipod agent at %s, the server of %s: %w (is it running? --addr or GOSSIPOD_ADDR picks another agent)", c.base, c.source, err)
	case errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("cannot reach the gossipod agent at %s: %w (is it running? set --addr or GOSSIPOD_ADDR)", c.base, err)
	}
	return fmt.Errorf("request to the gossipod agent at %s failed: %w", c.base, err)
}
