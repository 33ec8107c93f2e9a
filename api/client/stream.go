package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// ExecProtocol is the Upgrade token of the exec stream. After the server
// answers 101 Switching Protocols, both sides exchange frames on the raw
// connection: a type byte, a 4-byte big-endian length, the payload.
// Kubernetes multiplexes the same streams over SPDY or WebSockets; one
// framed TCP stream is the smallest thing that carries stdin, stdout,
// stderr and the exit code, and it passes through any agent acting as a
// reverse proxy, since Go's proxy forwards upgraded connections.
const ExecProtocol = "gossipod-exec/1"

// Frame types of the exec stream.
const (
	FrameStdin      byte = 0 // client → server: input
	FrameStdinClose byte = 1 // client → server: end of input
	FrameStdout     byte = 2 // server → client
	FrameStderr     byte = 3 // server → client
	FrameExit       byte = 4 // server → client: 4-byte big-endian exit code; last frame
	FrameError      byte = 5 // server → client: an error message; last frame
)

// maxFrame bounds one frame's payload.
const maxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("exec stream frame of %d bytes exceeds %d", n, maxFrame)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return hdr[0], buf, nil
}

// FrameWriter is an io.Writer that sends every write as one frame of a
// type; it is safe for concurrent use with other FrameWriters sharing mu.
type FrameWriter struct {
	W   io.Writer
	Typ byte
	Mu  *sync.Mutex
}

// Write sends p as frames of at most maxFrame bytes.
func (f FrameWriter) Write(p []byte) (int, error) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxFrame)
		if err := WriteFrame(f.W, f.Typ, p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// ExecOptions says what to run in which container.
type ExecOptions struct {
	Container string
	Command   []string
	Stdin     io.Reader // nil: no input
	Stdout    io.Writer
	Stderr    io.Writer
	TTY       bool
}

// Exec runs a command in a running container of a pod, through any agent,
// and returns its exit code.
func (c *Client) Exec(ctx context.Context, namespace, name string, opts ExecOptions) (int, error) {
	q := url.Values{}
	q.Set("container", opts.Container)
	for _, arg := range opts.Command {
		q.Add("command", arg)
	}
	q.Set("stdin", strconv.FormatBool(opts.Stdin != nil))
	q.Set("tty", strconv.FormatBool(opts.TTY))
	u, err := url.Parse(c.base + podPath(namespace, name) + "/exec?" + q.Encode())
	if err != nil {
		return -1, err
	}
	conn, err := c.dialUpgrade(ctx, u)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req, err := http.NewRequest(http.MethodPost, u.String(), nil)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", ExecProtocol)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if err := req.Write(conn); err != nil {
		return -1, fmt.Errorf("send exec request: %w", c.reachError(err))
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return -1, fmt.Errorf("read exec response: %w", c.reachError(err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		return -1, c.readStatus(resp)
	}
	if opts.Stdin != nil {
		go func() {
			var mu sync.Mutex
			_, _ = io.Copy(FrameWriter{W: conn, Typ: FrameStdin, Mu: &mu}, opts.Stdin)
			mu.Lock()
			_ = WriteFrame(conn, FrameStdinClose, nil)
			mu.Unlock()
		}()
	}
	for {
		typ, payload, err := ReadFrame(br)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			return -1, fmt.Errorf("exec stream ended without an exit code: %w", err)
		}
		switch typ {
		case FrameStdout:
			if opts.Stdout != nil {
				_, _ = opts.Stdout.Write(payload)
			}
		case FrameStderr:
			if opts.Stderr != nil {
				_, _ = opts.Stderr.Write(payload)
			}
		case FrameExit:
			if len(payload) != 4 {
				return -1, errors.New("malformed exit frame")
			}
			return int(int32(binary.BigEndian.Uint32(payload))), nil
		case FrameError:
			return -1, errors.New(string(payload))
		}
	}
}

// dialUpgrade opens the connection an upgraded stream (exec) runs on: TCP
// to the agent, and over it TLS with the client's CA, certificate and
// server name when the agent is https. HTTP/1.1 is the only protocol
// offered, since HTTP/2 has no Upgrade.
func (c *Client) dialUpgrade(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var conn net.Conn
	var err error
	if u.Scheme == "https" {
		tc := c.tls.Clone()
		tc.NextProtos = []string{"http/1.1"}
		d := tls.Dialer{Config: tc}
		conn, err = d.DialContext(ctx, "tcp", host)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, c.reachError(err)
	}
	return conn, nil
}

// LogOptions selects what `logs` prints.
type LogOptions struct {
	Container string
	Follow    bool
	TailLines int64 // < 0: all
	Previous  bool
}

// Logs copies a container's log to w, following it if asked until ctx ends
// or the container stops.
func (c *Client) Logs(ctx context.Context, namespace, name string, opts LogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.TailLines >= 0 {
		q.Set("tailLines", strconv.FormatInt(opts.TailLines, 10))
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+podPath(namespace, name)+"/log?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return c.reachError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.readStatus(resp)
	}
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
