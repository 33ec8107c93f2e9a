//go:build linux && cgo

package container

// nsenter is a C constructor that runs before the Go runtime starts when
// the binary is re-exec'd as "init": it joins or creates the container's
// namespaces while the process is still single-threaded, which Go cannot
// do. It is why gossipod is built with cgo.
import _ "github.com/opencontainers/runc/libcontainer/nsenter"

// cgoEnabled tells whether containers can be started at all (nsenter is in).
const cgoEnabled = true
