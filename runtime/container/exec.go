//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// outputDrain bounds how long Exec keeps copying output after the process
// exited: a background process it started may hold the pipe open forever.
const outputDrain = 2 * time.Second

// firstSizeWait bounds how long Exec waits, with a terminal, for the
// client's first terminal size before it starts the process. kubectl sends
// it as soon as its streams are up, so the wait ends at once; waiting
// means the process starts with the right size (`stty size`, a shell's
// line editing) instead of 0x0 followed by a resize that races with the
// process reading it. A client that sends none costs this much delay.
const firstSizeWait = time.Second

// Exec runs a command in a running container (`gossipod exec`, `kubectl
// exec`): a new process in the container's namespaces and cgroup, with the
// container's environment and working directory, and returns its exit code
// (128+signal when a signal killed it). With stdio.TTY the process gets a
// pseudo-terminal whose size follows stdio.Resize (see ExecIO).
// Cancelling ctx kills the process. A stdin reader that never returns
// keeps one goroutine blocked in Read until it does.
func (s *Sandbox) Exec(ctx context.Context, container string, args []string, stdio ExecIO) (exitCode int, err error) {
	if len(args) == 0 || args[0] == "" {
		return -1, wrapSandbox(s.id, fmt.Errorf("%w: exec without a command", ErrInvalid))
	}
	c, err := s.Container(container)
	if err != nil {
		return -1, err
	}
	fail := func(err error) (int, error) {
		return -1, wrapSandbox(s.id, fmt.Errorf("container %q: exec %q: %w", container, args[0], err))
	}
	if !c.Running() {
		return fail(ErrNotRunning)
	}
	id := c.meta.Identity
	proc := &libcontainer.Process{Args: args, Env: c.meta.Env, Cwd: c.meta.WorkingDir, Init: false,
		UID: id.UID, GID: id.GID, AdditionalGroups: id.AdditionalGroups}
	var sio execIO
	defer sio.closeAll()
	if stdio.TTY {
		proc.ConsoleWidth, proc.ConsoleHeight = firstSize(ctx, stdio.Resize)
		err = sio.setupTTY(proc)
	} else {
		err = sio.setupPipes(proc, stdio.Stdin, stdio.Stdout, stdio.Stderr)
	}
	if err != nil {
		return fail(err)
	}
	if err := c.proc.lc.Run(proc); err != nil {
		return fail(err)
	}
	sio.closeChildEnds()
	if stdio.TTY {
		if err := sio.startTTY(stdio.Stdin, stdio.Stdout); err != nil {
			_ = proc.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			return fail(err)
		}
		stopResize := make(chan struct{})
		defer close(stopResize)
		go followResize(sio.master, stdio.Resize, stopResize)
	}

	waited := make(chan struct{})
	var ps *os.ProcessState
	go func() {
		ps, _ = proc.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
		_ = proc.Signal(unix.SIGKILL)
		<-waited
		sio.drain()
		return fail(ctx.Err())
	}
	sio.drain()
	if ps == nil {
		return fail(errors.New("no exit status"))
	}
	return exitStatusOf(ps).Code, nil
}

// execIO owns the pipes or terminal between Exec's caller and the process:
// our own pipes rather than os/exec's, so that Exec can stop copying (and
// return) when the process has exited even if something else still holds
// the other end.
type execIO struct {
	childEnds []*os.File // passed to the process, closed here once it runs
	ours      []*os.File // read by the copiers, closed after draining
	copiers   sync.WaitGroup
	sock      *os.File // tty: where libcontainer sends the terminal's master
	master    *os.File // tty: the terminal's master, once received (also in ours)
}

func (x *execIO) setupPipes(proc *libcontainer.Process, stdin io.Reader, stdout, stderr io.Writer) error {
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		x.childEnds = append(x.childEnds, r)
		proc.Stdin = r
		// Not counted in copiers: it ends when stdin does, or at the first
		// write after the process has gone.
		go func() {
			_, _ = io.Copy(w, stdin)
			w.Close()
		}()
	}
	for _, pair := range []struct {
		dst io.Writer
		set func(*os.File)
	}{
		{stdout, func(f *os.File) { proc.Stdout = f }},
		{stderr, func(f *os.File) { proc.Stderr = f }},
	} {
		if pair.dst == nil {
			continue
		}
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		x.childEnds = append(x.childEnds, w)
		x.ours = append(x.ours, r)
		pair.set(w)
		x.copy(pair.dst, r)
	}
	return nil
}

func (x *execIO) copy(dst io.Writer, src io.Reader) {
	x.copiers.Add(1)
	go func() {
		defer x.copiers.Done()
		_, _ = io.Copy(dst, src)
	}()
}

func (x *execIO) setupTTY(proc *libcontainer.Process) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	x.sock = os.NewFile(uintptr(fds[0]), "console-parent")
	child := os.NewFile(uintptr(fds[1]), "console-child")
	x.childEnds = append(x.childEnds, child)
	proc.ConsoleSocket = child
	return nil
}

// startTTY receives the terminal's master from the process and connects
// it to the caller's streams.
func (x *execIO) startTTY(stdin io.Reader, stdout io.Writer) error {
	master, err := recvFile(x.sock)
	if err != nil {
		return fmt.Errorf("receive terminal: %w", err)
	}
	x.master = master
	x.ours = append(x.ours, master)
	if stdin != nil {
		go func() { _, _ = io.Copy(master, stdin) }()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	x.copy(stdout, master)
	return nil
}

// closeChildEnds drops our copies of the process's ends, so that the
// copiers see EOF when the process (and its children) close theirs.
func (x *execIO) closeChildEnds() {
	for _, f := range x.childEnds {
		f.Close()
	}
	x.childEnds = nil
}

// drain waits for the output to be copied, at most outputDrain.
func (x *execIO) drain() {
	done := make(chan struct{})
	go func() { x.copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(outputDrain):
		x.closeAll()
		<-done
	}
}

func (x *execIO) closeAll() {
	x.closeChildEnds()
	for _, f := range x.ours {
		f.Close()
	}
	if x.sock != nil {
		x.sock.Close()
	}
}

// firstSize waits (at most firstSizeWait) for the client's first terminal
// size; 0x0 (libcontainer then leaves the terminal's default) when none
// comes.
func firstSize(ctx context.Context, resize <-chan TerminalSize) (width, height uint16) {
	if resize == nil {
		return 0, 0
	}
	t := time.NewTimer(firstSizeWait)
	defer t.Stop()
	select {
	case size := <-resize:
		return size.Width, size.Height
	case <-t.C:
	case <-ctx.Done():
	}
	return 0, 0
}

// followResize applies every size received on resize to the terminal
// master until resize closes or stop does. A zero size (a client that
// cannot tell) is skipped, as kubelet's runtimes do.
func followResize(master *os.File, resize <-chan TerminalSize, stop <-chan struct{}) {
	if resize == nil {
		return
	}
	raw, err := master.SyscallConn()
	if err != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case size, ok := <-resize:
			if !ok {
				return
			}
			if size.Width == 0 || size.Height == 0 {
				continue
			}
			// Through SyscallConn, not Fd(): Fd would put the master in
			// blocking mode under the copier reading it.
			_ = raw.Control(func(fd uintptr) {
				_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
			})
		}
	}
}

// recvFile receives one file descriptor sent with SCM_RIGHTS (how runc's
// init hands over a terminal's master).
func recvFile(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, os.NewSyscallError("recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		rights, err := unix.ParseUnixRights(&m)
		if err == nil {
			fds = append(fds, rights...)
		}
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("expected 1 descriptor, got %d", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
