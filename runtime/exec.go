package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// findWorker returns the worker of the pod namespace/name; when a pod of
// that name is being removed and a new one of the same name exists, the
// new one.
func (r *Runtime) findWorker(namespace, name string) *podWorker {
	r.mu.Lock()
	defer r.mu.Unlock()
	var found *podWorker
	for _, w := range r.workers {
		s := w.snapshot()
		if s.pod.Namespace != namespace || s.pod.Name != name {
			continue
		}
		if found == nil || found.snapshot().removed && !s.removed {
			found = w
		}
	}
	return found
}

// Exec runs cmd in a running container of a pod (`gossipod exec`) and
// returns its exit code; with tty it gets a terminal (stdout and stderr
// merged). container may be empty for a pod with a single container.
// Errors are Kubernetes': ErrPodNotFound, ErrContainerNotFound, and
// ErrContainerNotRunning (including for a completed pod, `cannot exec into
// a container in a completed pod; current phase is Succeeded`).
func (r *Runtime) Exec(ctx context.Context, namespace, name, container string, cmd []string, stdin io.Reader, stdout, stderr io.Writer, tty bool) (int, error) {
	w := r.findWorker(namespace, name)
	if w == nil {
		return -1, userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	snap := w.snapshot()
	if snap.removed {
		return -1, userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	if snap.terminal {
		return -1, userErrorf(ErrContainerNotRunning,
			"cannot exec into a container in a completed pod; current phase is %s", snap.status.Phase)
	}
	if len(cmd) == 0 {
		return -1, errors.New("you must specify at least one command for the container")
	}
	container, cs, err := pickContainer(snap, name, container)
	if err != nil {
		return -1, err
	}
	if !cs.running || snap.sandbox == nil {
		return -1, userErrorf(ErrContainerNotRunning, "container %s is not running in pod %s", container, name)
	}
	code, err := snap.sandbox.Exec(ctx, container, cmd, stdin, stdout, stderr, tty)
	if errors.Is(err, errNotRunning) || errors.Is(err, errNotFound) {
		return -1, userErrorf(ErrContainerNotRunning, "container %s is not running in pod %s", container, name)
	}
	if err != nil {
		return -1, fmt.Errorf("exec in container %s of pod %s: %w", container, name, err)
	}
	return code, nil
}
