package eviction

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// thresholdMetMessageFmt is kubelet's, after the node-low sentence.
const thresholdMetMessageFmt = "Threshold quantity: %v, available: %v. "

// systemCriticalPriority is kubelet's scheduling.SystemCriticalPriority:
// a pod at or above it is critical and never evicted for node pressure.
const systemCriticalPriority = 2000000000

// PodStats is a pod's memory and process use, read from its cgroups, as
// cadvisor gives them to kubelet's eviction manager.
type PodStats struct {
	// MemoryWorkingSet is the pod cgroup's working set in bytes: its
	// memory usage less its inactive file cache (which the kernel
	// reclaims first), the sandbox included.
	MemoryWorkingSet int64
	// ContainerMemoryWorkingSet is each container's working set, by name,
	// for the eviction message.
	ContainerMemoryWorkingSet map[string]int64
	// Processes is the number of processes in the pod's cgroups.
	Processes int64
}

// Candidate is a running pod as ranking for node-pressure eviction sees
// it: its measured local storage, its memory and processes, and (from its
// spec) its requests and priority.
type Candidate struct {
	Pod   *api.Pod
	Usage PodUsage
	// Stats is nil when the pod's cgroups could not be read: kubelet
	// ranks a pod without stats first.
	Stats *PodStats
}

// PodPriority is the pod's spec.priority, 0 without one, as kubelet's
// corev1helpers.PodPriority.
func PodPriority(p *api.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// IsCritical tells whether the eviction manager must leave the pod alone
// whatever the node's pressure, as kubelet's evictPod refuses a critical
// pod (types.IsCriticalPod): one whose priority is system-critical or
// above. gossipod has no static or mirror pods (its cluster DNS and
// service proxy run in the agent, not as pods), the other critical kinds.
func IsCritical(p *api.Pod) bool { return PodPriority(p) >= systemCriticalPriority }

// ThresholdToReclaim picks, among the thresholds met, the one the
// eviction manager acts on in this round, as kubelet sorts them
// (byEvictionPriority): memory first, then the others in order.
func ThresholdToReclaim(met []Threshold) (Threshold, bool) {
	if len(met) == 0 {
		return Threshold{}, false
	}
	for _, t := range met {
		if t.Signal == SignalMemoryAvailable {
			return t, true
		}
	}
	return met[0], true
}

// Rank orders pods for eviction under the pressure of t's signal, as
// kubelet's rank functions (buildSignalToRankFunc) do:
//
//   - memory.available (rankMemoryPressure): the pods whose memory working
//     set exceeds their memory request first, then by priority, lowest
//     first, then by working set above the request, largest first;
//   - pid.available (rankPIDPressure): by priority, then by process
//     count, largest first;
//   - the disk signals (rankDiskPressureFunc): the pods whose local
//     storage exceeds their ephemeral-storage request first, then by
//     priority, then by storage above the request.
//
// A pod without stats ranks first in the memory and pid orders, as in
// kubelet. Ties are broken by namespace/name, so the ranking is the same
// on every run.
func Rank(s Signal, pods []Candidate) {
	var order []func(a, b *rankKey) int
	switch s {
	case SignalMemoryAvailable:
		order = []func(a, b *rankKey) int{exceedsMemoryRequest, byPriority, byMemoryAboveRequest}
	case SignalPIDAvailable:
		order = []func(a, b *rankKey) int{byPriority, byProcesses}
	default:
		order = []func(a, b *rankKey) int{exceedsDiskRequest, byPriority, byDiskAboveRequest}
	}
	// The requests and usage are computed once per pod, not per
	// comparison.
	keys := make([]rankKey, len(pods))
	sorted := make([]*rankKey, len(pods))
	for i, c := range pods {
		req := api.PodRequests(c.Pod)
		keys[i] = rankKey{c: c, name: c.Pod.Namespace + "/" + c.Pod.Name, priority: PodPriority(c.Pod),
			memRequest: req.Memory, diskRequest: req.EphemeralStorage, diskUsed: c.Usage.Total()}
		sorted[i] = &keys[i]
	}
	slices.SortFunc(sorted, func(a, b *rankKey) int {
		for _, f := range order {
			if c := f(a, b); c != 0 {
				return c
			}
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]Candidate, len(pods))
	for i, k := range sorted {
		out[i] = k.c
	}
	copy(pods, out)
}

// rankKey is a candidate with what the ranking compares.
type rankKey struct {
	c                     Candidate
	name                  string
	priority              int32
	memRequest            int64
	diskRequest, diskUsed int64
}

// firstTrue orders a before b when only a is true (kubelet's cmpBool).
func firstTrue(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// byStats puts the pods without stats first; ok is false when either
// lacks them, with the order to use.
func byStats(a, b *rankKey) (int, bool) {
	if a.c.Stats == nil || b.c.Stats == nil {
		return firstTrue(a.c.Stats == nil, b.c.Stats == nil), false
	}
	return 0, true
}

func exceedsMemoryRequest(a, b *rankKey) int {
	if c, ok := byStats(a, b); !ok {
		return c
	}
	return firstTrue(a.c.Stats.MemoryWorkingSet > a.memRequest, b.c.Stats.MemoryWorkingSet > b.memRequest)
}

func byMemoryAboveRequest(a, b *rankKey) int {
	if c, ok := byStats(a, b); !ok {
		return c
	}
	return cmp.Compare(b.c.Stats.MemoryWorkingSet-b.memRequest, a.c.Stats.MemoryWorkingSet-a.memRequest)
}

func byProcesses(a, b *rankKey) int {
	if c, ok := byStats(a, b); !ok {
		return c
	}
	return cmp.Compare(b.c.Stats.Processes, a.c.Stats.Processes)
}

// byPriority puts the lower priority first.
func byPriority(a, b *rankKey) int { return cmp.Compare(a.priority, b.priority) }

func exceedsDiskRequest(a, b *rankKey) int {
	return firstTrue(a.diskUsed > a.diskRequest, b.diskUsed > b.diskRequest)
}

func byDiskAboveRequest(a, b *rankKey) int {
	return cmp.Compare(b.diskUsed-b.diskRequest, a.diskUsed-a.diskRequest)
}

// thresholdQuantity is the threshold as a quantity against the signal's
// capacity (kubelet's evictionapi.GetThresholdQuantity): the value as
// written, or the percentage of the capacity.
func thresholdQuantity(t Threshold, capacity int64) *resource.Quantity {
	if t.Percentage > 0 {
		return resource.NewQuantity(int64(float64(capacity)*t.Percentage), resource.BinarySI)
	}
	if q, err := resource.ParseQuantity(t.Text); err == nil {
		return &q
	}
	return resource.NewQuantity(t.Quantity, resource.BinarySI)
}

// availableQuantity is an observed amount as kubelet formats it: bytes in
// binary units, counts (inodes, pids) in decimal ones.
func availableQuantity(s Signal, v int64) *resource.Quantity {
	switch s {
	case SignalNodeFsInodesFree, SignalImageFsInodesFree, SignalPIDAvailable:
		return resource.NewQuantity(v, resource.DecimalSI)
	}
	return resource.NewQuantity(v, resource.BinarySI)
}

// PressureMessage is kubelet's message for a pod evicted under the
// pressure of threshold t (evictionMessage): the starved resource, the
// threshold and the amount available, then each container using more of
// the resource than it requests (for memory, its working set; for
// ephemeral storage, its writable layer and logs; nothing for inodes or
// pids). obs is the observation of t's signal that met it.
func PressureMessage(t Threshold, obs Observation, c Candidate) string {
	res := resourceOf(t.Signal)
	var b strings.Builder
	fmt.Fprintf(&b, nodeLowMessageFmt, res)
	fmt.Fprintf(&b, thresholdMetMessageFmt, thresholdQuantity(t, obs.Capacity), availableQuantity(t.Signal, obs.Available))
	// kubelet's order: the app containers, then the init containers.
	for _, ctr := range slices.Concat(c.Pod.Spec.Containers, c.Pod.Spec.InitContainers) {
		var used int64
		switch {
		case res == string(api.ResourceMemory) && c.Stats != nil:
			ws, ok := c.Stats.ContainerMemoryWorkingSet[ctr.Name]
			if !ok {
				continue
			}
			used = ws
		case res == string(api.ResourceEphemeralStorage):
			cu, ok := c.Usage.Containers[ctr.Name]
			if !ok {
				continue
			}
			used = cu.Rootfs + cu.Logs
		default:
			continue
		}
		req := ctr.Resources.Requests[api.ResourceName(res)]
		usage := resource.NewQuantity(used, resource.BinarySI)
		if usage.Cmp(req) > 0 {
			fmt.Fprintf(&b, containerMessageFmt, ctr.Name, usage.String(), req.String(), res)
		}
	}
	return b.String()
}
