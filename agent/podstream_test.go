package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/pki"
	"github.com/gossipod/gossipod/runtime"
	"github.com/gossipod/gossipod/runtime/image"
)

// streamRuntime is a PodRuntime whose exec runs a few commands in process
// and whose pods' ports all lead to one echo server.
type streamRuntime struct {
	node string
	echo net.Listener
}

func (streamRuntime) SyncPods([]*api.Pod)               {}
func (streamRuntime) Updates() <-chan runtime.PodUpdate { return nil }
func (streamRuntime) Used() api.Resources               { return api.Resources{} }
func (streamRuntime) Images() []image.ImageInfo         { return nil }
func (streamRuntime) LoadImage(io.Reader) ([]string, error) {
	return nil, errors.New("no images here")
}
func (streamRuntime) Logs(context.Context, string, string, string, runtime.LogOptions, io.Writer) error {
	return nil
}

func (s streamRuntime) Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio runtime.ExecIO) (int, error) {
	switch cmd[0] {
	case "exit":
		n, _ := strconv.Atoi(cmd[1])
		return n, nil
	case "cat":
		b, err := io.ReadAll(stdio.Stdin)
		if err != nil {
			return -1, err
		}
		_, _ = stdio.Stdout.Write(b)
		return 0, nil
	}
	fmt.Fprintf(stdio.Stdout, "%s in %s/%s/%s on %s\n", strings.Join(cmd, " "), namespace, name, container, s.node)
	if stdio.Stderr != nil {
		fmt.Fprintln(stdio.Stderr, "to stderr")
	}
	return 0, nil
}

func (s streamRuntime) Attach(ctx context.Context, namespace, name, container string, out io.Writer) error {
	fmt.Fprintf(out, "output of %s on %s\n", container, s.node)
	return nil
}

func (s streamRuntime) DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.echo.Addr().String())
}

// startStreamCluster starts two agents: agent-00 runs pods (with
// streamRuntime), agent-01 runs none, so a request to agent-01 for a pod
// of agent-00 goes through the agents' mutual-TLS proxy.
func startStreamCluster(t *testing.T) (runsPods, proxies *Agent) {
	t.Helper()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close() })
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				fmt.Fprintf(c, "echo: %s", b)
			}()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var agents []*Agent
	// Other test processes on this host use the same loopback blocks: on
	// a port taken, try another block (as startOneAgent does).
	for attempt := 0; len(agents) < 2; attempt++ {
		block := 10 + rand.IntN(240)
		agents = agents[:0]
		var err error
		for i := range 2 {
			cfg := testConfig(t, fmt.Sprintf("agent-%02d", i), benchAddr(block, i), t.TempDir(), 2, benchAddr(block, 0))
			if i == 0 {
				cfg.Runtime = streamRuntime{node: cfg.NodeName, echo: echo}
			}
			var a *Agent
			if a, err = New(cfg, runtime.MachineInfo{OS: "linux", Arch: "amd64"}); err != nil {
				break
			}
			agents = append(agents, a)
		}
		if err != nil {
			// Run with an ended context shuts down what New opened.
			done, end := context.WithCancel(context.Background())
			end()
			for _, a := range agents {
				_ = a.Run(done)
			}
			agents = agents[:0]
			if attempt == 4 {
				t.Fatal(err)
			}
		}
	}
	for _, a := range agents {
		wg.Go(func() { _ = a.Run(ctx) })
	}
	waitForLeader(t, agents, 30*time.Second)
	return agents[0], agents[1]
}

// editConfig is a client-go config for a's API as a user with the edit
// role, from a client certificate as `gossipod kubeconfig` issues.
func editConfig(t *testing.T, a *Agent) *rest.Config {
	t.Helper()
	leaf, err := a.tls.ca.Issue(pki.Request{CommonName: "dev", Organization: []string{pki.EditGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{
		Host:            "https://" + a.apiListener.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{CAData: a.tls.ca.CertPEM(), CertData: leaf.CertPEM, KeyData: leaf.KeyPEM},
	}
}

// kubectlExecutor is the executor kubectl builds: WebSocket first, SPDY
// when the upgrade fails.
func kubectlExecutor(t *testing.T, cfg *rest.Config, u *url.URL) remotecommand.Executor {
	t.Helper()
	spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
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

// TestPodStreamsThroughAnyAgent: kubectl's exec, attach and port-forward
// reach a pod through the agent that runs it and through another one,
// which proxies the upgraded connection (SPDY and WebSocket alike) over
// the agents' mutual TLS; gossipod's own exec protocol still works beside
// them.
func TestPodStreamsThroughAnyAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two agents")
	}
	runsPods, proxies := startStreamCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := adminClient(t, proxies)
	pod := testPodSpec("web", "1Mi")
	pod.Spec.NodeName = runsPods.cfg.NodeName
	pod.Spec.Containers = append(pod.Spec.Containers, pod.Spec.Containers[0])
	pod.Spec.Containers[0].Name, pod.Spec.Containers[1].Name = "app", "side"
	if _, err := cl.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		for _, a := range []*Agent{runsPods, proxies} {
			if _, ok := a.store.State().Pod("default", "web"); !ok {
				return fmt.Errorf("%s does not see the pod yet", a.cfg.NodeName)
			}
		}
		return nil
	})

	for _, a := range []*Agent{runsPods, proxies} {
		cfg := editConfig(t, a)
		podURL := func(sub string, q url.Values) *url.URL {
			u, _ := url.Parse(cfg.Host + "/api/v1/namespaces/default/pods/web/" + sub + "?" + q.Encode())
			return u
		}
		t.Run("via "+a.cfg.NodeName, func(t *testing.T) {
			// exec, with the container named, stderr apart.
			var out, errb bytes.Buffer
			ex := kubectlExecutor(t, cfg, podURL("exec", url.Values{"command": {"hostname"}, "container": {"side"}, "stdout": {"1"}, "stderr": {"1"}}))
			if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errb}); err != nil {
				t.Fatal(err)
			}
			if out.String() != "hostname in default/web/side on agent-00\n" || errb.String() != "to stderr\n" {
				t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
			}
			// The exit code comes back.
			ex = kubectlExecutor(t, cfg, podURL("exec", url.Values{"command": {"exit", "7"}, "container": {"app"}, "stdout": {"true"}}))
			var ce exec.CodeExitError
			if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard}); !errors.As(err, &ce) || ce.Code != 7 {
				t.Fatalf("exit: %v, want exit code 7", err)
			}
			// stdin both ways, over SPDY too.
			u := podURL("exec", url.Values{"command": {"cat"}, "container": {"app"}, "stdin": {"true"}, "stdout": {"true"}})
			spdyExec, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
			if err != nil {
				t.Fatal(err)
			}
			for name, ex := range map[string]remotecommand.Executor{"kubectl": kubectlExecutor(t, cfg, u), "spdy": spdyExec} {
				out.Reset()
				if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("ping\n"), Stdout: &out}); err != nil || out.String() != "ping\n" {
					t.Fatalf("%s stdin round trip: %q, %v", name, out.String(), err)
				}
			}
			// A pod of two containers needs one named, in kubectl's words.
			ex = kubectlExecutor(t, cfg, podURL("exec", url.Values{"command": {"ls"}, "stdout": {"true"}}))
			err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
			if err == nil || !strings.Contains(err.Error(), "a container name must be specified for pod web, choose one of: [app side]") {
				t.Fatalf("exec without a container: %v", err)
			}
			// attach
			out.Reset()
			ex = kubectlExecutor(t, cfg, podURL("attach", url.Values{"container": {"app"}, "stdout": {"true"}, "stderr": {"true"}}))
			if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: io.Discard}); err != nil || out.String() != "output of app on agent-00\n" {
				t.Fatalf("attach: %q, %v", out.String(), err)
			}
			// port-forward, tunnelled in a WebSocket and plain SPDY.
			tr, up, err := spdy.RoundTripperFor(cfg)
			if err != nil {
				t.Fatal(err)
			}
			pfURL := podURL("portforward", nil)
			tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(pfURL, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for name, d := range map[string]httpstream.Dialer{
				"tunnel": tunnel,
				"spdy":   spdy.NewDialerForStreaming(up, &http.Client{Transport: tr}, "POST", pfURL),
			} {
				if got := forwardOnce(t, d, "hello "+name); got != "echo: hello "+name {
					t.Fatalf("port-forward %s: %q", name, got)
				}
			}
		})
	}

	// gossipod's own exec protocol, through the proxying agent.
	ecfg := editConfig(t, proxies)
	gcl, err := client.NewFromConfig(client.Config{Server: ecfg.Host, CAData: ecfg.CAData, CertData: ecfg.CertData, KeyData: ecfg.KeyData})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := gcl.Exec(ctx, "default", "web", client.ExecOptions{Container: "app", Command: []string{"id"}, Stdout: &out})
	if err != nil || code != 0 || out.String() != "id in default/web/app on agent-00\n" {
		t.Fatalf("gossipod exec: %d %q %v", code, out.String(), err)
	}
}

// forwardOnce opens a port-forward session with d, sends msg over one
// forwarded connection and returns the answer.
func forwardOnce(t *testing.T, d httpstream.Dialer, msg string) string {
	t.Helper()
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut bytes.Buffer
	fw, err := portforward.NewOnAddressesForStreaming(d, []string{"127.0.0.1"}, []string{"0:8080"}, stop, ready, io.Discard, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- fw.ForwardPorts() }()
	defer func() { close(stop); <-errc }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward: %v %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("port-forward not ready")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = io.WriteString(c, msg)
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
