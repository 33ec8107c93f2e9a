//go:build linux

package podstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testenv"
	"github.com/gossipod/gossipod/internal/testimage"
	"github.com/gossipod/gossipod/runtime"
)

// The tests in this file run the handlers on a real runtime.Runtime —
// libcontainer, the image store, cgroups, a pod's network namespace — as
// root, with client-go's executors and dialers as the clients.

// realPod starts pod default/web on a real runtime with the test image,
// waits until every container runs, and serves the three subresources
// for it over HTTPS. The pod and the runtime go with the test.
func realPod(t *testing.T, containers ...api.Container) (*rest.Config, *runtime.Runtime) {
	t.Helper()
	testenv.NeedRoot(t)
	dir := t.TempDir()
	imageTar := filepath.Join(dir, "busybox.tar")
	if err := testimage.Build(imageTar); err != nil {
		if errors.Is(err, testimage.ErrNoBusybox) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	pause, err := testenv.BuildPause(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runtime.DefaultConfig()
	cfg.Root = filepath.Join(dir, "root")
	cfg.NodeName = "node-1"
	cfg.PauseBinary = pause
	cfg.CgroupRoot = fmt.Sprintf("/gossipod-podstream-test-%d", os.Getpid())
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt, err := runtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = rt.Run(runCtx) }()
	removed := make(chan struct{})
	go func() {
		for {
			select {
			case u := <-rt.Updates():
				if u.Removed {
					close(removed)
					return
				}
			case <-runCtx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		rt.SyncPods(nil)
		select {
		case <-removed:
		case <-time.After(time.Minute):
			t.Error("the pod was not removed within a minute")
		}
		stopRun()
		<-ran
		for _, d := range append(glob("/sys/fs/cgroup/*"+cfg.CgroupRoot), glob("/sys/fs/cgroup"+cfg.CgroupRoot)...) {
			os.Remove(d)
		}
	})
	f, err := os.Open(imageTar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := rt.LoadImage(f); err != nil {
		t.Fatal(err)
	}
	pod := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "11111111-2222-3333-4444-555555555555"},
		Spec:       api.PodSpec{NodeName: "node-1", Containers: containers},
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Image = testimage.Reference
	}
	api.SetPodDefaults(pod)
	rt.SyncPods([]*api.Pod{pod})
	deadline := time.Now().Add(time.Minute)
	for _, c := range containers {
		for {
			_, err := rt.Exec(context.Background(), "default", "web", c.Name, []string{"true"}, runtime.ExecIO{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container %s not running within a minute: %v", c.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	restCfg, _ := server(t, rt)
	return restCfg, rt
}

func glob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

func sh(name, script string) api.Container {
	return api.Container{Name: name, Command: []string{"sh", "-c", script}}
}

// run execs cmd in container with ex's protocol and returns stdout,
// stderr and the exit code.
func run(t *testing.T, ex remotecommand.Executor, opts remotecommand.StreamOptions) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	opts.Stdout = &out
	if !opts.Tty {
		opts.Stderr = &errb
	}
	err := ex.StreamWithContext(streamCtx(t), opts)
	var ce exec.CodeExitError
	switch {
	case errors.As(err, &ce):
		return out.String(), errb.String(), ce.Code
	case err != nil:
		t.Fatalf("stream: %v (stdout %q, stderr %q)", err, out.String(), errb.String())
	}
	return out.String(), errb.String(), 0
}

func TestRealExec(t *testing.T) {
	cfg, _ := realPod(t,
		sh("app", "sleep 3600"),
		sh("side", "echo side-container > /tmp/who; sleep 3600"))
	base := cfg.Host
	for _, proto := range []string{"websocket-v5", "spdy-v4", "fallback"} {
		t.Run(proto, func(t *testing.T) {
			ex := func(container string, tty, stdin bool, cmd ...string) remotecommand.Executor {
				return executors(t, cfg, podURL(t, base, "exec", execQuery(container, tty, stdin, !tty, cmd...)))[proto]
			}
			// stdout and stderr apart, and the exit code.
			out, errOut, code := run(t, ex("app", false, false, "sh", "-c", "echo to-out; echo to-err >&2; exit 3"), remotecommand.StreamOptions{})
			if out != "to-out\n" || errOut != "to-err\n" || code != 3 {
				t.Fatalf("got %q %q exit %d, want to-out, to-err, exit 3", out, errOut, code)
			}
			// A command killed by a signal exits 128+signal.
			if _, _, code := run(t, ex("app", false, false, "sh", "-c", "kill -9 $$"), remotecommand.StreamOptions{}); code != 137 {
				t.Fatalf("killed command: exit %d, want 137", code)
			}
			// stdin reaches the process and its end is seen.
			in := strings.Repeat("0123456789", 20000) + "\n"
			out, _, code = run(t, ex("app", false, true, "sh", "-c", "wc -c"), remotecommand.StreamOptions{Stdin: strings.NewReader(in)})
			if strings.TrimSpace(out) != strconv.Itoa(len(in)) || code != 0 {
				t.Fatalf("wc -c of stdin: %q exit %d, want %d", out, code, len(in))
			}
			// The second container, by name.
			if out, _, _ := run(t, ex("side", false, false, "cat", "/tmp/who"), remotecommand.StreamOptions{}); out != "side-container\n" {
				t.Fatalf("side container: %q", out)
			}
			// A terminal with the client's size, then a resize.
			done := make(chan struct{})
			sizes := &timedSizes{sizes: []remotecommand.TerminalSize{{Width: 123, Height: 40}, {Width: 77, Height: 21}}, gap: 700 * time.Millisecond, done: done}
			out, _, code = run(t, ex("app", true, true, "sh", "-c", "stty size; sleep 2; stty size; tty"),
				remotecommand.StreamOptions{Tty: true, Stdin: blockingReader{done}, TerminalSizeQueue: sizes})
			close(done)
			lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "\r", "")), "\n")
			if code != 0 || len(lines) != 3 || lines[0] != "40 123" || lines[1] != "21 77" || !strings.HasPrefix(lines[2], "/dev/pts/") {
				t.Fatalf("terminal: %q exit %d, want 40 123, then 21 77, then a /dev/pts/ terminal", out, code)
			}
		})
	}
}

// timedSizes sends its sizes gap apart, then blocks until done.
type timedSizes struct {
	sizes []remotecommand.TerminalSize
	gap   time.Duration
	sent  int
	done  <-chan struct{}
}

func (q *timedSizes) Next() *remotecommand.TerminalSize {
	if q.sent > 0 {
		select {
		case <-time.After(q.gap):
		case <-q.done:
			return nil
		}
	}
	if q.sent == len(q.sizes) {
		<-q.done
		return nil
	}
	s := q.sizes[q.sent]
	q.sent++
	return &s
}

// blockingReader is a terminal's stdin that types nothing until done.
type blockingReader struct{ done <-chan struct{} }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.done
	return 0, io.EOF
}

func TestRealExecErrors(t *testing.T) {
	cfg, _ := realPod(t, sh("app", "sleep 3600"))
	ex := executors(t, cfg, podURL(t, cfg.Host, "exec", execQuery("app", false, false, true, "/no/such/binary")))["websocket-v5"]
	err := ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "/no/such/binary") {
		t.Fatalf("exec of a missing binary: %v, want an error naming it", err)
	}
	ex = executors(t, cfg, podURL(t, cfg.Host, "exec", execQuery("nope", false, false, true, "true")))["spdy-v4"]
	err = ex.StreamWithContext(streamCtx(t), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "container nope is not valid for pod web") {
		t.Fatalf("exec in a container that does not exist: %v", err)
	}
}

func TestRealAttach(t *testing.T) {
	cfg, _ := realPod(t, sh("app", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"))
	for _, proto := range []string{"websocket-v5", "spdy-v4"} {
		t.Run(proto, func(t *testing.T) {
			ex := executors(t, cfg, podURL(t, cfg.Host, "attach", url.Values{"container": {"app"}, "stdout": {"true"}, "stderr": {"true"}}))[proto]
			ctx, cancel := context.WithCancel(streamCtx(t))
			pr, pw := io.Pipe()
			errc := make(chan error, 1)
			go func() {
				errc <- ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: pw, Stderr: io.Discard})
				pw.Close()
			}()
			buf := make([]byte, 64)
			var got strings.Builder
			for !strings.Contains(got.String(), "\nline ") {
				n, err := pr.Read(buf)
				if err != nil {
					t.Fatalf("attach ended: %v (%q)", err, got.String())
				}
				got.Write(buf[:n])
			}
			cancel()
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			<-errc
		})
	}
}

func TestRealPortForward(t *testing.T) {
	// busybox httpd bound to the pod's 127.0.0.1 only: reachable through
	// the pod's network namespace, not through any address of the host.
	cfg, rt := realPod(t, sh("web", "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www"))
	// httpd binds after the shell's mkdir and echo.
	for deadline := time.Now().Add(30 * time.Second); ; {
		code, err := rt.Exec(context.Background(), "default", "web", "web", []string{"wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"}, runtime.ExecIO{})
		if err == nil && code == 0 {
			break
		}
		if err == nil {
			err = fmt.Errorf("wget exited %d", code)
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd not answering in the pod: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for proto, d := range dialers(t, cfg, podURL(t, cfg.Host, "portforward", nil)) {
		t.Run(proto, func(t *testing.T) {
			local := forward(t, d, 8080)
			for i := range 3 {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", local))
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(b) != "hello-from-pod\n" {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
				}
			}
		})
	}
}
