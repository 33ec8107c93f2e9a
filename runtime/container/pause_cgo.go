//go:build linux && cgo

package container

// The sandbox's pause process is pause_linux.c: a C constructor that takes
// over a process started as /pause before the Go runtime starts, so that
// the pod's fixed memory cost does not grow with what the agent imports.
// This file only makes the package a cgo package, so the C file is built
// into every binary that can start containers.

import "C"
