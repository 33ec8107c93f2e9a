// Command pause is a stand-in for the gossipod binary in this package's
// tests, used only when cmd/gossipod does not build at the moment: it has
// the same two hooks at the top of main, and nothing else.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gossipod/gossipod/runtime/container"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.Init()
	}
	if filepath.Base(os.Args[0]) == "pause" {
		container.Pause()
	}
	fmt.Fprintln(os.Stderr, "usage: run as /pause")
	os.Exit(2)
}
