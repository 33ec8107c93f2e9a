package placement

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func TestNewNodeInfo(t *testing.T) {
	yes := true
	owned := func(name, uid string, phase api.PodPhase, hostPort int32) *api.Pod {
		p := &api.Pod{}
		p.Name = name
		p.Status.Phase = phase
		c := container("c", "250m", "256Mi")
		if hostPort != 0 {
			c.Ports = []api.ContainerPort{{ContainerPort: 8080, HostPort: hostPort}}
		}
		p.Spec.Containers = []api.Container{c}
		if uid != "" {
			p.OwnerReferences = []api.OwnerReference{
				{Kind: "Deployment", Name: "other", UID: "not-controller"},
				{Kind: "ReplicaSet", Name: "web", UID: types.UID(uid), Controller: &yes},
			}
		}
		return p
	}
	n := apiNode("n1", "4", "8Gi", 110)
	n.Labels = map[string]string{"zone": "a"}
	n.Spec.Unschedulable = true
	bound := []*api.Pod{
		owned("a", "rs-1", api.PodRunning, 80),
		owned("b", "rs-1", api.PodPending, 0),
		owned("c", "", api.PodRunning, 0),
		owned("done", "rs-1", api.PodSucceeded, 443), // terminal: holds nothing
		owned("failed", "rs-2", api.PodFailed, 0),
	}
	got := NewNodeInfo(n, bound)
	want := NodeInfo{
		Name:          "n1",
		Labels:        map[string]string{"zone": "a"},
		Ready:         true,
		Unschedulable: true,
		Allocatable:   api.Resources{MilliCPU: 4000, Memory: 8 * gi, Pods: 110},
		Requested:     api.Resources{MilliCPU: 750, Memory: 768 * mi, Pods: 3},
		HostPorts:     map[api.HostPort]bool{{Protocol: api.ProtocolTCP, Port: 80}: true},
		OwnerPods:     map[types.UID]int{"rs-1": 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewNodeInfo\n got %+v\nwant %+v", got, want)
	}

	n.Status.Conditions[0].Status = api.ConditionUnknown
	if NewNodeInfo(n, nil).Ready {
		t.Error("a node whose Ready condition is Unknown is ready")
	}
}

func TestNewPodInfo(t *testing.T) {
	yes := true
	p := &api.Pod{}
	p.Name = "web-1"
	p.OwnerReferences = []api.OwnerReference{{Kind: "ReplicaSet", UID: "rs-9", Controller: &yes}}
	p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	c := container("c", "", "")
	c.Resources.Limits = api.ResourceList{} // request defaults to the limit
	c.Resources.Limits[api.ResourceCPU] = container("x", "1", "").Resources.Requests[api.ResourceCPU]
	c.Ports = []api.ContainerPort{{ContainerPort: 53, HostPort: 53, Protocol: api.ProtocolUDP}}
	p.Spec.Containers = []api.Container{c}
	got := NewPodInfo(p)
	want := PodInfo{
		Key:          "default/web-1",
		Request:      api.Resources{MilliCPU: 1000, Pods: 1},
		NodeSelector: map[string]string{"disk": "ssd"},
		HostPorts:    []api.HostPort{{Protocol: api.ProtocolUDP, Port: 53}},
		OwnerUID:     "rs-9",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewPodInfo\n got %+v\nwant %+v", got, want)
	}
}
