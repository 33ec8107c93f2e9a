package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultRunTimeout bounds every client command run by Run. A CLI call that hangs (for
// example against a partitioned host) must fail the test with its output, not stall the
// whole `go test` until its global timeout.
const DefaultRunTimeout = 30 * time.Second

// Result is what a finished command left behind. Tests assert on all of it: the exit
// code alone cannot tell a clear error from a panic.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
	// TimedOut reports that the command was killed at its deadline, in which case
	// ExitCode is -1.
	TimedOut bool
}

// String renders the result for test failure messages.
func (r Result) String() string {
	state := fmt.Sprintf("exit %d", r.ExitCode)
	if r.TimedOut {
		state = "timed out (killed)"
	}
	return fmt.Sprintf("%q: %s\nstdout:\n%s\nstderr:\n%s", r.Args, state, r.Stdout, r.Stderr)
}

// Err is nil when the command exited 0 and otherwise an error carrying its stderr, for
// callers that poll with Eventually and only need the failure text.
func (r Result) Err() error {
	if r.ExitCode == 0 && !r.TimedOut {
		return nil
	}
	return fmt.Errorf("%s", r)
}

// Run runs the gossipod binary (built by BuildBinary) with args from the test's own
// namespace, e.g. Run(t, "--addr", c.APIAddr(0), "members", "-o", "json"), and waits
// at most DefaultRunTimeout. It fails the test only when the command cannot be started;
// a non-zero exit is the caller's to judge.
func Run(t testing.TB, args ...string) Result {
	t.Helper()
	return RunTimeout(t, DefaultRunTimeout, args...)
}

// RunTimeout is Run with an explicit deadline, for commands expected to fail fast (a
// bad flag) where waiting the default would only slow a failing test down.
func RunTimeout(t testing.TB, timeout time.Duration, args ...string) Result {
	t.Helper()
	return runCommand(t, timeout, append([]string{BuildBinary(t)}, args...))
}

// runCommand runs argv to completion with a deadline and collects its output.
func runCommand(t testing.TB, timeout time.Duration, argv []string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := Result{Args: argv, Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.TimedOut, res.ExitCode = true, -1
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	default:
		t.Fatalf("run %q: %v", argv, err)
	}
	return res
}

// childEnv is the environment for processes the harness starts: the test's own, minus
// GOSSIPOD_ADDR (every command names its agent explicitly) and with proxies disabled,
// since a proxy configured for the module download cannot reach the private bridge.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOSSIPOD_ADDR=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NO_PROXY=*", "no_proxy=*")
}

// Process is a long-running program started by the harness (an agent, or a helper
// inside a host), with its stdout and stderr in a log file that tests read and that is
// shown when a test fails.
type Process struct {
	argv    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// StartProcess starts argv with stdout and stderr appended to logPath, and registers a
// cleanup that SIGKILLs it, so a failing test never leaks processes. The child also gets
// SIGKILL if the test process dies, for the same reason.
func StartProcess(t testing.TB, logPath string, argv ...string) *Process {
	t.Helper()
	p, err := startProcess(logPath, argv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	return p
}

// startProcess is StartProcess without the test bookkeeping, for the Cluster, which
// manages its agents' lifetimes itself.
func startProcess(logPath string, argv []string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log for %q: %w", argv, err)
	}
	defer log.Close() // the child holds its own copy of the descriptor
	fmt.Fprintf(log, "=== e2e %s: start %q\n", time.Now().Format(time.RFC3339Nano), argv)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", argv, err)
	}
	p := &Process{argv: argv, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id, e.g. to look for it in /proc.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, which a test uses to assert that an
// agent survives something (a bad join address) rather than giving up.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end and returns how it ended.
func (p *Process) Wait(timeout time.Duration) error {
	if !p.waitDone(timeout) {
		return fmt.Errorf("%q still running after %v", p.argv, timeout)
	}
	return p.waitErr
}

// ExitError is how the process ended (nil for exit 0); only meaningful once Exited.
func (p *Process) ExitError() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// Kill sends SIGKILL and waits for the process to go, simulating a crash or power loss
// (nothing is flushed, no goodbye is gossiped). Killing an exited process is a no-op.
func (p *Process) Kill() error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %q: %w", p.argv, err)
	}
	if err := p.Wait(10 * time.Second); err != nil && !p.Exited() {
		return err
	}
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a clean exit, the way an operator or
// systemd stops an agent. If the process does not exit in time it is killed and Stop
// returns an error, since a hanging shutdown is a bug the test should report.
func (p *Process) Stop(timeout time.Duration) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %q: %w", p.argv, err)
	}
	if !p.waitDone(timeout) {
		// A Go program dumps every goroutine on SIGQUIT: the log then
		// says where the shutdown hung.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		p.waitDone(5 * time.Second)
		p.Kill()
		return fmt.Errorf("stop %q: no exit within %v of SIGTERM; sent SIGQUIT (goroutine dump in %s) and killed", p.argv, timeout, p.logPath)
	}
	return nil
}

// waitDone reports whether the process ended within timeout.
func (p *Process) waitDone(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// LogPath is the file holding the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Log returns everything the process has written so far.
func (p *Process) Log() string { return readFile(p.logPath) }

// tailLines returns at most the last n lines of s, so a failure shows the end of a log
// (where the trouble usually is) without flooding the test output.
func tailLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
