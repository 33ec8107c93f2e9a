//go:build linux

package container

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"
)

// Init is libcontainer's re-exec entry point ("runc init"): libcontainer
// starts every container process by re-executing the current binary as
// `<binary> init`, already inside the new namespaces (nsenter's C
// constructor put it there before the Go runtime started). The binary must
// call Init first thing in main when os.Args[1] == "init"; it sets up the
// container (mounts, pivot_root, capabilities, ...) and execs the
// container's program, and never returns.
//
// A container's program starts with every signal at its default action,
// whatever the agent inherited: an agent started under nohup (or by a
// shell that ignores SIGINT for background jobs) has SIGHUP or SIGINT
// ignored, an ignored signal stays ignored across exec, and a shell
// cannot trap a signal ignored on entry, so nginx-style "reload on HUP"
// would silently do nothing. The Go runtime keeps exactly these two
// ignored; Notify installs a handler for them instead, and exec resets a
// handled signal to its default.
func Init() {
	if !cgoEnabled {
		fmt.Fprintln(os.Stderr, "container init: this binary was built without cgo, so it cannot enter namespaces")
		os.Exit(255)
	}
	// Never read: a signal that arrives before the exec is dropped, as
	// it would be by a process that has not started yet.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT)
	libcontainer.Init()
}
