//go:build linux

package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/opencontainers/cgroups"
	// Without it the cgroup managers cannot write device rules (v1 devices
	// cgroup, v2 eBPF program) and a container would get every device.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// cpuPeriod is the CFS period every container gets (kubelet's): a limit
// of m millicores is a quota of m*period/1000 per period.
const cpuPeriod = 100000

// minCPUShares is what kubelet gives a container without a CPU request
// (cgroup v1's minimum; v2 weights are converted from it).
const minCPUShares = 2

// podCgroupPath is <CgroupRoot>/pod<ID>: the parent of every container of
// the pod, as kubelet's cgroupfs driver names it.
func (m *Manager) podCgroupPath(id string) string {
	return path.Join(m.cfg.CgroupRoot, "pod"+id)
}

// containerCgroupPath is the leaf of one container (or of the pause).
func (m *Manager) containerCgroupPath(id, name string) string {
	return path.Join(m.podCgroupPath(id), name)
}

// podCgroupManager handles the pod-level cgroup in every controller.
// SkipDevices: on v1, an empty device rule set on the parent would mean
// deny-all, which no child can widen; the parent keeps its own parent's
// rules and each container's leaf restricts itself.
func (m *Manager) podCgroupManager(id string) (cgroups.Manager, error) {
	return manager.New(&cgroups.Cgroup{
		Path:      m.podCgroupPath(id),
		Resources: &cgroups.Resources{SkipDevices: true},
	})
}

// setupCgroupRoot creates CgroupRoot in every controller and sets the
// limits of all pods together before any pod starts: pids.max to
// PodsPidsLimit and the memory limit to PodsMemoryLimit (or "max" and
// unlimited), so the node keeps what the agent reserved whatever the pods
// do. It runs at every start, so a changed limit takes effect on the
// running pods too.
func (m *Manager) setupCgroupRoot() error {
	cm, err := manager.New(&cgroups.Cgroup{
		Path:      m.cfg.CgroupRoot,
		Resources: &cgroups.Resources{SkipDevices: true},
	})
	if err != nil {
		return fmt.Errorf("cgroup %s: %w", m.cfg.CgroupRoot, err)
	}
	if err := cm.Apply(-1); err != nil {
		return fmt.Errorf("create cgroup %s: %w", m.cfg.CgroupRoot, err)
	}
	pids := int64(-1) // "max"
	if m.cfg.PodsPidsLimit > 0 {
		pids = m.cfg.PodsPidsLimit
	}
	memory := int64(-1) // unlimited
	if m.cfg.PodsMemoryLimit > 0 {
		memory = m.cfg.PodsMemoryLimit
	}
	if err := cm.Set(&cgroups.Resources{SkipDevices: true, PidsLimit: &pids, Memory: memory}); err != nil {
		return fmt.Errorf("set the limits of all pods on cgroup %s (pids %d, memory %d bytes; -1 is none): %w",
			m.cfg.CgroupRoot, pids, memory, err)
	}
	return nil
}

// createPodCgroup creates <CgroupRoot>/pod<ID> in every controller,
// without putting a process in it (processes live in the leaves: on v2 a
// cgroup with processes cannot delegate controllers to children), and sets
// the pod's limits on it before any process exists: pids.max, so that
// everything the pod ever forks counts against PodPidsLimit.
func (m *Manager) createPodCgroup(id string) error {
	cm, err := m.podCgroupManager(id)
	if err != nil {
		return fmt.Errorf("pod cgroup: %w", err)
	}
	if err := cm.Apply(-1); err != nil {
		return fmt.Errorf("create pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	if err := cm.Set(podResources(m.cfg)); err != nil {
		return fmt.Errorf("set the limits of pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	return nil
}

// podResources are the limits of a pod cgroup as a whole: pids.max is
// PodPidsLimit, or "max" when it sets none (written all the same, so a
// cgroup left by an agent with another limit gets this one's).
func podResources(cfg Config) *cgroups.Resources {
	limit := int64(-1) // "max"
	if cfg.PodPidsLimit > 0 {
		limit = cfg.PodPidsLimit
	}
	return &cgroups.Resources{SkipDevices: true, PidsLimit: &limit}
}

// killPodProcesses SIGKILLs every process in the pod's cgroup tree (pause,
// containers, exec'd processes, anything they forked) and waits until the
// tree is empty or ctx ends. The cgroup, not our bookkeeping, is the truth
// about what still runs: it also covers what a previous agent started.
func (m *Manager) killPodProcesses(ctx context.Context, id string) error {
	cm, err := m.podCgroupManager(id)
	if err != nil {
		return err
	}
	paths := cm.GetPaths()
	// cgroup.kill (v2 and the unified half of a hybrid host) kills the
	// whole subtree atomically, forks included.
	if p := paths[""]; p != "" {
		if err := cgroups.WriteFile(p, "cgroup.kill", "1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cgroup.kill %s: %w", p, err)
		}
	}
	if err := killCgroup(ctx, paths); err != nil {
		return fmt.Errorf("pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	return nil
}

// killCgroup SIGKILLs every process in the cgroup dirs of paths until none
// is left, or ctx ends.
func killCgroup(ctx context.Context, paths map[string]string) error {
	dirs := existingDirs(paths)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		left := 0
		for _, dir := range dirs {
			pids, err := cgroups.GetAllPids(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("list processes in %s: %w", dir, err)
			}
			for _, pid := range pids {
				left++
				if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("kill %d: %w", pid, err)
				}
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d process(es) still in the cgroup: %w", left, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// existingDirs returns the distinct cgroup dirs of paths that exist. On v1
// each controller is a hierarchy of its own, and a process could in
// principle sit in one and not another; checking them all is cheap.
func existingDirs(paths map[string]string) []string {
	seen := map[string]bool{}
	var dirs []string
	for _, p := range paths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Stat(p); err == nil {
			dirs = append(dirs, p)
		}
	}
	return dirs
}

// removePodCgroup removes <CgroupRoot>/pod<ID> and whatever leaves are
// left under it, in every controller. libcontainer's Destroy removes only a
// container's leaf; the pod level is ours.
func (m *Manager) removePodCgroup(id string) error {
	cm, err := m.podCgroupManager(id)
	if err != nil {
		return err
	}
	if err := cm.Destroy(); err != nil {
		return fmt.Errorf("remove pod cgroup %s: %w", m.podCgroupPath(id), err)
	}
	return nil
}

// podCgroupDirs lists the pod's cgroup directories that exist, in every
// controller: empty once the pod is fully removed.
func (m *Manager) podCgroupDirs(id string) ([]string, error) {
	cm, err := m.podCgroupManager(id)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, p := range cm.GetPaths() {
		if _, err := os.Stat(p); err == nil {
			dirs = append(dirs, p)
		}
	}
	return dirs, nil
}

// resources converts a container's limits to cgroup settings, as kubelet
// does: the CPU limit is a CFS quota over a 100 ms period, the request is
// shares (the v2 manager converts them to a weight), the memory limit is
// enforced with swap included.
func resources(spec ContainerSpec) *cgroups.Resources {
	r := &cgroups.Resources{Devices: deviceRules(), CpuShares: minCPUShares}
	if spec.MilliCPURequest > 0 {
		r.CpuShares = max(uint64(spec.MilliCPURequest)*1024/1000, minCPUShares)
	}
	if spec.MilliCPULimit > 0 {
		r.CpuQuota = max(spec.MilliCPULimit*cpuPeriod/1000, 1000) // the kernel's minimum is 1 ms
		r.CpuPeriod = cpuPeriod
	}
	if spec.MemoryLimitBytes > 0 {
		r.Memory = spec.MemoryLimitBytes
		// Memory plus swap equal to the limit: swap does not stretch it.
		if swapAccounting() {
			r.MemorySwap = spec.MemoryLimitBytes
		}
	}
	return r
}

// swapAccounting tells whether a swap limit can be written: always on v2
// (the manager tolerates a missing memory.swap.max for "no swap"), on v1
// only with memory.memsw.* (swapaccount=1).
func swapAccounting() bool {
	if cgroups.IsCgroup2UnifiedMode() {
		return true
	}
	mnt, err := cgroups.FindCgroupMountpoint("", "memory")
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(mnt, "memory.memsw.limit_in_bytes"))
	return err == nil
}

// oomKills reads how many processes the kernel's OOM killer killed in a
// container's cgroup: memory.oom_control's oom_kill on v1 (the memory
// controller, also on a hybrid host), memory.events' oom_kill on v2.
func oomKills(paths map[string]string) (uint64, error) {
	if p := paths["memory"]; p != "" {
		return fs.OOMKillCount(p)
	}
	if p := paths[""]; p != "" && cgroups.IsCgroup2UnifiedMode() {
		return fs2.OOMKillCount(p)
	}
	return 0, errors.New("no memory cgroup")
}
