//go:build linux

package container

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A zombie child named like one of nsexec's stages is reaped at the second
// scan that finds it, not the first (a tracked one would be reaped by its
// waiter in between); a zombie child with any other name is left to
// whoever started it.
func TestReapOrphansReapsOnlyStageZombies(t *testing.T) {
	truePath := "/bin/true"
	b, err := os.ReadFile(truePath)
	if err != nil {
		t.Skipf("no %s to run: %v", truePath, err)
	}
	dir := t.TempDir()
	spawn := func(name string) int {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		pid, err := syscall.ForkExec(path, []string{name}, &syscall.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if comm, state, err := procState(pid); err == nil && state == 'Z' && comm == name {
				return pid
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) did not become a zombie", name, pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stage := spawn("runc:[1:CHILD]")
	other := spawn("other-child")
	t.Cleanup(func() {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(stage, &ws, unix.WNOHANG, nil)
		_, _ = unix.Wait4(other, &ws, unix.WNOHANG, nil)
	})
	isZombie := func(pid int) bool {
		_, state, err := procState(pid)
		return err == nil && state == 'Z'
	}

	m := &Manager{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	first := m.reapOrphansOnce(nil)
	if !first[stage] || first[other] {
		t.Errorf("first scan's candidates = %v, want %d and not %d", first, stage, other)
	}
	if !isZombie(stage) {
		t.Fatalf("the first scan reaped %d already", stage)
	}
	second := m.reapOrphansOnce(first)
	if isZombie(stage) {
		t.Errorf("the second scan did not reap %d", stage)
	}
	if second[stage] {
		t.Errorf("%d still a candidate after it was reaped", stage)
	}
	if !isZombie(other) {
		t.Errorf("%d (not a stage of nsexec) was reaped", other)
	}
}
