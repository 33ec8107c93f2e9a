package podstream

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/gossipod/gossipod/runtime"
)

// These tests drive the handlers with client-go's own executors and
// port-forward dialers — the code kubectl runs — over HTTPS with HTTP/2
// offered, as an agent serves them, against a fake runtime. The real
// containers are in realpod_linux_test.go.

// fakeRuntime runs a few built-in "commands" in process.
type fakeRuntime struct {
	echo net.Listener // what DialPod connects to, whatever the port

	mu     sync.Mutex
	dialed []int32
}

func (f *fakeRuntime) Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio runtime.ExecIO) (int, error) {
	out := stdio.Stdout
	if out == nil {
		out = io.Discard
	}
	switch cmd[0] {
	case "both": // both OUT ERR: one line to each stream
		fmt.Fprintln(out, cmd[1])
		if stdio.Stderr != nil {
			fmt.Fprintln(stdio.Stderr, cmd[2])
		}
		return 0, nil
	case "exit":
		n, _ := strconv.Atoi(cmd[1])
		return n, nil
	case "cat": // stdin to stdout, upper-cased, until EOF
		b, err := io.ReadAll(stdio.Stdin)
		if err != nil {
			return -1, err
		}
		_, _ = out.Write(bytes.ToUpper(b))
		return 0, nil
	case "whoami":
		fmt.Fprintf(out, "%s/%s/%s tty=%v\n", namespace, name, container, stdio.TTY)
		return 0, nil
	case "sizes": // print the first N terminal sizes received
		n, _ := strconv.Atoi(cmd[1])
		for range n {
			select {
			case s, ok := <-stdio.Resize:
				if !ok {
					return 2, nil
				}
				fmt.Fprintf(out, "%d %d\n", s.Height, s.Width)
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		}
		return 0, nil
	case "hang":
		<-ctx.Done()
		return -1, ctx.Err()
	}
	return -1, fmt.Errorf("%s: no such command", cmd[0])
}

func (f *fakeRuntime) Attach(ctx context.Context, namespace, name, container string, out io.Writer) error {
	fmt.Fprintf(out, "attached to %s\n", container)
	return nil
}

func (f *fakeRuntime) DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error) {
	f.mu.Lock()
	f.dialed = append(f.dialed, port)
	f.mu.Unlock()
	if port == 1 {
		return nil, errors.New("connection refused")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.echo.Addr().String())
}

// startEcho runs a TCP server that answers every line with "port-echo:
// LINE" and closes after the client's EOF.
func startEcho(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "port-echo: %s", b)
			}()
		}
	}()
	return ln
}

// server serves the three subresources for pod default/web (container
// app) over HTTPS with HTTP/2 enabled, and returns a client config for it.
func server(t *testing.T, rt Runtime) (*rest.Config, string) {
	t.Helper()
	target := Target{Namespace: "default", Name: "web", UID: "uid-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/exec", func(w http.ResponseWriter, r *http.Request) {
		tt := target
		tt.Container = r.URL.Query().Get("container")
		ServeExec(w, r, rt, tt, r.URL.Query()["command"])
	})
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/attach", func(w http.ResponseWriter, r *http.Request) {
		tt := target
		tt.Container = r.URL.Query().Get("container")
		ServeAttach(w, r, rt, tt)
	})
	mux.HandleFunc("/api/v1/namespaces/default/pods/web/portforward", func(w http.ResponseWriter, r *http.Request) {
		ServePortForward(w, r, rt, target)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, srv.URL
}

func podURL(t *testing.T, base, sub string, q url.Values) *url.URL {
	u, err := url.Parse(base + "/api/v1/namespaces/default/pods/web/" + sub + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func execQuery(container string, tty, stdin, stderr bool, cmd ...string) url.Values {
	q := url.Values{"command": cmd, "container": {container}, "stdout": {"true"}}
	if tty {
		q.Set("tty", "true")
	}
	if stdin {
		q.Set("stdin", "true")
	}
	if stderr {
		q.Set("stderr", "true")
	}
	return q
}

// executors are the ways kubectl can talk to exec: WebSocket v5 first
// (kubectl ≥ 1.30), SPDY v4 (the fallback), and the older protocols.
func executors(t *testing.T, cfg *rest.Config, u *url.URL) map[string]remotecommand.Executor {
	t.Helper()
	must := func(e remotecommand.Executor, err error) remotecommand.Executor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tr, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ws := must(remotecommand.NewWebSocketExecutor(cfg, "GET", u.String()))
	spdyExec := must(remotecommand.NewSPDYExecutor(cfg, "POST", u))
	return map[string]remotecommand.Executor{
		"websocket-v5": ws,
		"spdy-v4":      spdyExec,
		"fallback": must(remotecommand.NewFallbackExecutor(ws, spdyExec, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})),
		"spdy-v3":      must(remotecommand.NewSPDYExecutorForProtocols(tr, up, "POST", u, "v3.channel.k8s.io")),
		"spdy-v2":      must(remotecommand.NewSPDYExecutorForProtocols(tr, up, "POST", u, "v2.channel.k8s.io")),
		"websocket-v4": must(remotecommand.NewWebSocketExecutorForProtocols(cfg, "GET", u.String(), "v4.channel.k8s.io")),
	}
}

func streamCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExecStdoutStderrAndExitCodes(t *testing.T) {
	cfg, base := server(t, &fakeRuntime{})
	for _, tc := range []struct {
		name     string
		cmd      []string
		wantOut  string
		wantErr  string
		wantCode int
	}{
		{"separate streams", []string{"both", "to-out", "to-err"}, "to-out\n", "to-err\n", 0},
		{"exit code", []string{"exit", "3"}, "", "", 3},
		{"whoami", []string{"whoami"}, "default/web/app tty=false\n", "", 0},
	} {
		u := podURL(t, base, "exec", execQuery("app", false, false, true, tc.cmd...))
		for proto, ex := range executors(t, cfg, u) {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				var out, errb bytes.Buffer
				err := ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
				if out.String() != tc.wantOut || errb.String() != tc.wantErr {
					t.Fatalf("stdout %q stderr %q, want %q %q", out.String(), errb.String(), tc.wantOut, tc.wantErr)
				}
				if proto == "spdy-v3" || proto == "spdy-v2" {
					// v1–v3 carry no exit code: a failure is only an error.
					if (tc.wantCode != 0) != (err != nil) {
						t.Fatalf("error %v, want one only for a non-zero exit", err)
					}
					return
				}
				var ce exec.CodeExitError
				switch {
				case tc.wantCode == 0 && err != nil:
					t.Fatalf("stream: %v", err)
				case tc.wantCode == 0:
				case !errors.As(err, &ce) || ce.Code != tc.wantCode:
					t.Fatalf("error %v, want exit code %d", err, tc.wantCode)
				case err.Error() != fmt.Sprintf("command terminated with exit code %d", tc.wantCode):
					t.Fatalf("error %q, not kubectl's wording", err)
				}
			})
		}
	}
}

// TestExecStdinRoundTrip: stdin reaches the command and its end is seen
// (v5's CLOSE signal over WebSocket, a half-closed stream over SPDY).
func TestExecStdinRoundTrip(t *testing.T) {
	cfg, base := server(t, &fakeRuntime{})
	u := podURL(t, base, "exec", execQuery("app", false, true, true, "cat"))
	for proto, ex := range executors(t, cfg, u) {
		if proto == "websocket-v4" {
			continue // v4 over WebSocket cannot end stdin: that is what v5 added
		}
		t.Run(proto, func(t *testing.T) {
			var out bytes.Buffer
			in := strings.Repeat("round trip ", 10000)
			err := ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdin: strings.NewReader(in), Stdout: &out, Stderr: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != strings.ToUpper(in) {
				t.Fatalf("stdout: %d bytes, want the %d of stdin upper-cased", out.Len(), len(in))
			}
		})
	}
}

// sizeQueue hands out a fixed list of terminal sizes, then blocks until
// done.
type sizeQueue struct {
	sizes []remotecommand.TerminalSize
	done  <-chan struct{}
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	if len(q.sizes) == 0 {
		<-q.done
		return nil
	}
	s := q.sizes[0]
	q.sizes = q.sizes[1:]
	return &s
}

// TestExecTTYResize: with a terminal, the sizes the client sends reach
// the runtime in order, and stderr is not used.
func TestExecTTYResize(t *testing.T) {
	cfg, base := server(t, &fakeRuntime{})
	u := podURL(t, base, "exec", execQuery("app", true, false, false, "sizes", "2"))
	for proto, ex := range executors(t, cfg, u) {
		if proto == "spdy-v2" {
			continue // v2 has no resize stream
		}
		t.Run(proto, func(t *testing.T) {
			done := make(chan struct{})
			defer close(done)
			q := &sizeQueue{sizes: []remotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 132, Height: 43}}, done: done}
			var out bytes.Buffer
			err := ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdout: &out, Tty: true, TerminalSizeQueue: q})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != "24 80\n43 132\n" {
				t.Fatalf("sizes seen: %q", out.String())
			}
		})
	}
}

func TestExecRefusals(t *testing.T) {
	cfg, base := server(t, &fakeRuntime{})
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// HTTP/1.1, which an upgrade needs (a custom TLS config turns
	// HTTP/2 off).
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	for _, tc := range []struct {
		name, sub string
		q         url.Values
		upgrade   bool
		wantMsg   string
	}{
		{"no command", "exec", url.Values{"stdout": {"true"}}, true, "you must specify at least one command for the container"},
		{"no stream", "exec", url.Values{"command": {"ls"}}, true, "you must specify at least 1 of stdin, stdout, stderr"},
		{"no upgrade", "exec", url.Values{"command": {"ls"}, "stdout": {"true"}}, false, "Upgrade request required"},
		{"attach stdin", "attach", url.Values{"stdin": {"true"}, "stdout": {"true"}, "container": {"app"}}, true,
			"cannot attach to the stdin or terminal of container app in pod web: gossipod does not keep a container's stdin open " +
				"(stdin and tty are unsupported fields of a pod); attach without -i and -t to see its output, or use exec"},
		{"bad port", "portforward", url.Values{"ports": {"70000"}}, true, `invalid port "70000": must be between 1 and 65535`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, podURL(t, base, tc.sub, tc.q).String(), nil)
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "SPDY/3.1")
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), fmt.Sprintf("%q", tc.wantMsg)) {
				t.Fatalf("%d %s, want 400 with %q", resp.StatusCode, b, tc.wantMsg)
			}
		})
	}
}

func TestAttach(t *testing.T) {
	cfg, base := server(t, &fakeRuntime{})
	u := podURL(t, base, "attach", url.Values{"container": {"side"}, "stdout": {"true"}, "stderr": {"true"}})
	for proto, ex := range executors(t, cfg, u) {
		t.Run(proto, func(t *testing.T) {
			var out bytes.Buffer
			if err := ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdout: &out, Stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			if out.String() != "attached to side\n" {
				t.Fatalf("stdout %q", out.String())
			}
		})
	}
}

// TestExecClientGoneKillsCommand: a client that goes away ends the
// command instead of leaving it running unread: at once over WebSocket
// (the connection closes), at its next output over SPDY (the client
// resets its streams but keeps the connection until the server's end).
func TestExecClientGoneKillsCommand(t *testing.T) {
	rt := &hangRuntime{fakeRuntime: fakeRuntime{}, ended: make(chan error, 1)}
	cfg, base := server(t, rt)
	u := podURL(t, base, "exec", execQuery("app", false, true, false, "hang"))
	for _, proto := range []string{"websocket-v5", "spdy-v4"} {
		t.Run(proto, func(t *testing.T) {
			ex := executors(t, cfg, u)[proto]
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			defer pw.Close()
			errc := make(chan error, 1)
			go func() { errc <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: pr, Stdout: io.Discard}) }()
			time.Sleep(300 * time.Millisecond) // the session is up and the command runs
			cancel()
			<-errc
			select {
			case err := <-rt.ended:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("command ended with %v, want its context cancelled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the command still runs after the client went away")
			}
		})
	}
}

type hangRuntime struct {
	fakeRuntime
	ended chan error
}

// Exec writes a tick every 100 ms until its context ends.
func (h *hangRuntime) Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio runtime.ExecIO) (int, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			h.ended <- ctx.Err()
			return -1, ctx.Err()
		case <-tick.C:
			_, _ = io.WriteString(stdio.Stdout, "tick\n")
		}
	}
}

// dialers are the ways kubectl can open a port-forward session: SPDY
// tunnelled in a WebSocket (kubectl ≥ 1.30), plain SPDY, and the first
// with the second as fallback, as kubectl builds it.
func dialers(t *testing.T, cfg *rest.Config, u *url.URL) map[string]httpstream.Dialer {
	tr, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain := spdy.NewDialerForStreaming(up, &http.Client{Transport: tr}, "POST", u)
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]httpstream.Dialer{
		"spdy":             plain,
		"websocket-tunnel": tunnel,
		"fallback": portforward.NewFallbackDialerForStreaming(tunnel, plain, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		}),
	}
}

// forward runs client-go's port forwarder for remote port and returns the
// local port; it stops with the test.
func forward(t *testing.T, d httpstream.Dialer, remote int) int {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddressesForStreaming(d, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remote)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	t.Cleanup(func() { close(stop); <-errc })
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward: %v (%s)", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("port-forward not ready")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	return int(ports[0].Local)
}

// roundTrip sends msg on a new connection to the local port, closes its
// side and returns the answer.
func roundTrip(t *testing.T, local int, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(local)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPortForward(t *testing.T) {
	rt := &fakeRuntime{echo: startEcho(t)}
	cfg, base := server(t, rt)
	u := podURL(t, base, "portforward", nil)
	for proto, d := range dialers(t, cfg, u) {
		t.Run(proto, func(t *testing.T) {
			local := forward(t, d, 8080)
			// Several connections over one session, one after the other
			// and at once.
			if got := roundTrip(t, local, "first"); got != "port-echo: first" {
				t.Fatalf("answer %q", got)
			}
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					msg := strings.Repeat(fmt.Sprintf("conn %d ", i), 5000)
					if got := roundTrip(t, local, msg); got != "port-echo: "+msg {
						t.Errorf("connection %d: %d bytes back, want %d", i, len(got), len("port-echo: "+msg))
					}
				})
			}
			wg.Wait()
		})
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, p := range rt.dialed {
		if p != 8080 {
			t.Fatalf("dialed port %d, want 8080", p)
		}
	}
}

// TestPortForwardOlderWebSocket: the WebSocket port-forward protocol that
// came before the SPDY tunnel (one data and one error channel per port,
// each opened by the port number) still works, for the clients that use
// it; it needs ?ports=.
func TestPortForwardOlderWebSocket(t *testing.T) {
	greeter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer greeter.Close()
	go func() {
		for {
			c, err := greeter.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello from the pod")
			c.Close()
		}
	}()
	cfg, base := server(t, &fakeRuntime{echo: greeter})
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := gwebsocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"v4.channel.k8s.io"}}
	wsURL := "wss" + strings.TrimPrefix(base, "https") + "/api/v1/namespaces/default/pods/web/portforward"

	if _, resp, err := d.Dial(wsURL, nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("without ports: %v, want a 400", err)
	}
	ws, _, err := d.Dial(wsURL+"?ports=8080", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	var data []byte
	for !bytes.Contains(data, []byte("hello from the pod")) {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v (data so far %q)", err, data)
		}
		if len(msg) > 0 && msg[0] == 0 { // the data channel of the first port
			data = append(data, msg[1:]...)
		}
	}
	// The channel opens with the port, little-endian, then the data.
	if !bytes.HasPrefix(data, []byte{8080 & 0xff, 8080 >> 8}) {
		t.Fatalf("data channel %q does not start with port 8080", data)
	}
}
