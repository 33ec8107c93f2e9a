//go:build linux

package container

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Pause is the body of every sandbox's pause process; the binary calls it
// when started as /pause, before any other start-up work, and it never
// returns. It holds the pod's namespaces by merely existing, reaps the
// zombies re-parented to it (with a shared PID namespace it is the pod's
// PID 1, and orphans of every container land on it), and exits 0 on
// SIGTERM or SIGINT. Nothing else: its memory is the pod's fixed cost.
func Pause() {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT)
	reap() // children that exited before Notify
	for sig := range sigs {
		if sig == unix.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every exited child; SIGCHLDs coalesce, so one signal may
// stand for many exits.
func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
