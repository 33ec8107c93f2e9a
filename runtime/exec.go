package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// ExecIO are the streams of a process started by Exec. A nil Stdin gives
// the process no input (it reads EOF at once); a nil Stdout or Stderr
// discards that output.
type ExecIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY gives the process a pseudo-terminal: Stdin goes to it and its
	// output, stdout and stderr merged as on a terminal, to Stdout.
	TTY bool
	// Resize carries the client's terminal size as it changes; only read
	// with TTY. Exec stops reading it when it returns, so a sender must
	// also select on its own end rather than block on a send forever.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters, as
// Kubernetes' remotecommand protocol sends it on its resize stream.
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// findWorker returns the worker of the pod namespace/name; when a pod of
// that name is being removed and a new one of the same name exists, the
// new one.
func (r *Runtime) findWorker(namespace, name string) *podWorker {
	r.mu.Lock()
	defer r.mu.Unlock()
	var found *podWorker
	for _, w := range r.workers {
		s := w.snapshot()
		if s.pod.Namespace != namespace || s.pod.Name != name {
			continue
		}
		if found == nil || found.snapshot().removed && !s.removed {
			found = w
		}
	}
	return found
}

// livePod returns the snapshot of a pod that is on this node and not
// finished, for exec, attach and port-forward; verb words the error for a
// finished pod as kubelet does ("cannot exec into a container in a
// completed pod").
func (r *Runtime) livePod(namespace, name, verb string) (*podSnapshot, error) {
	w := r.findWorker(namespace, name)
	if w == nil {
		return nil, userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	snap := w.snapshot()
	if snap.removed {
		return nil, userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	if snap.terminal {
		return nil, userErrorf(ErrContainerNotRunning,
			"cannot %s a container in a completed pod; current phase is %s", verb, snap.status.Phase)
	}
	return snap, nil
}

// runningContainer resolves container in a live pod and checks that it
// runs.
func runningContainer(snap *podSnapshot, pod, name string) (string, containerSnapshot, error) {
	name, cs, err := pickContainer(snap, pod, name)
	if err != nil {
		return "", cs, err
	}
	if !cs.running || snap.sandbox == nil {
		return "", cs, userErrorf(ErrContainerNotRunning, "container %s is not running in pod %s", name, pod)
	}
	return name, cs, nil
}

// Exec runs cmd in a running container of a pod (`gossipod exec`,
// `kubectl exec`) and returns its exit code; with stdio.TTY it gets a
// terminal (stdout and stderr merged) whose size follows stdio.Resize.
// container may be empty for a pod with a single container. Errors are
// Kubernetes': ErrPodNotFound, ErrContainerNotFound, and
// ErrContainerNotRunning (including for a completed pod, `cannot exec into
// a container in a completed pod; current phase is Succeeded`).
func (r *Runtime) Exec(ctx context.Context, namespace, name, container string, cmd []string, stdio ExecIO) (int, error) {
	snap, err := r.livePod(namespace, name, "exec into")
	if err != nil {
		return -1, err
	}
	if len(cmd) == 0 {
		return -1, errors.New("you must specify at least one command for the container")
	}
	container, _, err = runningContainer(snap, name, container)
	if err != nil {
		return -1, err
	}
	code, err := snap.sandbox.Exec(ctx, container, cmd, stdio)
	if errors.Is(err, errNotRunning) || errors.Is(err, errNotFound) {
		return -1, userErrorf(ErrContainerNotRunning, "container %s is not running in pod %s", container, name)
	}
	if err != nil {
		return -1, fmt.Errorf("exec in container %s of pod %s: %w", container, name, err)
	}
	return code, nil
}

// Attach streams what a running container writes from now on (`kubectl
// attach`) until that instance exits or ctx ends. A container's main
// process writes its stdout and stderr straight to its log file, nothing
// of the agent in between, so attaching follows that file from its end:
// both streams arrive merged, on out. There is nothing to attach a stdin
// or a terminal to: the process gets neither (pod specs asking for stdin
// or tty are refused), so callers must refuse those before calling.
func (r *Runtime) Attach(ctx context.Context, namespace, name, container string, out io.Writer) error {
	snap, err := r.livePod(namespace, name, "attach to")
	if err != nil {
		return err
	}
	container, _, err = runningContainer(snap, name, container)
	if err != nil {
		return err
	}
	return r.Logs(ctx, namespace, name, container, LogOptions{Follow: true, TailLines: 0}, out)
}

// DialPod connects to port on the pod's loopback address from inside its
// network namespace, as kubelet's port-forward does, so that a server
// listening on 127.0.0.1 only is reached too.
func (r *Runtime) DialPod(ctx context.Context, namespace, name string, port int32) (net.Conn, error) {
	snap, err := r.livePod(namespace, name, "port-forward to")
	if err != nil {
		return nil, err
	}
	if snap.sandbox == nil {
		return nil, userErrorf(ErrContainerNotRunning, "pod %s has no running sandbox", name)
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port %d: must be between 1 and 65535", port)
	}
	conn, err := snap.sandbox.Dial(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", name, err)
	}
	return conn, nil
}
