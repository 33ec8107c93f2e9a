package podstream

import (
	"context"
	"fmt"
	"io"
	"time"

	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/gossipod/gossipod/runtime"
)

// execRunner presents a Runtime to kubelet's streaming server, as its
// Executor and Attacher, for one target pod.
type execRunner struct {
	rt Runtime
	t  Target
}

var (
	_ crirc.Executor = execRunner{}
	_ crirc.Attacher = execRunner{}
)

// ExecInContainer implements crirc.Executor. A non-zero exit code is
// returned as an ExitError, which the server turns into the
// NonZeroExitCode Status.
func (e execRunner) ExecInContainer(ctx context.Context, _, _, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan crirc.TerminalSize, _ time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the size relay
	stdio := runtime.ExecIO{TTY: tty, Resize: relaySizes(ctx, resize)}
	// The server passes nil interfaces for streams the client did not
	// ask for; keep them nil rather than typed nils.
	if in != nil {
		stdio.Stdin = in
	}
	if out != nil {
		stdio.Stdout = failWriter{out, cancel}
	}
	if errw != nil {
		stdio.Stderr = failWriter{errw, cancel}
	}
	code, err := e.rt.Exec(ctx, e.t.Namespace, e.t.Name, container, cmd, stdio)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitError(code)
	}
	return nil
}

// AttachContainer implements crirc.Attacher: the container's output goes
// to the client's stdout, or its stderr when it asked only for that.
func (e execRunner) AttachContainer(ctx context.Context, _, _, container string, _ io.Reader, out, errw io.WriteCloser, _ bool, _ <-chan crirc.TerminalSize) error {
	var w io.Writer = io.Discard
	switch {
	case out != nil:
		w = out
	case errw != nil:
		w = errw
	}
	return e.rt.Attach(ctx, e.t.Namespace, e.t.Name, container, w)
}

// failWriter cancels the command when its output can no longer be
// delivered: the client went away (or reset the stream), and a command
// nobody reads would otherwise block on a full pipe forever.
type failWriter struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (f failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		f.cancel()
	}
	return n, err
}

// exitError is a command's non-zero exit code, as the k8s.io/utils/exec
// ExitError interface kubelet's server looks for.
type exitError int

func (e exitError) Error() string   { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitError) String() string  { return e.Error() }
func (e exitError) Exited() bool    { return true }
func (e exitError) ExitStatus() int { return int(e) }

// relaySizes passes the client's terminal sizes to the runtime's channel
// type until in closes or ctx ends; nil for nil.
func relaySizes(ctx context.Context, in <-chan crirc.TerminalSize) <-chan runtime.TerminalSize {
	if in == nil {
		return nil
	}
	out := make(chan runtime.TerminalSize)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- runtime.TerminalSize{Width: s.Width, Height: s.Height}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
