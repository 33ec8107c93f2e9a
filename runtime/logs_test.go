package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

func TestWriteTail(t *testing.T) {
	big := strings.Repeat("0123456789abcdef\n", 5000) // several tail chunks
	for _, tc := range []struct {
		content string
		n       int64
		want    string
	}{
		{"a\nb\nc\n", -1, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 10, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"}, // a last line without its newline
		{"a\nb\nc", 2, "b\nc"},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
		{big + "last\n", 2, "0123456789abcdef\nlast\n"},
	} {
		f := tempFile(t, tc.content)
		var b bytes.Buffer
		if err := writeTail(f, tc.n, &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("tail %d of %q: %q, want %q", tc.n, short(tc.content), b.String(), tc.want)
		}
	}
}

func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func tempFile(t *testing.T, content string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Rotation keeps a log under its cap, keeping the newest part, while a
// writer appends to it, on a filesystem that can collapse a file's head
// (the test dir) and on one that cannot (tmpfs, copytruncate).
func TestRotateLog(t *testing.T) {
	dirs := map[string]string{"disk": t.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "gossipod-rotate-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs["tmpfs"] = d
		}
	}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "0.log")
			w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			const capBytes = 64 << 10
			for i := range 10000 {
				fmt.Fprintf(w, "line %05d\n", i)
			}
			if err := rotateLog(path, capBytes); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(w, "after rotation\n") // the writer's O_APPEND goes on at the new end
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > capBytes {
				t.Errorf("%d bytes after rotation, cap %d", len(b), capBytes)
			}
			if !bytes.HasSuffix(b, []byte("line 09999\nafter rotation\n")) {
				t.Errorf("newest lines lost; ends with %q", b[max(len(b)-40, 0):])
			}
			if bytes.Contains(b, []byte("line 00000\n")) {
				t.Error("oldest lines kept")
			}
			if bytes.Contains(b, []byte{0}) {
				t.Error("holes (NUL bytes) in the rotated log")
			}
			// Under the cap: untouched.
			before, _ := os.ReadFile(path)
			if err := rotateLog(path, capBytes); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Error("a log under the cap was changed")
			}
		})
	}
}

func TestLogsOnDoubles(t *testing.T) {
	h := newHarness(t)
	p := withInit(testPod("logs", "a", "b"), "init")
	h.r.SyncPods([]*api.Pod{p})
	ctx := context.Background()
	var b bytes.Buffer

	// Errors, in Kubernetes' words.
	err := h.r.Logs(ctx, "default", "nope", "a", LogOptions{TailLines: -1}, &b)
	if !errors.Is(err, ErrPodNotFound) || err.Error() != `pods "nope" not found` {
		t.Errorf("unknown pod: %v", err)
	}
	h.waitFor(string(p.UID), "init running", func(u PodUpdate) bool { return u.Status.InitContainerStatuses[0].State.Running != nil })
	err = h.r.Logs(ctx, "default", "logs", "", LogOptions{TailLines: -1}, &b)
	if !errors.Is(err, ErrContainerNotFound) || err.Error() != "a container name must be specified for pod logs, choose one of: [a b] or one of the init containers: [init]" {
		t.Errorf("no container named: %v", err)
	}
	err = h.r.Logs(ctx, "default", "logs", "zz", LogOptions{TailLines: -1}, &b)
	if !errors.Is(err, ErrContainerNotFound) || err.Error() != "container zz is not valid for pod logs" {
		t.Errorf("unknown container: %v", err)
	}
	err = h.r.Logs(ctx, "default", "logs", "a", LogOptions{TailLines: -1}, &b)
	if !errors.Is(err, ErrContainerNotStarted) || err.Error() != `container "a" in pod "logs" is waiting to start: PodInitializing` {
		t.Errorf("app while initializing: %v", err)
	}
	err = h.r.Logs(ctx, "default", "logs", "init", LogOptions{Previous: true}, &b)
	if !errors.Is(err, ErrNoPreviousLogs) || err.Error() != `previous terminated container "init" in pod "logs" not found` {
		t.Errorf("previous of a first instance: %v", err)
	}

	// The init container's log, then the app's across a restart.
	if got := logsOf(t, h, "logs", "init", LogOptions{TailLines: -1}); got != "init attempt 0\n" {
		t.Errorf("init log %q", got)
	}
	h.container(string(p.UID), "init", 0).exit(exitStatus{Code: 0})
	h.waitPhase(string(p.UID), api.PodRunning)
	h.container(string(p.UID), "a", 0).exit(exitStatus{Code: 1})
	h.container(string(p.UID), "a", 1)
	h.waitFor(string(p.UID), "a restarted", func(u PodUpdate) bool { return u.Status.ContainerStatuses[0].RestartCount == 1 })
	if got := logsOf(t, h, "logs", "a", LogOptions{TailLines: -1}); got != "a attempt 1\n" {
		t.Errorf("current log %q", got)
	}
	if got := logsOf(t, h, "logs", "a", LogOptions{Previous: true, TailLines: -1}); got != "a attempt 0\n" {
		t.Errorf("previous log %q", got)
	}
	// Only the latest two instances' logs are kept.
	h.container(string(p.UID), "a", 1).exit(exitStatus{Code: 1})
	h.container(string(p.UID), "a", 2)
	waitUntil(t, "oldest log pruned", func() bool {
		_, err := os.Stat(h.r.logPath(string(p.UID), "a", 0))
		return errors.Is(err, os.ErrNotExist)
	})

	// Follow returns when the instance exits, with what it wrote last.
	done := make(chan string)
	go func() {
		var fb bytes.Buffer
		h.r.Logs(ctx, "default", "logs", "b", LogOptions{Follow: true, TailLines: -1}, &fb)
		done <- fb.String()
	}()
	time.Sleep(50 * time.Millisecond)
	f, err := os.OpenFile(h.r.logPath(string(p.UID), "b", 0), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "more")
	f.Close()
	h.container(string(p.UID), "b", 0).exit(exitStatus{Code: 0})
	select {
	case got := <-done:
		if got != "b attempt 0\nmore\n" {
			t.Errorf("followed %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end with the container")
	}
}

func logsOf(t *testing.T, h *harness, pod, c string, opts LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := h.r.Logs(context.Background(), "default", pod, c, opts, &b); err != nil {
		t.Fatalf("logs %s/%s: %v", pod, c, err)
	}
	return b.String()
}

func TestExecOnDoubles(t *testing.T) {
	h := newHarness(t)
	p := testPod("ex", "a")
	p.Spec.RestartPolicy = api.RestartPolicyNever
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	var out bytes.Buffer
	code, err := h.r.Exec(context.Background(), "default", "ex", "", []string{"x", "y"}, ExecIO{Stdout: &out, Stderr: &out})
	if err != nil || code != 2 || out.String() != "[x y]\n" {
		t.Errorf("exec: %d %v %q", code, err, out.String())
	}
	h.container(string(p.UID), "a", 0).exit(exitStatus{Code: 0})
	h.waitPhase(string(p.UID), api.PodSucceeded)
	_, err = h.r.Exec(context.Background(), "default", "ex", "a", []string{"x"}, ExecIO{Stdout: &out, Stderr: &out})
	if !errors.Is(err, ErrContainerNotRunning) || err.Error() != "cannot exec into a container in a completed pod; current phase is Succeeded" {
		t.Errorf("exec into a completed pod: %v", err)
	}
}
