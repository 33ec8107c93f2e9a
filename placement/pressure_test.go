package placement

import (
	"reflect"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// TestPlaceTaintsAndEphemeralStorage: a node under disk or memory pressure
// (tainted by the cluster) gets no pod that does not tolerate the taint, a
// pod that tolerates it may go there, and ephemeral-storage requests count
// against the node's allocatable as cpu and memory do, with
// kube-scheduler's messages.
func TestPlaceTaintsAndEphemeralStorage(t *testing.T) {
	disk := api.Taint{Key: api.TaintNodeDiskPressure, Effect: api.TaintEffectNoSchedule}
	mem := api.Taint{Key: api.TaintNodeMemoryPressure, Effect: api.TaintEffectNoSchedule}
	tainted := func(name string, taints ...api.Taint) NodeInfo {
		n := node(name, 4000, 8*gi)
		n.Allocatable.EphemeralStorage = 100 * gi
		n.Taints = taints
		return n
	}
	withStorage := func(p PodInfo, bytes int64) PodInfo {
		p.Request.EphemeralStorage = bytes
		return p
	}
	tolerating := func(p PodInfo, keys ...string) PodInfo {
		for _, k := range keys {
			p.Tolerations = append(p.Tolerations, api.Toleration{Key: k, Operator: api.TolerationOpExists, Effect: api.TaintEffectNoSchedule})
		}
		return p
	}
	tests := []struct {
		name    string
		nodes   []NodeInfo
		pod     PodInfo
		want    string // node, or "" when the pod fails
		message string // the failure's message when want is ""
	}{
		{"disk pressure node skipped", []NodeInfo{tainted("a", disk), tainted("b")}, pod("p", 100, mi), "b", ""},
		{"only disk pressure nodes", []NodeInfo{tainted("a", disk), tainted("b", disk)}, pod("p", 100, mi), "",
			"0/2 nodes are available: 2 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }."},
		{"memory and disk pressure: the first taint is named", []NodeInfo{tainted("a", mem, disk), tainted("b", disk)}, pod("p", 100, mi), "",
			"0/2 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }, 1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }."},
		{"tolerated", []NodeInfo{tainted("a", disk)}, tolerating(pod("p", 100, mi), api.TaintNodeDiskPressure), "a", ""},
		{"tolerating one of two taints is not enough", []NodeInfo{tainted("a", mem, disk)}, tolerating(pod("p", 100, mi), api.TaintNodeDiskPressure), "",
			"0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/memory-pressure: }."},
		{"PreferNoSchedule does not filter", []NodeInfo{tainted("a", api.Taint{Key: "x", Effect: api.TaintEffectPreferNoSchedule})}, pod("p", 100, mi), "a", ""},
		{"another taint", []NodeInfo{tainted("a", api.Taint{Key: "dedicated", Value: "db", Effect: api.TaintEffectNoExecute})}, pod("p", 100, mi), "",
			"0/1 nodes are available: 1 node(s) had untolerated taint(s)."},
		{"ephemeral-storage fits", []NodeInfo{tainted("a")}, withStorage(pod("p", 100, mi), 100*gi), "a", ""},
		{"ephemeral-storage does not fit", []NodeInfo{tainted("a"), node("b", 4000, 8*gi)}, withStorage(pod("p", 100, mi), 100*gi+1), "",
			"0/2 nodes are available: 2 Insufficient ephemeral-storage."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Place(DefaultConfig(), tt.nodes, []PodInfo{tt.pod})
			if tt.want != "" {
				if got := bindingsOf(r); !reflect.DeepEqual(got, map[string]string{tt.pod.Key: tt.want}) {
					t.Fatalf("bindings = %v, want %s on %s (failures %+v)", got, tt.pod.Key, tt.want, r.Failures)
				}
				return
			}
			f, err := failureOf(r, tt.pod.Key)
			if err != nil {
				t.Fatal(err)
			}
			if f.Message != tt.message {
				t.Errorf("message = %q\nwant      %q", f.Message, tt.message)
			}
		})
	}
}

// TestNewNodeInfoEphemeralStorage: the node's taints and its pods'
// ephemeral-storage requests reach placement's view.
func TestNewNodeInfoEphemeralStorage(t *testing.T) {
	n := apiNode("a", "4", "8Gi", 110)
	n.Status.Allocatable[api.ResourceEphemeralStorage] = *resourceQ("10Gi")
	n.Spec.Taints = []api.Taint{{Key: api.TaintNodeDiskPressure, Effect: api.TaintEffectNoSchedule}}
	p := &api.Pod{}
	c := container("c", "", "")
	c.Resources.Requests[api.ResourceEphemeralStorage] = *resourceQ("1Gi")
	p.Spec.Containers = []api.Container{c}
	ni := NewNodeInfo(n, []*api.Pod{p})
	if ni.Allocatable.EphemeralStorage != 10*gi || ni.Requested.EphemeralStorage != gi || len(ni.Taints) != 1 {
		t.Errorf("NodeInfo = %+v", ni)
	}
}
