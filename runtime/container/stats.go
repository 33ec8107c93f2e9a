//go:build linux

package container

import (
	"fmt"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
)

// PodStats is a pod's memory and process use, read from its cgroups the
// way cadvisor reads them for kubelet's eviction manager.
type PodStats struct {
	// MemoryWorkingSet is the pod cgroup's working set in bytes (the pause
	// and every container): memory usage less inactive file cache.
	MemoryWorkingSet int64
	// ContainerMemoryWorkingSet is each asked container's working set, by
	// name; a container without a cgroup now is missing.
	ContainerMemoryWorkingSet map[string]int64
	// Processes is the number of processes in the pod's cgroup tree.
	Processes int64
}

// PodStats reads the memory working set and the process count of the
// sandbox's pod cgroup, and the working set of each of containers' leaves:
// what the eviction manager ranks pods by under memory or pid pressure.
func (m *Manager) PodStats(id string, containers []string) (PodStats, error) {
	cm, err := m.podCgroupManager(id)
	if err != nil {
		return PodStats{}, fmt.Errorf("pod cgroup: %w", err)
	}
	dir, v2 := memoryDir(cm.GetPaths())
	if dir == "" {
		return PodStats{}, fmt.Errorf("pod cgroup %s: no memory cgroup", m.podCgroupPath(id))
	}
	ws, err := workingSetOf(dir, v2)
	if err != nil {
		return PodStats{}, fmt.Errorf("pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	s := PodStats{MemoryWorkingSet: ws, ContainerMemoryWorkingSet: map[string]int64{}}
	pids, err := cgroups.GetAllPids(dir)
	if err != nil {
		return PodStats{}, fmt.Errorf("list the processes of pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	s.Processes = int64(len(pids))
	// A container's leaf is <pod cgroup>/<name> in every hierarchy.
	for _, name := range containers {
		if ws, err := workingSetOf(filepath.Join(dir, name), v2); err == nil {
			s.ContainerMemoryWorkingSet[name] = ws
		}
	}
	return s, nil
}

// memoryDir is the directory of a cgroup's memory controller: the v1
// memory hierarchy's (also on a hybrid host), else the unified one's on
// v2; "" when there is none.
func memoryDir(paths map[string]string) (dir string, v2 bool) {
	if p := paths["memory"]; p != "" {
		return p, false
	}
	if p := paths[""]; p != "" && cgroups.IsCgroup2UnifiedMode() {
		return p, true
	}
	return "", false
}

// workingSetOf reads a cgroup's working set as cadvisor computes it:
// usage less the inactive file cache, never below zero; on v1
// memory.usage_in_bytes less memory.stat's total_inactive_file, on v2
// memory.current less inactive_file.
func workingSetOf(dir string, v2 bool) (int64, error) {
	usageFile, inactiveKey := "memory.usage_in_bytes", "total_inactive_file"
	if v2 {
		usageFile, inactiveKey = "memory.current", "inactive_file"
	}
	usage, err := fscommon.GetCgroupParamUint(dir, usageFile)
	if err != nil {
		return 0, err
	}
	inactive, err := fscommon.GetValueByKey(dir, "memory.stat", inactiveKey)
	if err != nil {
		return 0, err
	}
	if inactive >= usage {
		return 0, nil
	}
	return int64(usage - inactive), nil
}
