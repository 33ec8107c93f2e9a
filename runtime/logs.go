package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// LogOptions select what Logs returns, as `kubectl logs` flags do.
type LogOptions struct {
	// Follow keeps streaming what the container writes until it exits or
	// the context ends (-f).
	Follow bool
	// TailLines is how many of the last lines to return; -1 (or any
	// negative) for all (--tail).
	TailLines int64
	// Previous reads the instance before the latest one, the one that
	// crashed before a restart (--previous).
	Previous bool
}

// Errors of Logs and Exec, for errors.Is; the messages are Kubernetes'.
var (
	// ErrPodNotFound: no such pod on this node.
	ErrPodNotFound = errors.New("pod not found on this node")
	// ErrContainerNotFound: no container of that name in the pod, or no
	// name given for a pod with several.
	ErrContainerNotFound = errors.New("container not found")
	// ErrContainerNotStarted: the container has not run yet, so it has no
	// logs (it is waiting to start).
	ErrContainerNotStarted = errors.New("container is waiting to start")
	// ErrNoPreviousLogs: --previous for a container that was never
	// restarted.
	ErrNoPreviousLogs = errors.New("no previous terminated container")
	// ErrContainerNotRunning: exec into a container that does not run.
	ErrContainerNotRunning = errors.New("container is not running")
)

// userError is an error whose message is written for the user (in
// Kubernetes' words) and whose kind is one of the sentinels above.
type userError struct {
	kind error
	msg  string
}

// Error is the message for the user.
func (e *userError) Error() string { return e.msg }

// Unwrap is the error's kind, one of the sentinels.
func (e *userError) Unwrap() error { return e.kind }

func userErrorf(kind error, format string, args ...any) error {
	return &userError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// logPath is where the n-th instance of a container writes.
func (r *Runtime) logPath(uid, container string, n int32) string {
	return filepath.Join(r.podDir(uid), "logs", container, strconv.Itoa(int(n))+".log")
}

// prepareLog makes the log directory of a container ready for instance n
// and removes the files of instances before n-1: as kubelet, the runtime
// keeps the logs of the latest instance and of the one before.
func (w *podWorker) prepareLog(container string, n int) (string, error) {
	path := w.r.logPath(w.uid, container, int32(n))
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	for old := n - 2; old >= 0; old-- {
		err := os.Remove(w.r.logPath(w.uid, container, int32(old)))
		if errors.Is(err, os.ErrNotExist) {
			break // older ones went before
		}
	}
	return path, nil
}

// Logs writes a container's log to out, as `kubectl logs` shows it.
// container may be empty for a pod with a single container. It fails with
// ErrPodNotFound, ErrContainerNotFound, ErrContainerNotStarted or
// ErrNoPreviousLogs, in Kubernetes' words (`container "x" in pod "y" is
// waiting to start: ContainerCreating`). With Follow it returns when the
// container's instance exits or ctx ends.
func (r *Runtime) Logs(ctx context.Context, namespace, name, container string, opts LogOptions, out io.Writer) error {
	w := r.findWorker(namespace, name)
	if w == nil {
		return userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	snap := w.snapshot()
	if snap.removed {
		return userErrorf(ErrPodNotFound, "pods %q not found", name)
	}
	container, cs, err := pickContainer(snap, name, container)
	if err != nil {
		return err
	}
	n := cs.restartCount
	if opts.Previous {
		if !cs.started || n == 0 {
			return userErrorf(ErrNoPreviousLogs, "previous terminated container %q in pod %q not found", container, name)
		}
		n--
	} else if !cs.started {
		reason := cs.waiting
		if reason == "" {
			reason = reasonContainerCreating
		}
		return userErrorf(ErrContainerNotStarted, "container %q in pod %q is waiting to start: %s", container, name, reason)
	}
	f, err := os.Open(r.logPath(w.uid, container, n))
	if errors.Is(err, os.ErrNotExist) {
		if opts.Previous {
			return userErrorf(ErrNoPreviousLogs, "previous terminated container %q in pod %q not found", container, name)
		}
		return nil // started, nothing written yet... and the file went with a restart
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeTail(f, opts.TailLines, out); err != nil {
		return err
	}
	if !opts.Follow || opts.Previous || cs.done == nil {
		return nil
	}
	return follow(ctx, f, cs.done, out)
}

// pickContainer resolves the container a Logs or Exec call means: the only
// one of the pod when none is named.
func pickContainer(snap *podSnapshot, pod, name string) (string, containerSnapshot, error) {
	if name == "" {
		if len(snap.pod.Spec.Containers) != 1 {
			var names, inits []string
			for _, c := range snap.pod.Spec.Containers {
				names = append(names, c.Name)
			}
			for _, c := range snap.pod.Spec.InitContainers {
				inits = append(inits, c.Name)
			}
			msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod, names)
			if len(inits) > 0 {
				msg += fmt.Sprintf(" or one of the init containers: %v", inits)
			}
			return "", containerSnapshot{}, userErrorf(ErrContainerNotFound, "%s", msg)
		}
		name = snap.pod.Spec.Containers[0].Name
	}
	cs, ok := snap.containers[name]
	if !ok {
		return "", containerSnapshot{}, userErrorf(ErrContainerNotFound, "container %s is not valid for pod %s", name, pod)
	}
	return name, cs, nil
}

// tailChunk is how much writeTail reads backwards at a time.
const tailChunk = 32 << 10

// writeTail copies the last n lines of f to out (all of it when n < 0)
// and leaves f's offset at the end of what it copied.
func writeTail(f *os.File, n int64, out io.Writer) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	start, err := tailOffset(f, size, n)
	if err != nil {
		return err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	_, err = io.CopyN(out, f, size-start)
	return err
}

// tailOffset is where the last n lines of the first size bytes of f begin,
// found by reading backwards from the end, so that a long log costs only
// its tail. The newline that ends the last line does not start another.
func tailOffset(f *os.File, size, n int64) (int64, error) {
	switch {
	case n < 0:
		return 0, nil
	case n == 0:
		return size, nil
	}
	buf := make([]byte, tailChunk)
	var found int64
	for pos := size; pos > 0; {
		k := min(int64(len(buf)), pos)
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := k - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			if found++; found == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// followPoll is how often a followed log is checked for new output.
const followPoll = 200 * time.Millisecond

// follow streams what is appended to f until done closes (the instance
// exited: what it wrote last is copied, then follow returns) or ctx ends.
// A file cut down by rotation is read again from its start.
func follow(ctx context.Context, f *os.File, done <-chan struct{}, out io.Writer) error {
	t := time.NewTicker(followPoll)
	defer t.Stop()
	for {
		if err := copyNew(f, out); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return copyNew(f, out)
		case <-t.C:
		}
	}
}

// copyNew copies what was appended to f since its offset; if the file
// shrank below the offset (rotation), it starts over from the beginning.
func copyNew(f *os.File, out io.Writer) error {
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < off {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	_, err = io.Copy(out, f)
	return err
}

// rotateLogs cuts every running container's log that grew past
// LogMaxBytes down to its newest half.
func (r *Runtime) rotateLogs() {
	r.mu.Lock()
	ws := make([]*podWorker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	r.mu.Unlock()
	for _, w := range ws {
		snap := w.snapshot()
		if snap.removed {
			continue
		}
		for name, cs := range snap.containers {
			if !cs.running {
				continue
			}
			path := r.logPath(w.uid, name, cs.restartCount)
			if err := rotateLog(path, r.cfg.LogMaxBytes); err != nil && !errors.Is(err, os.ErrNotExist) {
				r.log.Warn("rotating container log", "path", path, "err", err)
			}
		}
	}
}

// rotateLog keeps a log under max bytes while its container writes to it
// (with O_APPEND, so it cannot be renamed away: the container would go on
// writing to the old file). Past max, the file is cut down to its newest
// half, starting at a line: the head is dropped in place with
// FALLOC_FL_COLLAPSE_RANGE where the filesystem supports it, which loses
// nothing the container writes meanwhile; elsewhere the tail is copied,
// the file truncated and the tail written back (copytruncate), which can
// lose what is written in between.
func rotateLog(path string, max int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size <= max {
		return nil
	}
	keep := max / 2
	cut := size - keep
	if collapsed, err := collapseHead(f, cut); err != nil || collapsed {
		return err
	}
	tail := make([]byte, keep)
	n, err := f.ReadAt(tail, cut)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	tail = tail[:n]
	if i := bytes.IndexByte(tail, '\n'); i >= 0 && i < len(tail)-1 {
		tail = tail[i+1:] // start at a line
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err = f.Write(tail)
	return err
}
