package api

// Resources is an amount of the schedulable resources as plain integers:
// CPU in millicores, memory and local ephemeral storage in bytes, and pod
// slots. Placement and the FSM's
// overcommit check do their arithmetic on it; ResourceList (quantities) is
// for the wire.
type Resources struct {
	MilliCPU int64 `json:"milliCPU"`
	Memory   int64 `json:"memory"`
	Pods     int64 `json:"pods"`
	// EphemeralStorage is local ephemeral storage (writable layers, logs,
	// emptyDirs on disk): what kube-scheduler counts as ephemeral-storage.
	EphemeralStorage int64 `json:"ephemeralStorage,omitempty"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU + o.MilliCPU, Memory: r.Memory + o.Memory, Pods: r.Pods + o.Pods,
		EphemeralStorage: r.EphemeralStorage + o.EphemeralStorage}
}

// Sub returns r - o.
func (r Resources) Sub(o Resources) Resources {
	return Resources{MilliCPU: r.MilliCPU - o.MilliCPU, Memory: r.Memory - o.Memory, Pods: r.Pods - o.Pods,
		EphemeralStorage: r.EphemeralStorage - o.EphemeralStorage}
}

// Fits reports whether o fits in r in every dimension.
func (r Resources) Fits(o Resources) bool {
	return o.MilliCPU <= r.MilliCPU && o.Memory <= r.Memory && o.Pods <= r.Pods &&
		o.EphemeralStorage <= r.EphemeralStorage
}

// ResourcesOf converts a ResourceList; absent resources count as zero.
func ResourcesOf(l ResourceList) Resources {
	var r Resources
	if q, ok := l[ResourceCPU]; ok {
		r.MilliCPU = q.MilliValue()
	}
	if q, ok := l[ResourceMemory]; ok {
		r.Memory = q.Value()
	}
	if q, ok := l[ResourcePods]; ok {
		r.Pods = q.Value()
	}
	if q, ok := l[ResourceEphemeralStorage]; ok {
		r.EphemeralStorage = q.Value()
	}
	return r
}

// containerRequests is what one container asks for: its requests, with a
// limit standing in for a missing request, as Kubernetes defaults them.
func containerRequests(c *Container) Resources {
	req := ResourcesOf(c.Resources.Requests)
	lim := ResourcesOf(c.Resources.Limits)
	if _, ok := c.Resources.Requests[ResourceCPU]; !ok {
		req.MilliCPU = lim.MilliCPU
	}
	if _, ok := c.Resources.Requests[ResourceMemory]; !ok {
		req.Memory = lim.Memory
	}
	if _, ok := c.Resources.Requests[ResourceEphemeralStorage]; !ok {
		req.EphemeralStorage = lim.EphemeralStorage
	}
	return req
}

// PodRequests is what a pod needs from a node: per resource, the larger of
// the sum of its app containers' requests and the largest request of any
// init container (init containers run one at a time, before the app
// containers), plus one pod slot. Sidecars (init containers with
// restartPolicy Always) keep running once started, so, as Kubernetes
// counts them (KEP-753), each adds to every init container started after
// it and to the app containers. This is Kubernetes' effective request.
func PodRequests(p *Pod) Resources {
	var sum, initMax, sidecars Resources
	for i := range p.Spec.Containers {
		sum = sum.Add(containerRequests(&p.Spec.Containers[i]))
	}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		r := containerRequests(c)
		if IsSidecar(c) {
			sidecars = sidecars.Add(r)
			r = sidecars
		} else {
			r = r.Add(sidecars)
		}
		initMax.MilliCPU = max(initMax.MilliCPU, r.MilliCPU)
		initMax.Memory = max(initMax.Memory, r.Memory)
		initMax.EphemeralStorage = max(initMax.EphemeralStorage, r.EphemeralStorage)
	}
	sum = sum.Add(sidecars)
	return Resources{
		MilliCPU:         max(sum.MilliCPU, initMax.MilliCPU),
		Memory:           max(sum.Memory, initMax.Memory),
		Pods:             1,
		EphemeralStorage: max(sum.EphemeralStorage, initMax.EphemeralStorage),
	}
}

// HostPort is a port of the node's address a pod takes.
type HostPort struct {
	Protocol Protocol `json:"protocol"`
	Port     int32    `json:"port"`
}

// PodHostPorts lists the host ports a pod's containers and sidecars take
// (TCP when the protocol is not set), as kube-scheduler's NodePorts counts
// them: a sidecar runs beside the app containers.
func PodHostPorts(p *Pod) []HostPort {
	var out []HostPort
	for _, c := range PodLongRunningContainers(p) {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			proto := port.Protocol
			if proto == "" {
				proto = ProtocolTCP
			}
			out = append(out, HostPort{Protocol: proto, Port: port.HostPort})
		}
	}
	return out
}

// PodLongRunningContainers lists the pod's sidecars, then its app
// containers: those that run for the pod's life.
func PodLongRunningContainers(p *Pod) []Container {
	var out []Container
	for i := range p.Spec.InitContainers {
		if IsSidecar(&p.Spec.InitContainers[i]) {
			out = append(out, p.Spec.InitContainers[i])
		}
	}
	return append(out, p.Spec.Containers...)
}

// IsTerminal reports whether the pod has finished (Succeeded or Failed) and
// no longer holds its node's resources.
func IsTerminal(p *Pod) bool {
	return p.Status.Phase == PodSucceeded || p.Status.Phase == PodFailed
}
