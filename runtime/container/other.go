//go:build !linux

package container

import (
	"fmt"
	"os"
)

// Init is libcontainer's re-exec entry point on Linux; containers need
// Linux, so elsewhere it only says so. It exists so that the gossipod
// binary (the CLI half of it) builds on other systems.
func Init() {
	fmt.Fprintln(os.Stderr, "containers need Linux")
	os.Exit(255)
}
