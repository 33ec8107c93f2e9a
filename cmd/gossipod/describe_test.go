package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The layout is kubectl describe's; the golden files were checked against it
// by eye, line by line.
func TestDescribePod(t *testing.T) {
	golden(t, "describe-pod.txt", describePod(describeFixture(), fixtureEvents(), testNow))
}

func TestDescribePodPending(t *testing.T) {
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "big", Namespace: "default", UID: "u-2", CreationTimestamp: ago(5 * time.Second)},
		Spec:       api.PodSpec{Containers: []api.Container{{Name: "main", Image: "busybox:1", Resources: resources(nil, map[api.ResourceName]string{api.ResourceCPU: "1", api.ResourceMemory: "4Gi"})}}},
		Status: api.PodStatus{Phase: api.PodPending, Conditions: []api.PodCondition{{Type: api.PodScheduled, Status: api.ConditionFalse,
			Reason: api.PodReasonUnschedulable, Message: "0/3 nodes are available: 3 Insufficient memory."}}},
	}
	events := []api.Event{{Type: api.EventTypeWarning, Reason: "FailedScheduling", Message: "0/3 nodes are available: 3 Insufficient memory.",
		Source: api.EventSource{Component: "default-scheduler"}, FirstTimestamp: ago(5 * time.Second), LastTimestamp: ago(5 * time.Second), Count: 1}}
	out := describePod(p, events, testNow)
	for _, want := range []string{
		"Node: <none>",
		"Status: Pending",
		"IP:",
		"IPs: <none>",
		"QoS Class: Guaranteed",
		"Warning FailedScheduling 5s default-scheduler 0/3 nodes are available: 3 Insufficient memory.",
		"Volumes: <none>",
		"Node-Selectors: <none>",
	} {
		if !hasLine(out, want) {
			t.Errorf("describe of a pending pod lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Start Time") {
		t.Errorf("a pod that has not started has a Start Time:\n%s", out)
	}
	if out := describePod(p, []api.Event{}, testNow); !hasLine(out, "Events: <none>") {
		t.Errorf("no events: %s", out)
	}
	if out := describePod(p, nil, testNow); strings.Contains(out, "Events") {
		t.Errorf("events that could not be read: %s", out)
	}
	p.DeletionTimestamp = ptr(ago(3 * time.Second))
	p.DeletionGracePeriodSeconds = ptr(int64(30))
	if out := describePod(p, nil, testNow); !hasLine(out, "Status: Terminating (lasts 3s)") || !hasLine(out, "Termination Grace Period: 30s") {
		t.Errorf("terminating: %s", out)
	}
}

// hasLine reports whether out has the line want, both with runs of blanks
// squeezed to one space.
func hasLine(out, want string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == want {
			return true
		}
	}
	return false
}

func TestDescribeNode(t *testing.T) {
	n := &api.Node{
		ObjectMeta: api.ObjectMeta{Name: "node-1", CreationTimestamp: ago(48 * time.Hour),
			Labels: map[string]string{api.LabelHostname: "node-1", api.LabelOS: "linux"}},
		Spec: api.NodeSpec{PodCIDR: "10.1.0.0/24"},
		Status: api.NodeStatus{
			Capacity:    api.ResourceList{api.ResourceCPU: resource.MustParse("4"), api.ResourceMemory: resource.MustParse("8Gi"), api.ResourcePods: resource.MustParse("110")},
			Allocatable: api.ResourceList{api.ResourceCPU: resource.MustParse("2"), api.ResourceMemory: resource.MustParse("4Gi"), api.ResourcePods: resource.MustParse("110")},
			Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady", Message: "gossipod agent is alive in gossip",
				LastHeartbeatTime: ago(time.Minute), LastTransitionTime: ago(48 * time.Hour)}},
			Addresses: []api.NodeAddress{{Type: api.NodeInternalIP, Address: "192.168.1.10"}, {Type: api.NodeHostName, Address: "node-1"}},
			NodeInfo:  api.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KernelVersion: "6.1.0", OSImage: "Debian GNU/Linux 12 (bookworm)", KubeletVersion: "gossipod/dev"},
		},
	}
	api.SetNodeAllocated(n, api.ResourceList{api.ResourceCPU: resource.MustParse("500m"), api.ResourceMemory: resource.MustParse("1Gi"), api.ResourcePods: resource.MustParse("2")})
	pods := []api.Pod{*describeFixture(), {
		ObjectMeta: api.ObjectMeta{Name: "batch", Namespace: "jobs", CreationTimestamp: ago(3 * time.Hour)},
		Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Resources: resources(map[api.ResourceName]string{api.ResourceCPU: "250m", api.ResourceMemory: "960Mi"}, nil)}},
			InitContainers: []api.Container{{Name: "i", Resources: resources(map[api.ResourceName]string{api.ResourceMemory: "1Gi"}, nil)}}},
	}}
	golden(t, "describe-node.txt", describeNode(n, "leader", pods, []api.Event{}, testNow))
}

func describeFixture() *api.Pod {
	yes := true
	start := ago(10 * time.Minute)
	p := &api.Pod{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "u-1", CreationTimestamp: ago(11 * time.Minute),
			Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": "hello"},
			OwnerReferences: []api.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc", Controller: &yes}}},
		Spec: api.PodSpec{
			NodeName:       "node-1",
			NodeSelector:   map[string]string{"disk": "ssd"},
			InitContainers: []api.Container{{Name: "fetch", Image: "busybox:1", Command: []string{"sh", "-c", "wget x"}}},
			Containers: []api.Container{{
				Name: "app", Image: "nginx:1.27", Args: []string{"-g", "daemon off;"},
				Ports: []api.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: api.ProtocolTCP}},
				Env:   []api.EnvVar{{Name: "MODE", Value: "prod"}},
				Resources: resources(map[api.ResourceName]string{api.ResourceCPU: "250m", api.ResourceMemory: "64Mi"},
					map[api.ResourceName]string{api.ResourceCPU: "500m", api.ResourceMemory: "128Mi"}),
				VolumeMounts: []api.VolumeMount{{Name: "data", MountPath: "/usr/share/nginx/html", ReadOnly: true}, {Name: "cache", MountPath: "/cache"}},
			}, {
				Name: "sidecar", Image: "busybox:1",
				Ports: []api.ContainerPort{{ContainerPort: 9090, Protocol: api.ProtocolTCP, Name: "metrics"}, {ContainerPort: 53, Protocol: api.ProtocolUDP}},
			}},
			Volumes: []api.Volume{
				{Name: "data", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: "/srv/www", Type: ptr(api.HostPathType("Directory"))}}},
				{Name: "cache", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: ptr(resource.MustParse("64Mi"))}}},
			},
		},
		Status: api.PodStatus{
			Phase: api.PodRunning, HostIP: "192.168.1.10", PodIP: "10.1.0.5", PodIPs: []api.PodIP{{IP: "10.1.0.5"}}, StartTime: &start,
			Conditions: []api.PodCondition{
				{Type: api.PodInitialized, Status: api.ConditionTrue}, {Type: api.PodReady, Status: api.ConditionFalse},
				{Type: api.ContainersReady, Status: api.ConditionFalse}, {Type: api.PodScheduled, Status: api.ConditionTrue}},
			InitContainerStatuses: []api.ContainerStatus{{Name: "fetch", Image: "busybox:1", ContainerID: "gossipod://f1",
				State: api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: ago(10 * time.Minute), FinishedAt: ago(9 * time.Minute)}}}},
			ContainerStatuses: []api.ContainerStatus{
				{Name: "app", Image: "nginx:1.27", ContainerID: "gossipod://a1", Ready: true, RestartCount: 2,
					State:                api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ago(5 * time.Minute)}},
					LastTerminationState: api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 137, Signal: 9, Reason: "OOMKilled", StartedAt: ago(8 * time.Minute), FinishedAt: ago(5 * time.Minute)}}},
				{Name: "sidecar", Image: "busybox:1", State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 5m0s"}}, RestartCount: 6},
			},
		},
	}
	return p
}

func ptr[T any](v T) *T { return &v }

func fixtureEvents() []api.Event {
	return []api.Event{
		{Type: api.EventTypeNormal, Reason: "Started", Message: "Started container app", Source: api.EventSource{Component: "gossipod", Host: "node-1"},
			FirstTimestamp: ago(8 * time.Minute), LastTimestamp: ago(5 * time.Minute), Count: 3},
		{Type: api.EventTypeNormal, Reason: "Scheduled", Message: "Successfully assigned default/web to node-1", Source: api.EventSource{Component: "default-scheduler"},
			FirstTimestamp: ago(11 * time.Minute), LastTimestamp: ago(11 * time.Minute), Count: 1},
	}
}

func TestDescribeEventsOrder(t *testing.T) {
	at := ago(9 * time.Second)
	ev := func(reason, rv string, last api.Time) api.Event {
		return api.Event{ObjectMeta: api.ObjectMeta{ResourceVersion: rv}, Type: api.EventTypeNormal, Reason: reason,
			FirstTimestamp: last, LastTimestamp: last, Count: 1}
	}
	// Same second: the log's order (resourceVersion, numerically); an
	// older second first whatever its version.
	events := []api.Event{ev("Started", "12", at), ev("Scheduled", "7", at), ev("Old", "40", ago(time.Minute)), ev("Pulled", "9", at)}
	var b strings.Builder
	w := newPrefixWriter(&b)
	describeEvents(w, events, testNow)
	w.flush()
	var reasons []string
	for _, l := range strings.Split(b.String(), "\n")[3:] {
		if f := strings.Fields(l); len(f) > 1 {
			reasons = append(reasons, f[1])
		}
	}
	if want := []string{"Old", "Scheduled", "Pulled", "Started"}; strings.Join(reasons, " ") != strings.Join(want, " ") {
		t.Errorf("events in order %q, want %q", reasons, want)
	}
}
