package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PIDStats is the node's task count against its pid capacity: what
// kubelet's pid.available eviction signal and the PIDPressure condition
// are computed from.
type PIDStats struct {
	// MaxPID is the node's pid capacity: the smaller of kernel.pid_max
	// and kernel.threads-max, both system-wide limits on tasks (kubelet's
	// pidlimit.Stats).
	MaxPID int64
	// Running is the number of tasks (processes and threads) that exist,
	// /proc/loadavg's fourth field's denominator, as kubelet reads it.
	Running int64
}

// Available is pid.available: how many more tasks the node can have.
func (s PIDStats) Available() int64 { return s.MaxPID - s.Running }

// ReadPIDStats reads the node's PIDStats from /proc.
func ReadPIDStats() (PIDStats, error) {
	return readPIDStats("/proc")
}

func readPIDStats(proc string) (PIDStats, error) {
	var s PIDStats
	pidMax, err := readProcInt(proc, "sys/kernel/pid_max")
	if err != nil {
		return s, err
	}
	s.MaxPID = pidMax
	if threadsMax, err := readProcInt(proc, "sys/kernel/threads-max"); err == nil && threadsMax < s.MaxPID {
		s.MaxPID = threadsMax
	}
	b, err := os.ReadFile(proc + "/loadavg")
	if err != nil {
		return s, fmt.Errorf("read the node's task count: %w", err)
	}
	if s.Running, err = parseLoadavgTasks(string(b)); err != nil {
		return s, err
	}
	return s, nil
}

// MaxPID is the node's pid capacity (PIDStats.MaxPID).
func MaxPID() (int64, error) {
	s, err := ReadPIDStats()
	return s.MaxPID, err
}

// parseLoadavgTasks reads the number of tasks from /proc/loadavg, whose
// fourth field is running/total ("0.20 0.18 0.12 1/80 11206").
func parseLoadavgTasks(loadavg string) (int64, error) {
	fields := strings.Fields(loadavg)
	if len(fields) < 4 {
		return 0, fmt.Errorf("/proc/loadavg %q: no task counts", loadavg)
	}
	_, total, ok := strings.Cut(fields[3], "/")
	n, err := strconv.ParseInt(total, 10, 64)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("/proc/loadavg %q: task counts %q are not running/total", loadavg, fields[3])
	}
	return n, nil
}

func readProcInt(proc, name string) (int64, error) {
	b, err := os.ReadFile(proc + "/" + name)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}
