package podstream

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// cancelOnHangup returns w and r such that r's context ends when the
// client's connection, once hijacked for the upgrade, fails to read (the
// client went away or the connection was closed), and stop, which ends it
// too and must be called when the handler returns.
//
// A hijacked connection's request context is not cancelled when the client
// disconnects: net/http no longer watches the connection. Without this an
// exec'd command would outlive a kubectl that was killed, with nobody to
// read its output. Reads are the signal because the SPDY and WebSocket
// servers read the connection for as long as it lives.
//
// An SPDY client closing its session does not close the connection: it
// resets its streams and waits for the server's to end. That is seen when
// the command next writes output (see failWriter), as kubelet would never
// see it at all.
func cancelOnHangup(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	return &hangupWriter{ResponseWriter: w, cancel: cancel}, r.WithContext(ctx), cancel
}

// hangupWriter is a ResponseWriter whose hijacked connection cancels a
// context on its first failed read. It does not offer Unwrap on purpose:
// kubelet's server unwraps writers to find the hijacker, and must find
// this one.
type hangupWriter struct {
	http.ResponseWriter
	cancel context.CancelFunc
}

// Hijack hijacks the underlying connection and returns it with a reader
// that reports read errors. Bytes net/http had already buffered are read
// first, through the same reader.
func (h *hangupWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	c := &hangupConn{Conn: conn, src: brw.Reader, cancel: h.cancel}
	return c, bufio.NewReadWriter(bufio.NewReader(c), brw.Writer), nil
}

// hangupConn reads through src (net/http's buffered reader of the
// connection) and cancels on the first read error.
type hangupConn struct {
	net.Conn
	src    *bufio.Reader
	cancel context.CancelFunc
	mu     sync.Mutex // serialises reads of src, which is not safe for concurrent use
}

func (c *hangupConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	n, err := c.src.Read(p)
	c.mu.Unlock()
	if err != nil {
		c.cancel()
	}
	return n, err
}
