package agent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/apiserver/podstream"
	"github.com/gossipod/gossipod/runtime"
)

// podForIO finds the pod of a logs, exec, attach or port-forward request
// and, when another node runs it, proxies the request there and reports
// false. These are served by whichever agent runs the pod, reachable
// through any agent; the reverse proxy forwards an upgraded connection
// (SPDY or WebSocket) as a byte stream once the owner answers 101.
func (a *Agent) podForIO(w http.ResponseWriter, r *http.Request) (*api.Pod, bool) {
	if !a.api.ConsistentRead(w, r) {
		return nil, false
	}
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	p, ok := a.store.State().Pod(ns, name)
	if !ok {
		apiserver.WriteError(w, api.NewNotFound("pods", name))
		return nil, false
	}
	if p.Spec.NodeName == "" {
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("pod %s is not scheduled to a node yet", name)))
		return nil, false
	}
	if p.Spec.NodeName == a.cfg.NodeName {
		if a.cfg.Runtime == nil {
			apiserver.WriteError(w, api.NewServiceUnavailable(fmt.Sprintf("node %s runs no container runtime", a.cfg.NodeName)))
			return nil, false
		}
		return p, true
	}
	m, ok := a.members.Get(p.Spec.NodeName)
	if !ok || !m.MetaOK || m.Status != api.MemberAlive {
		apiserver.WriteError(w, api.NewServiceUnavailable(fmt.Sprintf("node %s, which runs pod %s, is not reachable", p.Spec.NodeName, name)))
		return nil, false
	}
	target, _ := url.Parse(m.apiURL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = a.tls.peerTransport(m.Name)
	// The peer trusts this agent's certificate to have authorized the
	// request; the caller's own credentials stay here.
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Del("Authorization")
	}
	proxy.FlushInterval = -1 // stream logs as they come
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		apiserver.WriteError(w, api.NewServiceUnavailable(fmt.Sprintf("proxy to node %s: %v", p.Spec.NodeName, err)))
	}
	proxy.ServeHTTP(w, r)
	return nil, false
}

// handleLogs serves GET …/pods/{name}/log, kubectl's logs endpoint.
func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request) {
	p, local := a.podForIO(w, r)
	if !local {
		return
	}
	q := r.URL.Query()
	// The container's output is stored as it was written, without a time
	// per line (CRI's log format has one): what needs it is refused
	// rather than answered with the whole log.
	for _, p := range []string{"sinceSeconds", "sinceTime", "timestamps"} {
		if v := q.Get(p); v != "" && v != "false" {
			apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("%s=%s: gossipod does not record when each log line was written yet, so it cannot select or stamp lines by time; use tailLines (kubectl logs --tail)", p, v)))
			return
		}
	}
	opts := runtime.LogOptions{TailLines: -1, Follow: q.Get("follow") == "true", Previous: q.Get("previous") == "true"}
	if s := q.Get("tailLines"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("tailLines %q: must be a non-negative integer", s)))
			return
		}
		opts.TailLines = n
	}
	limit := int64(-1)
	if s := q.Get("limitBytes"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("limitBytes %q: must be a positive integer", s)))
			return
		}
		limit = n
	}
	container, err := pickContainer(p, q.Get("container"))
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fw := &flushWriter{w: w}
	var out io.Writer = fw
	if limit > 0 {
		out = &limitWriter{w: fw, left: limit}
	}
	err = a.cfg.Runtime.Logs(r.Context(), p.Namespace, p.Name, container, opts, out)
	if err != nil && !errors.Is(err, errLogLimit) && !fw.wrote {
		apiserver.WriteError(w, asAPIError(err))
	}
}

// errLogLimit ends a log response that reached its limitBytes.
var errLogLimit = errors.New("limitBytes reached")

// limitWriter passes on at most left bytes, then fails with errLogLimit so
// that Logs (and a follow) stops, as kubelet's limitBytes does.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLogLimit
	}
	if int64(len(p)) > l.left {
		n, err := l.w.Write(p[:l.left])
		l.left -= int64(n)
		if err == nil {
			err = errLogLimit
		}
		return n, err
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// pickContainer resolves ?container=: required when the pod has several
// containers, as in Kubernetes.
func pickContainer(p *api.Pod, name string) (string, error) {
	if name != "" {
		for _, c := range append(append([]api.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if c.Name == name {
				return name, nil
			}
		}
		return "", api.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, p.Name))
	}
	if len(p.Spec.Containers) == 1 {
		return p.Spec.Containers[0].Name, nil
	}
	names := make([]string, len(p.Spec.Containers))
	for i, c := range p.Spec.Containers {
		names[i] = c.Name
	}
	return "", api.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", p.Name, names))
}

// asAPIError keeps a Status and turns other runtime errors into a 400, the
// code Kubernetes uses for "container is waiting to start" and the like.
func asAPIError(err error) error {
	var st *api.Status
	if errors.As(err, &st) {
		return st
	}
	return api.NewBadRequest(err.Error())
}

// flushWriter flushes after every write so `logs -f` streams.
type flushWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.wrote = true
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// handleExec serves GET and POST …/pods/{name}/exec. gossipod's own CLI
// upgrades to client.ExecProtocol (stdin, stdout, stderr and the exit
// code as frames, see api/client); kubectl and client-go upgrade to SPDY
// or a WebSocket, served by apiserver/podstream.
func (a *Agent) handleExec(w http.ResponseWriter, r *http.Request) {
	p, local := a.podForIO(w, r)
	if !local {
		return
	}
	q := r.URL.Query()
	command := q["command"]
	if len(command) == 0 {
		apiserver.WriteError(w, api.NewBadRequest("you must specify at least one command for the container"))
		return
	}
	container, err := pickContainer(p, q.Get("container"))
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	if r.Header.Get("Upgrade") != client.ExecProtocol {
		podstream.ServeExec(w, r, a.cfg.Runtime, streamTarget(p, container), command)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		apiserver.WriteError(w, api.NewInternalError(fmt.Errorf("connection cannot be upgraded")))
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+client.ExecProtocol+"\r\n\r\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdin io.Reader
	if q.Get("stdin") == "true" {
		pr, pw := io.Pipe()
		stdin = pr
		go readStdinFrames(brw.Reader, pw, cancel)
	} else {
		go func() { // notice the client going away
			_, _ = io.Copy(io.Discard, brw.Reader)
			cancel()
		}()
	}
	var mu sync.Mutex
	stdout := client.FrameWriter{W: conn, Typ: client.FrameStdout, Mu: &mu}
	stderr := client.FrameWriter{W: conn, Typ: client.FrameStderr, Mu: &mu}
	code, err := a.cfg.Runtime.Exec(ctx, p.Namespace, p.Name, container, command,
		runtime.ExecIO{Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: q.Get("tty") == "true"})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		_ = client.WriteFrame(conn, client.FrameError, []byte(err.Error()))
		return
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	_ = client.WriteFrame(conn, client.FrameExit, b[:])
}

// handleAttach serves GET and POST …/pods/{name}/attach (kubectl attach).
func (a *Agent) handleAttach(w http.ResponseWriter, r *http.Request) {
	p, local := a.podForIO(w, r)
	if !local {
		return
	}
	container, err := pickContainer(p, r.URL.Query().Get("container"))
	if err != nil {
		apiserver.WriteError(w, err)
		return
	}
	podstream.ServeAttach(w, r, a.cfg.Runtime, streamTarget(p, container))
}

// handlePortForward serves GET and POST …/pods/{name}/portforward
// (kubectl port-forward).
func (a *Agent) handlePortForward(w http.ResponseWriter, r *http.Request) {
	p, local := a.podForIO(w, r)
	if !local {
		return
	}
	podstream.ServePortForward(w, r, a.cfg.Runtime, streamTarget(p, ""))
}

// streamTarget names the pod (and container) of a streaming request.
func streamTarget(p *api.Pod, container string) podstream.Target {
	return podstream.Target{Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Container: container}
}

// readStdinFrames feeds stdin frames into pw until the client closes its
// input or the connection.
func readStdinFrames(r *bufio.Reader, pw *io.PipeWriter, cancel func()) {
	for {
		typ, payload, err := client.ReadFrame(r)
		if err != nil {
			_ = pw.CloseWithError(io.EOF)
			cancel()
			return
		}
		switch typ {
		case client.FrameStdin:
			if _, err := pw.Write(payload); err != nil {
				return
			}
		case client.FrameStdinClose:
			_ = pw.Close()
		}
	}
}

// handleLoadImage serves POST /v1/images/load: the body is an OCI or
// docker image archive, imported into this agent's image store.
func (a *Agent) handleLoadImage(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Runtime == nil {
		apiserver.WriteError(w, api.NewServiceUnavailable(fmt.Sprintf("node %s runs no container runtime", a.cfg.NodeName)))
		return
	}
	// withLimits bounds the body as sent; decompressCapped bounds what it
	// expands to. Both stream: the runtime spools the tar to disk.
	archive, closeArchive, err := decompressCapped(r.Body, a.cfg.Limits.MaxImageArchiveBytes)
	if err != nil {
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("load image archive: %v", err)))
		return
	}
	defer closeArchive()
	refs, err := a.cfg.Runtime.LoadImage(archive)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		apiserver.WriteError(w, api.NewRequestEntityTooLarge(fmt.Sprintf(
			"load image archive: the upload is larger than %d bytes (--max-image-size)", tooLarge.Limit)))
		return
	case errors.Is(err, ErrArchiveTooLarge):
		apiserver.WriteError(w, api.NewRequestEntityTooLarge(fmt.Sprintf("load image archive: %v", err)))
		return
	case err != nil:
		apiserver.WriteError(w, api.NewBadRequest(fmt.Sprintf("load image archive: %v", err)))
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, map[string][]string{"loaded": refs})
}

// handleListImages serves GET /v1/images: this agent's images.
func (a *Agent) handleListImages(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Runtime == nil {
		apiserver.WriteJSON(w, http.StatusOK, []any{})
		return
	}
	apiserver.WriteJSON(w, http.StatusOK, a.cfg.Runtime.Images())
}
