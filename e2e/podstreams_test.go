package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// TestPodStreamsAcrossHosts: kubectl's exec (with and without a terminal)
// and port-forward, as client-go builds them for kubectl (WebSocket first,
// SPDY as the fallback), reach a real pod on host1 through host0's API,
// which proxies the upgraded connections to host1's agent over mutual TLS;
// the credentials are the admin kubeconfig of `gossipod kubeconfig`.
// Port-forward reaches a server bound to the pod's 127.0.0.1 only. Then
// real kubectl does the same (see kubectlStreams).
func TestPodStreamsAcrossHosts(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 2, AgentArgs: BootstrapExpect(2, 0, 1)})
	c.CleanupPods()
	waitFormed(t, c, 2, 0)
	c.LoadImage(1)
	c.MustApply(0, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: streams
spec:
  nodeName: %s
  containers:
  - name: app
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-%s > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"]
  - name: ticker
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"]
`, c.Name(1), c.Name(1)))
	c.WaitPod(0, "streams", scheduleTimeout+runTimeout, boundTo(c.Name(1)))
	defer c.DeletePod(0, "streams")

	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.Host, c.IP(0)) {
		t.Fatalf("kubeconfig server %s, want host0's API", cfg.Host)
	}
	base := cfg.Host + "/api/v1/namespaces/default/pods/streams/"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// exec without a terminal: streams apart, the exit code.
	q := url.Values{"container": {"app"}, "stdout": {"true"}, "stderr": {"true"},
		"command": {"sh", "-c", "echo to-out; echo to-err >&2; exit 4"}}
	var out, errb bytes.Buffer
	err = kubectlExec(t, cfg, base+"exec?"+q.Encode()).StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb})
	var ce exec.CodeExitError
	if !errors.As(err, &ce) || ce.Code != 4 || out.String() != "to-out\n" || errb.String() != "to-err\n" {
		t.Fatalf("exec: %v, stdout %q, stderr %q; want exit code 4, to-out, to-err", err, out.String(), errb.String())
	}

	// exec -it: the terminal has the client's size.
	q = url.Values{"container": {"app"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}, "command": {"stty", "size"}}
	out.Reset()
	done := make(chan struct{})
	err = kubectlExec(t, cfg, base+"exec?"+q.Encode()).StreamWithContext(ctx, remotecommand.StreamOptions{
		Stdin: idleStdin{done}, Stdout: &out, Tty: true, TerminalSizeQueue: newOneSize(remotecommand.TerminalSize{Width: 99, Height: 33}, done)})
	close(done)
	if err != nil || strings.TrimSpace(out.String()) != "33 99" {
		t.Fatalf("exec -it stty size: %v, %q; want 33 99", err, out.String())
	}

	// port-forward to the pod's 127.0.0.1:8080.
	u, _ := url.Parse(base + "portforward")
	tr, up, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dialer := portforward.NewFallbackDialerForStreaming(tunnel, spdy.NewDialerForStreaming(up, &http.Client{Transport: tr}, "POST", u),
		func(err error) bool { return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err) })
	stop, ready := make(chan struct{}), make(chan struct{})
	var pfErr bytes.Buffer
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, &pfErr)
	if err != nil {
		t.Fatal(err)
	}
	fwDone := make(chan error, 1)
	go func() { fwDone <- fw.ForwardPorts() }()
	defer func() {
		if stop != nil {
			close(stop)
			<-fwDone
		}
	}()
	select {
	case <-ready:
	case err := <-fwDone:
		t.Fatalf("port-forward: %v %s", err, pfErr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("port-forward not ready after 30 s")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 30*time.Second, func() error { // httpd may still be starting
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(ports[0].Local)) + "/index.html")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if want := "hello-from-" + c.Name(1) + "\n"; string(b) != want {
			return fmt.Errorf("%d %q, want %q", resp.StatusCode, b, want)
		}
		return nil
	})

	close(stop)
	<-fwDone
	stop = nil

	t.Run("real kubectl", func(t *testing.T) {
		kubectlStreams(t, c.WithT(t), func(path string) (int, error) {
			tr, err := rest.TransportFor(cfg)
			if err != nil {
				return 0, err
			}
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(cfg.Host + path)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		})
	})
}

// kubectlExec is the executor kubectl ≥ 1.30 builds: WebSocket, then SPDY
// when the upgrade fails.
func kubectlExec(t *testing.T, cfg *rest.Config, rawURL string) remotecommand.Executor {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdyExec, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// oneSize sends one terminal size, then waits for done.
type oneSize struct {
	sizes chan remotecommand.TerminalSize
	done  <-chan struct{}
}

func newOneSize(size remotecommand.TerminalSize, done <-chan struct{}) oneSize {
	o := oneSize{sizes: make(chan remotecommand.TerminalSize, 1), done: done}
	o.sizes <- size
	return o
}

func (o oneSize) Next() *remotecommand.TerminalSize {
	select {
	case s := <-o.sizes:
		return &s
	case <-o.done:
		return nil
	}
}

// idleStdin is a terminal on which nobody types until done.
type idleStdin struct{ done <-chan struct{} }

func (s idleStdin) Read([]byte) (int, error) {
	<-s.done
	return 0, io.EOF
}
