//go:build linux

package container

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Exec returns the exit code and the output, feeds stdin, runs with the
// container's environment and working directory, and can use a terminal.
func TestExec(t *testing.T) {
	m := newTestManager(t)
	s := newTestSandbox(t, m, SandboxSpec{Name: "exec"})
	start(t, s, ContainerSpec{Name: "app", Args: []string{"sleep", "3600"}, Env: []string{"GREETING=hello"}, WorkingDir: "/tmp"})
	done := start(t, s, ContainerSpec{Name: "done", Args: []string{"true"}})
	wait(t, done)

	for _, tc := range []struct {
		name               string
		container          string
		args               []string
		stdin              string
		tty                bool
		wantCode           int
		wantOut, wantErr   string
		wantOutContains    string
		wantErrIs          error
		timeout            time.Duration
		wantContextTimeout bool
	}{
		{name: "code and streams", container: "app", args: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, wantCode: 7, wantOut: "out\n", wantErr: "err\n"},
		{name: "stdin", container: "app", args: []string{"cat"}, stdin: "piped in\n", wantOut: "piped in\n"},
		{name: "environment", container: "app", args: []string{"sh", "-c", "echo $GREETING; pwd"}, wantOut: "hello\n/tmp\n"},
		{name: "killed by a signal", container: "app", args: []string{"sh", "-c", "kill -KILL $$"}, wantCode: 137},
		{name: "terminal", container: "app", args: []string{"tty"}, tty: true, wantOutContains: "/dev/pts/"},
		{name: "background child does not block", container: "app", args: []string{"sh", "-c", "sleep 30 & echo started"}, wantOut: "started\n"},
		{name: "not running", container: "done", args: []string{"true"}, wantErrIs: ErrNotRunning},
		{name: "no such container", container: "nope", args: []string{"true"}, wantErrIs: ErrNotFound},
		{name: "context ends", container: "app", args: []string{"sleep", "30"}, timeout: 300 * time.Millisecond, wantContextTimeout: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			var stdout, stderr bytes.Buffer
			stdio := ExecIO{Stdout: &stdout, Stderr: &stderr, TTY: tc.tty}
			if tc.stdin != "" {
				stdio.Stdin = strings.NewReader(tc.stdin)
			}
			t0 := time.Now()
			code, err := s.Exec(ctx, tc.container, tc.args, stdio)
			took := time.Since(t0)
			switch {
			case tc.wantContextTimeout:
				if !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
					t.Fatalf("Exec = %d, %v after %v; want a deadline error soon", code, err, took)
				}
				return
			case tc.wantErrIs != nil:
				if !errors.Is(err, tc.wantErrIs) {
					t.Fatalf("Exec error %v, want %v", err, tc.wantErrIs)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if took > 10*time.Second {
				t.Errorf("Exec took %v", took)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stdout %q stderr %q)", code, tc.wantCode, stdout.String(), stderr.String())
			}
			if tc.wantOutContains != "" && !strings.Contains(stdout.String(), tc.wantOutContains) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.wantOutContains)
			}
			if tc.wantOutContains == "" && stdout.String() != tc.wantOut {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantOut)
			}
			if stderr.String() != tc.wantErr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantErr)
			}
		})
	}
}
