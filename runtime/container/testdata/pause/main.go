// Command pause is a stand-in for the gossipod binary in this package's
// tests, used only when cmd/gossipod does not build at the moment: it has
// the libcontainer init hook at the top of main and, through the package,
// the C pause constructor (pause_linux.c), and nothing else.
package main

import (
	"fmt"
	"os"

	"github.com/gossipod/gossipod/runtime/container"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.Init()
	}
	fmt.Fprintln(os.Stderr, "usage: run as /pause")
	os.Exit(2)
}
