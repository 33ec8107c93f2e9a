//go:build linux

package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// orphanScanInterval is how often ReapOrphans looks for zombies; one is
// reaped at the second look that finds it, so within two intervals.
const orphanScanInterval = time.Second

// libcontainerStagePrefix starts the names (comm) of the processes runc's
// nsexec forks: "runc:[0:PARENT]", "runc:[1:CHILD]" and "runc:[2:INIT]".
// A container's program that has exec'd is named after its binary.
const libcontainerStagePrefix = "runc:["

// ReapOrphans reaps, until ctx ends, the zombies libcontainer leaves behind
// when a container start or an exec fails half-way. nsexec forks its
// stages with CLONE_PARENT, so they are children of this process; on
// success libcontainer waits for each, but when the first stage is killed
// mid-way (an exec into a container whose main process is dying, as a
// probe does while a pod is torn down) nobody knows their PIDs and they
// stay zombies. One that had already entered the container's PID namespace
// is worse than a leak: PID 1 of that namespace cannot finish exiting
// until every process in it is reaped, so the container's own exit is
// never reported and the sandbox is never destroyed.
//
// Only children named like nsexec's stages are reaped, and only once seen
// as zombies at two scans in a row: a process libcontainer does track has
// a goroutine blocked waiting for it, which reaps it at once.
func (m *Manager) ReapOrphans(ctx context.Context) {
	t := time.NewTicker(orphanScanInterval)
	defer t.Stop()
	var candidates map[int]bool
	for {
		candidates = m.reapOrphansOnce(candidates)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reapOrphansOnce reaps the stage zombies that were already zombies at the
// previous scan and returns those seen for the first time now.
func (m *Manager) reapOrphansOnce(previous map[int]bool) map[int]bool {
	pids, err := zombieStageChildren()
	if err != nil {
		m.log.Warn("looking for orphaned container processes", "err", err)
		return nil
	}
	next := map[int]bool{}
	for _, pid := range pids {
		if !previous[pid] {
			next[pid] = true
			continue
		}
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		switch {
		case err == nil && got == pid:
			m.log.Debug("reaped an orphaned container process", "pid", pid)
		case errors.Is(err, unix.ECHILD):
			// Reaped meanwhile by whoever tracked it after all.
		case err != nil:
			m.log.Warn("reaping an orphaned container process", "pid", pid, "err", err)
		}
	}
	return next
}

// zombieStageChildren lists this process's children that are zombies named
// like nsexec's stages. Children are read from every thread's children
// list (a child belongs to the thread that forked it).
func zombieStageChildren() ([]int, error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "children"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread has exited
		}
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("children of task %s: %q: %w", task.Name(), f, err)
			}
			comm, state, err := procState(pid)
			if err != nil {
				continue // gone already
			}
			if state == 'Z' && strings.HasPrefix(comm, libcontainerStagePrefix) {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// procState returns a process's name and state letter from
// /proc/<pid>/stat ("pid (comm) S ..."; comm may itself hold spaces and
// parentheses, so it ends at the last ')').
func procState(pid int) (comm string, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return "", 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, b)
	}
	return string(b[open+1 : end]), b[end+2], nil
}
