package runtime

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// This file holds the probe handlers, kubelet's pkg/probe/{exec,http,tcp}
// (grpc is in probe_grpc.go):
// each runs one check of a container and says how it went in kubelet's
// terms and words, which the events repeat ("HTTP probe failed with
// statuscode: 500"). The workers that run them on a period are in
// probe_worker.go.

// probeOutcome is a handler's verdict, kubelet's probe.Result.
type probeOutcome int

const (
	// outcomeSuccess: the check passed.
	outcomeSuccess probeOutcome = iota
	// outcomeWarning: passed, with something to report (an HTTP redirect
	// to another host, not followed).
	outcomeWarning
	// outcomeFailure: the check failed; the output says how.
	outcomeFailure
	// outcomeUnknown: the check could not be run (the error says why).
	outcomeUnknown
)

// String is kubelet's name of the result, as its "probe errored" event
// quotes it.
func (o probeOutcome) String() string {
	switch o {
	case outcomeSuccess:
		return "success"
	case outcomeWarning:
		return "warning"
	case outcomeFailure:
		return "failure"
	}
	return "unknown"
}

// maxProbeOutput is how much of a command's output or a response body a
// probe keeps, kubelet's 10 KiB.
const maxProbeOutput = 10 << 10

// maxProbeRedirects is how many same-host redirects an httpGet probe
// follows, Go's and kubelet's 10.
const maxProbeRedirects = 10

// probeUserAgent is the User-Agent of httpGet probes, kubelet's
// kube-probe/<major>.<minor> for the Kubernetes release gossipod follows
// (k8s.io/api v0.37 is Kubernetes 1.37; a test checks go.mod agrees).
const probeUserAgent = "kube-probe/1.37"

// probeTarget is what the handlers need of one container instance.
type probeTarget struct {
	// sandbox runs exec probes and, for a pod without an address, dials
	// from inside the pod's network namespace.
	sandbox podSandbox
	// container is the container's spec (command, named ports).
	container *api.Container
	// podIP is the pod's address, "" without a pod network.
	podIP string
	// transport carries httpGet probes: no keep-alive, no proxy, no
	// compression, TLS without verification, as kubelet's.
	transport *http.Transport
}

func newProbeTarget(sb podSandbox, c *api.Container, podIP string) *probeTarget {
	t := &probeTarget{sandbox: sb, container: c, podIP: podIP}
	t.transport = &http.Transport{
		DialContext:        t.dial,
		DisableKeepAlives:  true,
		DisableCompression: true,
		// kubelet's: a probe checks that the server answers, not who it is.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	return t
}

// host is the address a network probe connects to: the probe's host, or
// the pod's IP as kubelet does. A pod without an address (no pod network,
// loopback only) is probed on its loopback, from inside its network
// namespace: the only place its servers can be reached.
func (t *probeTarget) host(explicit string) string {
	switch {
	case explicit != "":
		return explicit
	case t.podIP != "":
		return t.podIP
	}
	return "127.0.0.1"
}

// dial connects as kubelet's probe dialer does (SO_LINGER 1 s, so that
// probes leave no TIME_WAIT sockets behind), from the node; or from inside
// the pod's network namespace for a pod without an address.
func (t *probeTarget) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if t.podIP == "" && t.sandbox != nil {
		if h, _, err := net.SplitHostPort(address); err == nil && h == "127.0.0.1" {
			return t.sandbox.Dial(ctx, network, address)
		}
	}
	return probeDialer().DialContext(ctx, network, address)
}

// run runs the probe's handler once with its timeout: kubelet's runProbe.
func (t *probeTarget) run(ctx context.Context, p *api.Probe, timeout time.Duration) (probeOutcome, string, error) {
	switch {
	case p.Exec != nil:
		return t.exec(ctx, p.Exec.Command, timeout)
	case p.HTTPGet != nil:
		req, err := t.httpRequest(p.HTTPGet, probeUserAgent)
		if err != nil {
			return outcomeUnknown, "", err
		}
		return t.httpGet(ctx, req, timeout)
	case p.TCPSocket != nil:
		port, err := resolveContainerPort(p.TCPSocket.Port, t.container)
		if err != nil {
			return outcomeUnknown, "", err
		}
		return t.tcp(ctx, net.JoinHostPort(t.host(p.TCPSocket.Host), strconv.Itoa(port)), timeout)
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return t.grpc(ctx, int(p.GRPC.Port), service, timeout)
	}
	return outcomeUnknown, "", fmt.Errorf("missing probe handler for %s", t.container.Name)
}

// exec runs the command in the container, in its namespaces and cgroup,
// as kubelet's exec probe through the runtime's ExecSync: exit status 0
// is success, anything else failure with the command's output; past the
// timeout the command is killed and the probe fails with kubelet's
// `command "…" timed out`.
func (t *probeTarget) exec(ctx context.Context, cmd []string, timeout time.Duration) (probeOutcome, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &limitedBuffer{max: maxProbeOutput}
	code, err := t.sandbox.Exec(ctx, t.container.Name, cmd, ExecIO{Stdout: out, Stderr: out})
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return outcomeFailure, fmt.Sprintf("command %q timed out", strings.Join(cmd, " ")), nil
	case err != nil:
		return outcomeUnknown, "", err
	case code != 0:
		return outcomeFailure, out.String(), nil
	}
	return outcomeSuccess, out.String(), nil
}

// httpRequest builds the probe's request as kubelet's
// NewRequestForHTTPGetAction: scheme (lower-cased), host (the pod's IP by
// default), port by number or by the name of a container port, path, the
// headers, kubelet's User-Agent and Accept unless the probe sets them, and
// the Host header as the request's host. userAgent is kubelet's for the
// caller: kube-probe for probes, kube-lifecycle for hooks.
func (t *probeTarget) httpRequest(g *api.HTTPGetAction, userAgent string) (*http.Request, error) {
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	port, err := resolveContainerPort(g.Port, t.container)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(g.Path)
	if err != nil {
		u = &url.URL{Path: g.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(t.host(g.Host), strconv.Itoa(port))
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	headers := http.Header{}
	for _, h := range g.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", userAgent)
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// httpGet sends the request as kubelet's http prober: a status from 200 to
// 399 is success; redirects are followed to the same host only (up to 10),
// and one to another host ends the probe with a warning, a success; an
// error (refused, timed out) is a failure with its message.
func (t *probeTarget) httpGet(ctx context.Context, req *http.Request, timeout time.Duration) (probeOutcome, string, error) {
	client := &http.Client{Transport: t.transport, Timeout: timeout, CheckRedirect: sameHostRedirects}
	res, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return outcomeFailure, err.Error(), nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxProbeOutput))
	if err != nil {
		return outcomeFailure, "", err
	}
	body := string(b)
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			return outcomeWarning, "Probe terminated redirects, Response body: " + body, nil
		}
		return outcomeSuccess, body, nil
	}
	return outcomeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// sameHostRedirects is kubelet's RedirectChecker(false).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxProbeRedirects {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// tcp connects and closes, as kubelet's tcp prober: connecting is
// success, an error a failure with its message.
func (t *probeTarget) tcp(ctx context.Context, address string, timeout time.Duration) (probeOutcome, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := t.dial(ctx, "tcp", address)
	if err != nil {
		return outcomeFailure, err.Error(), nil
	}
	_ = conn.Close()
	return outcomeSuccess, "", nil
}

// resolveContainerPort is kubelet's probe.ResolveContainerPort: a number,
// or the name of one of the container's ports (or a number written as a
// string).
func resolveContainerPort(param intstr.IntOrString, c *api.Container) (int, error) {
	port := -1
	switch param.Type {
	case intstr.Int:
		port = param.IntValue()
	case intstr.String:
		found := false
		for _, p := range c.Ports {
			if p.Name == param.StrVal {
				port, found = int(p.ContainerPort), true
				break
			}
		}
		if !found {
			n, err := strconv.Atoi(param.StrVal)
			if err != nil {
				return -1, fmt.Errorf("port %s not found", param.StrVal)
			}
			port = n
		}
	default:
		return port, fmt.Errorf("intOrString had no kind: %+v", param)
	}
	if port > 0 && port < 65536 {
		return port, nil
	}
	return port, fmt.Errorf("invalid port number: %v", port)
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, as kubelet's LimitWriter; it is safe for the two writers (stdout
// and stderr) of an exec.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
