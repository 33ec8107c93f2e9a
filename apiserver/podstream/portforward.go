package podstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	cripf "k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/gossipod/gossipod/api"
)

// portForwardProtocols are the SPDY subprotocols of port forwarding;
// kubelet and kubectl know one.
var portForwardProtocols = []string{cripf.ProtocolV1Name}

// ServePortForward serves pods/portforward for t: SPDY (kubectl < 1.30
// and the fallback), SPDY tunnelled in WebSocket (kubectl ≥ 1.30), and
// the older WebSocket port-forward channels, which need ?ports=. Each
// forwarded connection is a TCP connection to 127.0.0.1:port made inside
// the pod's network namespace. The session ends when the client closes
// it, or after IdleTimeout without traffic.
func ServePortForward(w http.ResponseWriter, r *http.Request, rt Runtime, t Target) {
	ports, err := ParsePorts(r)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if !IsUpgrade(r) {
		writeStatus(w, errUpgradeRequired)
		return
	}
	// kubelet's server calls PortForward with a background context; this
	// one ends when the session does, and closes what is still open.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	fw := forwarder{ctx: ctx, rt: rt, t: t}
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		serveTunnel(w, r, fw)
		return
	}
	var v4 *cripf.V4Options
	if wsstream.IsWebSocketRequest(r) {
		// The older WebSocket protocol opens its channels for the ports
		// named up front.
		if len(ports) == 0 {
			writeStatus(w, api.NewBadRequest("port-forward over a WebSocket needs the ports to forward: ?ports=PORT[,PORT...]"))
			return
		}
		v4 = &cripf.V4Options{Ports: ports}
	}
	cripf.ServePortForward(w, r, fw, t.Name, t.UID, v4, IdleTimeout, StreamCreationTimeout, portForwardProtocols)
}

// forwarder presents a Runtime to kubelet's port-forward server.
type forwarder struct {
	ctx context.Context
	rt  Runtime
	t   Target
}

var _ cripf.PortForwarder = forwarder{}

// PortForward implements cripf.PortForwarder: it copies between stream and
// a new connection to port in the pod. The client ending its side
// half-closes the pod connection, so a server that answers after reading
// everything (an HTTP/1.0 server, nc) still can; the pod ending its side
// ends the forwarded connection, and kubelet's server then closes the
// stream. The copy towards the pod ends when the client closes its stream
// or the session ends, whichever is first.
func (f forwarder) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopWithSession := context.AfterFunc(f.ctx, cancel)
	defer stopWithSession()
	conn, err := f.rt.DialPod(ctx, f.t.Namespace, f.t.Name, port)
	if err != nil {
		return err
	}
	defer conn.Close()
	stopOnCancel := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopOnCancel()

	go func() {
		_, _ = io.Copy(conn, stream)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	if errors.Is(err, net.ErrClosed) && ctx.Err() != nil {
		return nil // the session ended: nothing to report to anyone
	}
	return err
}
