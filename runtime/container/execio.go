//go:build linux

package container

import "io"

// ExecIO are the streams of a process started by Sandbox.Exec. A nil
// Stdin gives the process no input (it reads EOF at once); a nil Stdout or
// Stderr discards that output.
type ExecIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY gives the process a pseudo-terminal: Stdin goes to it and its
	// output, stdout and stderr merged as on a terminal, to Stdout; Stderr
	// is not used.
	TTY bool
	// Resize carries the client's terminal size as it changes (kubectl
	// sends one at once, then one per SIGWINCH). Only read with TTY; nil
	// or closed means the size never changes. Exec stops reading it when
	// it returns, so the sender must not block forever on a send (select
	// on its own end as well).
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters, as
// Kubernetes' remotecommand protocol sends it on its resize stream.
type TerminalSize struct {
	Width  uint16
	Height uint16
}
