//go:build linux

package container

import (
	"errors"
	"fmt"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
	"github.com/opencontainers/cgroups/manager"
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
	dir, ws, err := memoryWorkingSet(cm.GetPaths())
	if err != nil {
		return PodStats{}, fmt.Errorf("pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	s := PodStats{MemoryWorkingSet: ws, ContainerMemoryWorkingSet: map[string]int64{}}
	pids, err := cgroups.GetAllPids(dir)
	if err != nil {
		return PodStats{}, fmt.Errorf("list the processes of pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	s.Processes = int64(len(pids))
	for _, name := range containers {
		lm, err := manager.New(&cgroups.Cgroup{Path: m.containerCgroupPath(id, name), Resources: &cgroups.Resources{}})
		if err != nil {
			continue
		}
		if _, ws, err := memoryWorkingSet(lm.GetPaths()); err == nil {
			s.ContainerMemoryWorkingSet[name] = ws
		}
	}
	return s, nil
}

// memoryWorkingSet reads a cgroup's working set as cadvisor computes it:
// usage less the inactive file cache, never below zero. On v1 (the memory
// controller, also on a hybrid host) that is memory.usage_in_bytes less
// memory.stat's total_inactive_file; on v2 memory.current less
// inactive_file. It returns the directory it read.
func memoryWorkingSet(paths map[string]string) (string, int64, error) {
	dir, usageFile, inactiveKey := paths["memory"], "memory.usage_in_bytes", "total_inactive_file"
	if dir == "" && cgroups.IsCgroup2UnifiedMode() {
		dir, usageFile, inactiveKey = paths[""], "memory.current", "inactive_file"
	}
	if dir == "" {
		return "", 0, errors.New("no memory cgroup")
	}
	usage, err := fscommon.GetCgroupParamUint(dir, usageFile)
	if err != nil {
		return "", 0, err
	}
	inactive, err := fscommon.GetValueByKey(dir, "memory.stat", inactiveKey)
	if err != nil {
		return "", 0, err
	}
	if inactive >= usage {
		return dir, 0, nil
	}
	return dir, int64(usage - inactive), nil
}
