package container

import "errors"

// Sentinel errors, for errors.Is: callers (the pod lifecycle manager) act
// on the kind of failure, never on its text.
var (
	// ErrNotFound: no such sandbox or container on disk. After an agent
	// restart this is how a pod that is gone shows.
	ErrNotFound = errors.New("not found")
	// ErrExists: a sandbox with this ID, or a container with this name in
	// the sandbox, already exists; remove it first (a restarted container is
	// Removed, then started again with the next Attempt).
	ErrExists = errors.New("already exists")
	// ErrInvalid: a spec or an argument the runtime cannot accept (bad ID or
	// name, relative path, no lower dirs...).
	ErrInvalid = errors.New("invalid")
	// ErrSandboxDestroyed: the sandbox is being or has been destroyed, so
	// nothing more can start in it.
	ErrSandboxDestroyed = errors.New("sandbox destroyed")
	// ErrNotRunning: the container (or pause) is not running, so it cannot
	// be signalled or exec'd into.
	ErrNotRunning = errors.New("not running")
	// ErrNotStarted: the container's process did not get to run its program
	// (the exec failed after libcontainer reported success).
	ErrNotStarted = errors.New("process did not start")
	// ErrBusy: another call is creating or destroying this sandbox right
	// now; retry later.
	ErrBusy = errors.New("busy")
	// ErrNoCgo: the binary was built without cgo, so libcontainer's nsenter
	// is missing and no container can start (make build uses cgo).
	ErrNoCgo = errors.New("built without cgo: containers cannot start")
)
