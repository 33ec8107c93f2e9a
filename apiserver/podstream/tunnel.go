package podstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	cripf "k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// tunnelPrefix marks a WebSocket subprotocol that carries an SPDY
// connection in binary messages: SPDY/3.1+portforward.k8s.io.
const tunnelPrefix = "SPDY/3.1+"

// serveTunnel serves port forwarding over SPDY tunnelled in a WebSocket,
// which kubectl ≥ 1.30 asks for first. kube-apiserver does it by proxying
// an SPDY request to kubelet and upgrading the client's connection to a
// WebSocket when kubelet answers 101; here kubelet's SPDY server runs in
// process, on a request rewritten to an SPDY upgrade and a ResponseWriter
// whose Hijack upgrades the client to the WebSocket and hands the server
// the tunnel as its connection.
func serveTunnel(w http.ResponseWriter, r *http.Request, fw forwarder) {
	var spdyProtocols []string
	for _, p := range gwebsocket.Subprotocols(r) {
		if rest, ok := strings.CutPrefix(p, tunnelPrefix); ok && strings.HasSuffix(rest, ".k8s.io") {
			spdyProtocols = append(spdyProtocols, rest)
		}
	}
	sr := r.Clone(r.Context())
	sr.Method = http.MethodPost
	sr.Body = http.NoBody
	for _, h := range []string{"Sec-Websocket-Protocol", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", httpstream.HeaderProtocolVersion} {
		sr.Header.Del(h)
	}
	sr.Header.Set(httpstream.HeaderUpgrade, spdy.HeaderSpdy31)
	sr.Header.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	for _, p := range spdyProtocols {
		sr.Header.Add(httpstream.HeaderProtocolVersion, p)
	}
	tw := &tunnelWriter{w: w, r: r, header: http.Header{}}
	cripf.ServePortForward(tw, sr, fw, fw.t.Name, fw.t.UID, nil, IdleTimeout, StreamCreationTimeout, portForwardProtocols)
}

// tunnelWriter is the ResponseWriter kubelet's SPDY server answers to.
// Errors before the upgrade (a protocol it cannot negotiate) go to the
// client as they are; the 101 is not written, since the WebSocket upgrade
// in Hijack is the client's 101.
type tunnelWriter struct {
	w      http.ResponseWriter
	r      *http.Request
	header http.Header

	mu       sync.Mutex
	upgrade  bool // WriteHeader(101) was called
	written  bool // a response (an error) was started on w
	hijacked bool
}

// Header is the response's header; the SPDY server sets the negotiated
// protocol in it.
func (t *tunnelWriter) Header() http.Header { return t.header }

// WriteHeader passes an error status through and notes a 101.
func (t *tunnelWriter) WriteHeader(code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.written || t.hijacked {
		return
	}
	if code == http.StatusSwitchingProtocols {
		t.upgrade = true
		return
	}
	t.written = true
	for k, v := range t.header {
		t.w.Header()[k] = v
	}
	t.w.WriteHeader(code)
}

// Write writes an error body.
func (t *tunnelWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	if !t.written && !t.upgrade && !t.hijacked {
		t.mu.Unlock()
		t.WriteHeader(http.StatusOK)
		t.mu.Lock()
	}
	defer t.mu.Unlock()
	if t.hijacked || t.upgrade {
		return 0, http.ErrHijacked
	}
	return t.w.Write(p)
}

// Hijack upgrades the client's connection to a WebSocket with the
// tunnelling subprotocol of the SPDY protocol the server chose, and
// returns the tunnel as the connection.
func (t *tunnelWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.written || t.hijacked || !t.upgrade {
		return nil, nil, errors.New("tunnel: hijack without an upgrade")
	}
	t.hijacked = true
	var protocols []string
	if p := strings.TrimSpace(t.header.Get(httpstream.HeaderProtocolVersion)); p != "" {
		protocols = []string{tunnelPrefix + p}
	}
	up := gwebsocket.Upgrader{
		Subprotocols: protocols,
		// Requests are authenticated by their credentials, never by
		// cookies, so a cross-origin page gains nothing.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(t.w, t.r, nil)
	if err != nil {
		slog.Debug("portforward: websocket upgrade failed", "err", err)
		return nil, nil, fmt.Errorf("tunnel: websocket upgrade: %w", err)
	}
	c := &tunnelConn{ws: ws}
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// tunnelConn is a net.Conn over a WebSocket: every Write is one binary
// message, and Read reads messages back to back, as client-go's
// TunnelingConnection does on the other side.
type tunnelConn struct {
	ws *gwebsocket.Conn

	rmu sync.Mutex // one reader at a time (gorilla's rule)
	cur io.Reader  // the message being read
	wmu sync.Mutex // one writer at a time (gorilla's rule)

	closeOnce sync.Once
}

func (c *tunnelConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.cur == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				var ce *gwebsocket.CloseError
				if errors.As(err, &ce) && ce.Code == gwebsocket.CloseNormalClosure {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != gwebsocket.BinaryMessage {
				return 0, fmt.Errorf("tunnel: unexpected websocket message type %d", typ)
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if errors.Is(err, io.EOF) {
			c.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(gwebsocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends a normal closure, then closes the connection.
func (c *tunnelConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		msg := gwebsocket.FormatCloseMessage(gwebsocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(gwebsocket.CloseMessage, msg, time.Now().Add(time.Second))
		err = c.ws.Close()
	})
	return err
}

func (c *tunnelConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *tunnelConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }
func (c *tunnelConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}
func (c *tunnelConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *tunnelConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
