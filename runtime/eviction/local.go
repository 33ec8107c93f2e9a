package eviction

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// Reason is the pod status reason of an evicted pod, as kubelet sets it.
const Reason = "Evicted"

// kubelet's messages (pkg/kubelet/eviction/helpers.go), trailing space
// included: kubelet concatenates them.
const (
	nodeLowMessageFmt                   = "The node was low on resource: %v. "
	containerMessageFmt                 = "Container %s was using %s, request is %s, has larger consumption of %v. "
	containerEphemeralStorageMessageFmt = "Container %s exceeded its local ephemeral storage limit %q. "
	podEphemeralStorageMessageFmt       = "Pod ephemeral local storage usage exceeds the total limit of containers %s. "
	emptyDirMessageFmt                  = "Usage of EmptyDir volume %q exceeds the limit %q. "
)

// ContainerUsage is a container's local ephemeral storage in bytes.
type ContainerUsage struct {
	// Rootfs is its writable layer (the overlay's upper dir).
	Rootfs int64
	// Logs is its log files.
	Logs int64
}

// PodUsage is one pod's measured local ephemeral storage.
type PodUsage struct {
	// Containers by name, app and init containers alike.
	Containers map[string]ContainerUsage
	// Volumes are the emptyDirs not on tmpfs, by volume name.
	Volumes map[string]int64
}

// Total is the pod's ephemeral storage: what kubelet's
// podLocalEphemeralStorageUsage sums (containers' writable layers and
// logs, emptyDirs on disk).
func (u PodUsage) Total() int64 {
	var sum int64
	for _, c := range u.Containers {
		sum += c.Rootfs + c.Logs
	}
	for _, v := range u.Volumes {
		sum += v
	}
	return sum
}

// LocalStorageVerdict says why a pod must be evicted for its local storage
// use, in kubelet's words ("" when it may stay), checking as kubelet's
// localStorageEviction does, in its order: an emptyDir over its sizeLimit,
// then the pod over the total of its containers' limits, then a container
// over its own limit.
func LocalStorageVerdict(p *api.Pod, u PodUsage) string {
	for _, v := range p.Spec.Volumes {
		d := v.EmptyDir
		if d == nil || d.SizeLimit == nil || d.SizeLimit.IsZero() || d.Medium == corev1.StorageMediumMemory {
			continue
		}
		used, ok := u.Volumes[v.Name]
		if ok && used > d.SizeLimit.Value() {
			return fmt.Sprintf(emptyDirMessageFmt, v.Name, d.SizeLimit.String())
		}
	}
	if limit, ok := podEphemeralStorageLimit(p); ok && u.Total() > limit.Value() {
		return fmt.Sprintf(podEphemeralStorageMessageFmt, limit.String())
	}
	for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
		limit, ok := c.Resources.Limits[api.ResourceEphemeralStorage]
		if !ok {
			continue
		}
		cu := u.Containers[c.Name]
		if cu.Rootfs+cu.Logs > limit.Value() {
			return fmt.Sprintf(containerEphemeralStorageMessageFmt, c.Name, limit.String())
		}
	}
	return ""
}

// podEphemeralStorageLimit is the pod's ephemeral-storage limit as
// kubelet's resourcehelper.PodLimits computes it: the sum of the app
// containers' (and sidecars') limits, or the largest init container's if
// larger; none when no container has one.
func podEphemeralStorageLimit(p *api.Pod) (resource.Quantity, bool) {
	var sum, initMax resource.Quantity
	found := false
	for _, c := range api.PodLongRunningContainers(p) {
		if q, ok := c.Resources.Limits[api.ResourceEphemeralStorage]; ok {
			sum.Add(q)
			found = true
		}
	}
	for _, c := range p.Spec.InitContainers {
		if api.IsSidecar(&c) {
			continue
		}
		if q, ok := c.Resources.Limits[api.ResourceEphemeralStorage]; ok {
			found = true
			if q.Cmp(initMax) > 0 {
				initMax = q
			}
		}
	}
	if initMax.Cmp(sum) > 0 {
		sum = initMax
	}
	return sum, found
}
