package placement

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gossipod/gossipod/api"
	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	mi = int64(1) << 20
	gi = int64(1) << 30
)

// node is a ready, schedulable node with the given allocatable cpu
// (millicores), memory (bytes) and 110 pod slots, nothing requested.
func node(name string, cpu, mem int64) NodeInfo {
	return NodeInfo{
		Name:        name,
		Ready:       true,
		Allocatable: api.Resources{MilliCPU: cpu, Memory: mem, Pods: 110},
	}
}

// pod requests cpu (millicores) and mem (bytes).
func pod(key string, cpu, mem int64) PodInfo {
	return PodInfo{Key: key, Request: api.Resources{MilliCPU: cpu, Memory: mem, Pods: 1}}
}

// container is an api.Container requesting cpu and memory quantities.
func container(name, cpu, mem string) api.Container {
	c := api.Container{Name: name, Image: "busybox", Resources: api.ResourceRequirements{Requests: api.ResourceList{}}}
	if cpu != "" {
		c.Resources.Requests[api.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		c.Resources.Requests[api.ResourceMemory] = resource.MustParse(mem)
	}
	return c
}

// apiNode is a Ready api.Node with the given allocatable quantities.
func apiNode(name, cpu, mem string, pods int64) *api.Node {
	n := &api.Node{}
	n.Name = name
	n.Status.Allocatable = api.ResourceList{
		api.ResourceCPU:    resource.MustParse(cpu),
		api.ResourceMemory: resource.MustParse(mem),
		api.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	n.Status.Conditions = []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}
	return n
}

// cloneNodes deep-copies nodes so a test can check Place left them alone.
func cloneNodes(in []NodeInfo) []NodeInfo {
	out := slices.Clone(in)
	for i := range out {
		out[i].Labels = maps.Clone(in[i].Labels)
		out[i].HostPorts = maps.Clone(in[i].HostPorts)
		out[i].OwnerPods = maps.Clone(in[i].OwnerPods)
	}
	return out
}

// clonePods deep-copies pods so a test can check Place left them alone.
func clonePods(in []PodInfo) []PodInfo {
	out := slices.Clone(in)
	for i := range out {
		out[i].NodeSelector = maps.Clone(in[i].NodeSelector)
		out[i].HostPorts = slices.Clone(in[i].HostPorts)
	}
	return out
}

// bindingsOf maps pod key to node for easy assertions.
func bindingsOf(r Result) map[string]string {
	m := make(map[string]string, len(r.Bindings))
	for _, b := range r.Bindings {
		m[b.PodKey] = b.Node
	}
	return m
}

// failureOf returns the failure of the pod with key, or an error text.
func failureOf(r Result, key string) (Failure, error) {
	for _, f := range r.Failures {
		if f.PodKey == key {
			return f, nil
		}
	}
	return Failure{}, fmt.Errorf("pod %s did not fail; result %+v", key, r)
}

// resourceQ parses a quantity.
func resourceQ(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
