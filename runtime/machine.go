package runtime

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
)

// MachineInfo describes this machine for the node object and for the
// defaults of --cpu and --memory.
type MachineInfo struct {
	// MilliCPU is the number of CPUs this process may run on, in millicores.
	MilliCPU int64
	// MemoryBytes is the machine's total memory.
	MemoryBytes int64
	// OS and Arch are GOOS and GOARCH, the values of the kubernetes.io/os
	// and kubernetes.io/arch labels.
	OS, Arch string
	// KernelVersion is the kernel release (uname -r).
	KernelVersion string
	// OSImage is the distribution's PRETTY_NAME from os-release.
	OSImage string
	// MaxPID is the node's pid capacity (PIDStats.MaxPID); 0 when
	// unreadable, which only matters to --system-reserved pid=...
	MaxPID int64
}

// Machine reads what the machine has. Memory and kernel version come from
// the kernel; a failure to read them is an error, because the agent would
// otherwise offer resources it does not have.
func Machine() (MachineInfo, error) {
	info := MachineInfo{
		MilliCPU: int64(goruntime.NumCPU()) * 1000,
		OS:       goruntime.GOOS,
		Arch:     goruntime.GOARCH,
		OSImage:  osImage(),
	}
	mem, err := totalMemory()
	if err != nil {
		return info, fmt.Errorf("read machine memory: %w", err)
	}
	info.MemoryBytes = mem
	info.KernelVersion, err = kernelVersion()
	if err != nil {
		return info, fmt.Errorf("read kernel version: %w", err)
	}
	info.MaxPID, _ = MaxPID() // 0 when unreadable, as documented
	return info, nil
}

// osImage returns PRETTY_NAME from /etc/os-release, or "" if unreadable:
// it is informational only.
func osImage() string {
	for _, path := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return ""
}
