//go:build linux

package container

import (
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
)

// Init is libcontainer's re-exec entry point ("runc init"): libcontainer
// starts every container process by re-executing the current binary as
// `<binary> init`, already inside the new namespaces (nsenter's C
// constructor put it there before the Go runtime started). The binary must
// call Init first thing in main when os.Args[1] == "init"; it sets up the
// container (mounts, pivot_root, capabilities, ...) and execs the
// container's program, and never returns.
func Init() {
	if !cgoEnabled {
		fmt.Fprintln(os.Stderr, "container init: this binary was built without cgo, so it cannot enter namespaces")
		os.Exit(255)
	}
	libcontainer.Init()
}
