package podstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime"
)

// Runtime is what the handlers need of the node's container runtime
// (runtime.Runtime). Its methods must be safe for concurrent use and end
// when ctx does.
type Runtime interface {
	// Exec runs cmd in a running container and returns its exit code.
	Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio runtime.ExecIO) (int, error)
	// Attach streams what a running container writes (stdout and stderr
	// merged) until it exits or ctx ends.
	Attach(ctx context.Context, namespace, name, container string, out io.Writer) error
	// DialPod connects to port on 127.0.0.1 inside the pod's network
	// namespace.
	DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error)
}

// Target is the pod (and container) a request is for, resolved by the
// caller from the URL and the replicated state: the container is already
// defaulted and checked against the pod's spec.
type Target struct {
	Namespace string
	Name      string
	UID       string
	// Container is empty for port forwarding.
	Container string
}

// Timeouts of an upgraded connection, kubelet's defaults.
const (
	// IdleTimeout closes a streaming connection on which nothing was
	// sent either way for this long (kubelet's
	// --streaming-connection-idle-timeout).
	IdleTimeout = 4 * time.Hour
	// StreamCreationTimeout bounds how long a client may take to open
	// the streams it announced after the upgrade.
	StreamCreationTimeout = crirc.DefaultStreamCreationTimeout
)

// StreamOptions are the streams a client asks for, from the query of an
// exec or attach request (stdin, stdout, stderr, tty), as
// PodExecOptions and PodAttachOptions carry them.
type StreamOptions struct {
	Stdin, Stdout, Stderr, TTY bool
}

// ParseStreamOptions reads the stream parameters of an exec or attach
// request. A terminal merges stderr into stdout, so stderr is dropped with
// tty, as kubelet does; asking for no stream at all is Kubernetes'
// BadRequest.
func ParseStreamOptions(r *http.Request) (StreamOptions, error) {
	q := r.URL.Query()
	o := StreamOptions{Stdin: isTrue(q["stdin"]), Stdout: isTrue(q["stdout"]), Stderr: isTrue(q["stderr"]), TTY: isTrue(q["tty"])}
	if o.TTY {
		o.Stderr = false
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return o, api.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// isTrue reads a boolean query parameter as Kubernetes' query decoding
// does: present and not "", "0" or "false".
func isTrue(v []string) bool {
	return len(v) > 0 && v[0] != "" && v[0] != "0" && !strings.EqualFold(v[0], "false")
}

// IsUpgrade reports whether r asks for one of the connection upgrades
// this package serves (SPDY or WebSocket); anything else is answered 400,
// as kube-apiserver answers "Upgrade request required".
func IsUpgrade(r *http.Request) bool {
	return httpstream.IsUpgradeRequest(r)
}

// errUpgradeRequired is kube-apiserver's answer to a plain request.
var errUpgradeRequired = api.NewBadRequest("Upgrade request required")

// ServeExec serves pods/exec for t: SPDY v1–v4 and the WebSocket channel
// protocols through kubelet's server, v5.channel.k8s.io here. The exit
// code travels as a NonZeroExitCode Status with an ExitCode cause, which
// kubectl prints as "command terminated with exit code N". A client that
// goes away kills the command.
func ServeExec(w http.ResponseWriter, r *http.Request, rt Runtime, t Target, cmd []string) {
	if len(cmd) == 0 {
		writeStatus(w, api.NewBadRequest("you must specify at least one command for the container"))
		return
	}
	opts, err := ParseStreamOptions(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if !IsUpgrade(r) {
		writeStatus(w, errUpgradeRequired)
		return
	}
	w, r, stop := cancelOnHangup(w, r)
	defer stop()
	run := execRunner{rt: rt, t: t}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveV5(w, r, opts, func(ctx context.Context, s streams) error {
			return run.ExecInContainer(ctx, t.Name, t.UID, t.Container, cmd, s.stdin, s.stdout, s.stderr, s.tty, s.resize, 0)
		})
		return
	}
	crirc.ServeExec(w, r, run, t.Name, t.UID, t.Container, cmd, criOptions(opts), IdleTimeout, StreamCreationTimeout, crirc.SupportedStreamingProtocols)
}

// ServeAttach serves pods/attach for t. What the container writes from
// now on reaches the client's stdout; gossipod keeps no container's stdin
// open, so stdin and tty are refused before the upgrade with a message
// that says so (see runtime.Runtime.Attach).
func ServeAttach(w http.ResponseWriter, r *http.Request, rt Runtime, t Target) {
	opts, err := ParseStreamOptions(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if opts.Stdin || opts.TTY {
		writeStatus(w, api.NewBadRequest(fmt.Sprintf(
			"cannot attach to the stdin or terminal of container %s in pod %s: gossipod does not keep a container's stdin open "+
				"(stdin and tty are unsupported fields of a pod); attach without -i and -t to see its output, or use exec",
			t.Container, t.Name)))
		return
	}
	if !IsUpgrade(r) {
		writeStatus(w, errUpgradeRequired)
		return
	}
	w, r, stop := cancelOnHangup(w, r)
	defer stop()
	run := execRunner{rt: rt, t: t}
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(r) {
		serveV5(w, r, opts, func(ctx context.Context, s streams) error {
			return run.AttachContainer(ctx, t.Name, t.UID, t.Container, s.stdin, s.stdout, s.stderr, s.tty, s.resize)
		})
		return
	}
	crirc.ServeAttach(w, r, run, t.Name, t.UID, t.Container, criOptions(opts), IdleTimeout, StreamCreationTimeout, crirc.SupportedStreamingProtocols)
}

func criOptions(o StreamOptions) *crirc.Options {
	return &crirc.Options{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY}
}

// ParsePorts reads the ports parameter of a portforward request
// (?ports=8080,9090 or repeated), each 1–65535. It may be empty: SPDY
// clients name the port on each stream instead.
func ParsePorts(r *http.Request) ([]int32, error) {
	var ports []int32
	for _, v := range r.URL.Query()["ports"] {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			p, err := strconv.ParseUint(s, 10, 16)
			if err != nil || p == 0 {
				return nil, api.NewBadRequest(fmt.Sprintf("invalid port %q: must be between 1 and 65535", s))
			}
			ports = append(ports, int32(p))
		}
	}
	return ports, nil
}

// writeStatus writes err as a Kubernetes Status, for errors before an
// upgrade; an error that is not one is a 500.
func writeStatus(w http.ResponseWriter, err error) {
	var st *api.Status
	if !errors.As(err, &st) {
		st = api.NewInternalError(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.Code)
	_ = json.NewEncoder(w).Encode(st)
}
