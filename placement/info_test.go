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

// TestHostNetworkPodPorts: a hostNetwork pod's ports, defaulted to host
// ports by the API, are the node's: a node running one has them taken,
// and a second pod wanting one of them (on the host's network or through
// a hostPort) does not fit there, as kube-scheduler's NodePorts decides.
func TestHostNetworkPodPorts(t *testing.T) {
	hostNet := func(name string, ports ...int32) *api.Pod {
		p := &api.Pod{}
		p.Name = name
		p.Spec.HostNetwork = true
		c := container("c", "100m", "64Mi")
		for _, port := range ports {
			c.Ports = append(c.Ports, api.ContainerPort{ContainerPort: port})
		}
		p.Spec.Containers = []api.Container{c}
		api.SetPodDefaults(p)
		return p
	}
	running := hostNet("agent", 9100)
	running.Status.Phase = api.PodRunning
	n := NewNodeInfo(apiNode("n1", "4", "8Gi", 110), []*api.Pod{running})
	if want := map[api.HostPort]bool{{Protocol: api.ProtocolTCP, Port: 9100}: true}; !reflect.DeepEqual(n.HostPorts, want) {
		t.Fatalf("node host ports = %v, want %v", n.HostPorts, want)
	}
	withHostPort := &api.Pod{}
	withHostPort.Name = "hp"
	c := container("c", "100m", "64Mi")
	c.Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 9100}}
	withHostPort.Spec.Containers = []api.Container{c}
	api.SetPodDefaults(withHostPort)
	for _, tt := range []struct {
		name string
		pod  *api.Pod
		fits bool
	}{
		{"host network, same port", hostNet("agent-2", 9100), false},
		{"hostPort, same port", withHostPort, false},
		{"host network, other port", hostNet("other", 9200), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Place(DefaultConfig(), []NodeInfo{n}, []PodInfo{NewPodInfo(tt.pod)})
			if got := len(r.Bindings) == 1; got != tt.fits {
				t.Fatalf("fits = %v, want %v: %+v", got, tt.fits, r)
			}
			if !tt.fits && r.Failures[0].Message != "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports." {
				t.Errorf("message %q", r.Failures[0].Message)
			}
		})
	}
}
