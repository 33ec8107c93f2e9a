//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// initComm is the name runc's init stage carries until it execs the
// container's program (execve resets it to the program's name).
const initComm = "runc:[2:INIT]"

// ExitStatus is how a container's main process ended.
type ExitStatus struct {
	// Code is the exit code; 128+signal when a signal killed it (as
	// Kubernetes reports it: 137 for SIGKILL).
	Code int
	// Signal is the signal that killed it, 0 if it exited.
	Signal int
	// OOMKilled is true when the kernel's OOM killer killed a process of
	// the container's cgroup (its memory limit was hit).
	OOMKilled bool
	// FinishedAt is when the exit was observed.
	FinishedAt time.Time
	// Unknown is true for a container adopted after an agent restart: it
	// was not our child, so its real exit status could not be read (see the
	// package doc).
	Unknown bool
}

// process is the init process of one libcontainer container: a pause or
// an app container's main process.
type process struct {
	lc  *libcontainer.Container
	pid int

	// For processes this Manager started (nil done otherwise): a reaper
	// goroutine waits for the process, records how it ended, and closes done.
	done     chan struct{}
	exit     ExitStatus
	waitErr  error
	oomPaths map[string]string
}

// startReaper begins waiting for a process this Manager started. Exactly
// one goroutine waits (and so reaps), whoever asks for the status later.
func startReaper(lc *libcontainer.Container, proc *libcontainer.Process, cgroupPaths map[string]string) (*process, error) {
	pid, err := proc.Pid()
	if err != nil {
		return nil, err
	}
	p := &process{lc: lc, pid: pid, done: make(chan struct{}), oomPaths: cgroupPaths}
	go func() {
		ps, err := proc.Wait()
		p.exit = exitStatusOf(ps)
		if ps == nil {
			p.waitErr = err
			p.exit = ExitStatus{Code: 137, Signal: int(unix.SIGKILL), Unknown: true}
		}
		p.exit.FinishedAt = time.Now()
		if n, err := oomKills(p.oomPaths); err == nil && n > 0 {
			p.exit.OOMKilled = true
		}
		close(p.done)
	}()
	return p, nil
}

// exitStatusOf converts a wait status to Kubernetes' conventions.
func exitStatusOf(ps *os.ProcessState) ExitStatus {
	if ps == nil {
		return ExitStatus{}
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ExitStatus{Code: ps.ExitCode()}
	}
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// exited reports whether this Manager saw the process end.
func (p *process) exited() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// alive tells whether the process still runs. For an adopted process,
// libcontainer compares the PID's start time with the recorded one, so a
// reused PID does not count.
func (p *process) alive() bool {
	if p.done != nil {
		return !p.exited()
	}
	st, err := p.lc.Status()
	return err == nil && (st == libcontainer.Running || st == libcontainer.Created)
}

// awaitExec returns once the init stage has exec'd the program. libcontainer's
// Run returns before that exec, and a failing exec (a dynamic binary without
// its loader, say) is only seen as the process exiting with 255 while
// still named like runc's init.
func (p *process) awaitExec(ctx context.Context) error {
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.pid))
		if err == nil && strings.TrimSpace(string(comm)) != initComm {
			return nil
		}
		select {
		case <-p.done:
			if p.exit.Code == 255 && p.exit.Signal == 0 {
				return fmt.Errorf("%w: init exited with 255 before exec'ing (see the container's output file)", ErrNotStarted)
			}
			return nil // it ran, and already finished
		case <-ctx.Done():
			return fmt.Errorf("waiting for the process to exec: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
}

// wait returns how the process ended: the real status for our children,
// a liveness watch for adopted ones.
func (p *process) wait(ctx context.Context) (ExitStatus, error) {
	if p.done != nil {
		select {
		case <-p.done:
			return p.exit, nil
		case <-ctx.Done():
			return ExitStatus{}, ctx.Err()
		}
	}
	if err := p.waitAdopted(ctx); err != nil {
		return ExitStatus{}, err
	}
	st := ExitStatus{Code: 137, Unknown: true, FinishedAt: time.Now()}
	if state, err := p.lc.State(); err == nil {
		if n, err := oomKills(state.CgroupPaths); err == nil && n > 0 {
			st = ExitStatus{Code: 137, Signal: int(unix.SIGKILL), OOMKilled: true, FinishedAt: st.FinishedAt}
		}
	}
	return st, nil
}

// waitAdopted blocks until a process that is not our child has exited. A
// pidfd is pollable and readable once the process has exited; opening it
// before re-checking libcontainer's status (which compares start times)
// closes the window in which the PID could be reused.
func (p *process) waitAdopted(ctx context.Context) error {
	fd, err := unix.PidfdOpen(p.pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return p.pollAdopted(ctx)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	if !p.alive() {
		return nil // exited, or the PID is someone else's now
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return p.pollAdopted(ctx)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	calls := 0
	// The first call returns false, so the runtime poller parks us until
	// the pidfd is readable (the process exited) or the deadline passes.
	err = rc.Read(func(uintptr) bool { calls++; return calls > 1 })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return p.pollAdopted(ctx)
	}
	return nil
}

// pollAdopted is the fallback without pidfds: look every 100 ms.
func (p *process) pollAdopted(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for p.alive() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// signal sends sig to the process (libcontainer kills the whole cgroup for
// SIGKILL when the PID namespace is shared, so nothing is left behind).
func (p *process) signal(sig os.Signal) error {
	if p.exited() {
		return ErrNotRunning
	}
	if err := p.lc.Signal(sig); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) || errors.Is(err, os.ErrProcessDone) || errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return err
	}
	return nil
}
