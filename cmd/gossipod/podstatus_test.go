package main

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) api.Time { return api.Time{Time: testNow.Add(-d)} }

func running(ready bool, restarts int32) api.ContainerStatus {
	return api.ContainerStatus{Name: "c", Ready: ready, RestartCount: restarts,
		State: api.ContainerState{Running: &api.ContainerStateRunning{StartedAt: ago(time.Minute)}}}
}

func waiting(reason string) api.ContainerStatus {
	return api.ContainerStatus{Name: "c", State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reason}}}
}

func terminated(code int32, reason string) api.ContainerStatus {
	return api.ContainerStatus{Name: "c", State: api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
}

// fixturePod is a pod with n app and m init containers and the given status.
func fixturePod(apps, inits int, st api.PodStatus) *api.Pod {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(5 * time.Minute)}}
	for range apps {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: "c", Image: "busybox"})
	}
	for range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, api.Container{Name: "i", Image: "busybox"})
	}
	p.Status = st
	return p
}

func TestPodStatusColumns(t *testing.T) {
	deleting := api.NewTime(testNow)
	cond := func(t api.PodConditionType, s api.ConditionStatus) api.PodCondition {
		return api.PodCondition{Type: t, Status: s}
	}
	withLastRestart := running(true, 3)
	withLastRestart.LastTerminationState.Terminated = &api.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(90 * time.Second)}

	tests := []struct {
		name                    string
		pod                     *api.Pod
		ready, status, restarts string
	}{
		{"pending, not placed", fixturePod(1, 0, api.PodStatus{Phase: api.PodPending}), "0/1", "Pending", "0"},
		{"a started sidecar counts in READY, its restarts once initialized", withSidecar(fixturePod(1, 1, api.PodStatus{Phase: api.PodRunning,
			Conditions:            []api.PodCondition{cond(api.PodInitialized, api.ConditionTrue)},
			InitContainerStatuses: []api.ContainerStatus{startedSidecar(withLastRestart)},
			ContainerStatuses:     []api.ContainerStatus{running(true, 1)}})), "2/2", "Running", "4 (90s ago)"},
		{"a sidecar not started holds initialization", withSidecar(fixturePod(1, 1, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{running(false, 0)},
			ContainerStatuses:     []api.ContainerStatus{waiting("PodInitializing")}})), "0/2", "Init:0/1", "0"},
		{"no status yet", fixturePod(1, 0, api.PodStatus{}), "0/1", "Pending", "0"},
		{"creating", fixturePod(2, 0, api.PodStatus{Phase: api.PodPending,
			ContainerStatuses: []api.ContainerStatus{waiting("ContainerCreating"), waiting("ContainerCreating")}}), "0/2", "ContainerCreating", "0"},
		{"running and ready", fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning,
			ContainerStatuses: []api.ContainerStatus{running(true, 0), running(true, 2)}}), "2/2", "Running", "2"},
		{"running, one not ready", fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning,
			ContainerStatuses: []api.ContainerStatus{running(true, 0), running(false, 0)}}), "1/2", "Running", "0"},
		{"crash loop", fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning,
			ContainerStatuses: []api.ContainerStatus{running(true, 0), waiting("CrashLoopBackOff")}}), "1/2", "CrashLoopBackOff", "0"},
		{"image pull", fixturePod(1, 0, api.PodStatus{Phase: api.PodPending,
			ContainerStatuses: []api.ContainerStatus{waiting("ErrImagePull")}}), "0/1", "ErrImagePull", "0"},
		{"oom killed", fixturePod(1, 0, api.PodStatus{Phase: api.PodRunning,
			ContainerStatuses: []api.ContainerStatus{terminated(137, "OOMKilled")}}), "0/1", "OOMKilled", "0"},
		{"completed", fixturePod(1, 0, api.PodStatus{Phase: api.PodSucceeded,
			ContainerStatuses: []api.ContainerStatus{terminated(0, "Completed")}}), "0/1", "Completed", "0"},
		{"error exit", fixturePod(1, 0, api.PodStatus{Phase: api.PodFailed,
			ContainerStatuses: []api.ContainerStatus{terminated(2, "Error")}}), "0/1", "Error", "0"},
		{"exit code without reason", fixturePod(1, 0, api.PodStatus{Phase: api.PodFailed,
			ContainerStatuses: []api.ContainerStatus{terminated(3, "")}}), "0/1", "ExitCode:3", "0"},
		{"signal without reason", fixturePod(1, 0, api.PodStatus{Phase: api.PodFailed,
			ContainerStatuses: []api.ContainerStatus{{Name: "c", State: api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 137, Signal: 9}}}}}),
			"0/1", "Signal:9", "0"},
		{"one completed, one still running and ready", fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning,
			Conditions:        []api.PodCondition{cond(api.PodReady, api.ConditionTrue)},
			ContainerStatuses: []api.ContainerStatus{running(true, 0), terminated(0, "Completed")}}), "1/2", "Running", "0"},
		{"one completed, one running, pod not ready", fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning,
			Conditions:        []api.PodCondition{cond(api.PodReady, api.ConditionFalse)},
			ContainerStatuses: []api.ContainerStatus{running(true, 0), terminated(0, "Completed")}}), "1/2", "NotReady", "0"},
		{"first init container running", fixturePod(1, 2, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{running(false, 0), waiting("PodInitializing")},
			ContainerStatuses:     []api.ContainerStatus{waiting("PodInitializing")}}), "0/1", "Init:0/2", "0"},
		{"second init container waiting to start", fixturePod(1, 2, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{terminated(0, "Completed"), waiting("PodInitializing")},
			ContainerStatuses:     []api.ContainerStatus{waiting("PodInitializing")}}), "0/1", "Init:1/2", "0"},
		{"init container failed", fixturePod(1, 1, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{terminated(1, "Error")}}), "0/1", "Init:Error", "0"},
		{"init container failed, no reason", fixturePod(1, 1, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{terminated(4, "")}}), "0/1", "Init:ExitCode:4", "0"},
		{"init container crash loop, restarts counted", fixturePod(1, 1, api.PodStatus{Phase: api.PodPending,
			InitContainerStatuses: []api.ContainerStatus{{Name: "i", RestartCount: 4,
				State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}),
			"0/1", "Init:CrashLoopBackOff", "4"},
		{"initialized: app containers decide", fixturePod(1, 1, api.PodStatus{Phase: api.PodRunning,
			Conditions:            []api.PodCondition{cond(api.PodInitialized, api.ConditionTrue)},
			InitContainerStatuses: []api.ContainerStatus{terminated(0, "Completed")},
			ContainerStatuses:     []api.ContainerStatus{running(true, 1)}}), "1/1", "Running", "1"},
		{"terminating", func() *api.Pod {
			p := fixturePod(1, 0, api.PodStatus{Phase: api.PodRunning, ContainerStatuses: []api.ContainerStatus{running(true, 0)}})
			p.DeletionTimestamp = &deleting
			return p
		}(), "1/1", "Terminating", "0"},
		{"finished pod being deleted keeps its status", func() *api.Pod {
			p := fixturePod(1, 0, api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []api.ContainerStatus{terminated(0, "Completed")}})
			p.DeletionTimestamp = &deleting
			return p
		}(), "0/1", "Completed", "0"},
		{"status reason overrides the phase", fixturePod(1, 0, api.PodStatus{Phase: api.PodFailed, Reason: "OutOfmemory"}), "0/1", "OutOfmemory", "0"},
		{"restarts with the time of the last one", fixturePod(1, 0, api.PodStatus{Phase: api.PodRunning,
			ContainerStatuses: []api.ContainerStatus{withLastRestart}}), "1/1", "Running", "3 (90s ago)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := podStatusColumns(tt.pod, testNow)
			if got.Ready != tt.ready || got.Status != tt.status || got.Restarts != tt.restarts {
				t.Errorf("READY, STATUS, RESTARTS = %q, %q, %q; want %q, %q, %q",
					got.Ready, got.Status, got.Restarts, tt.ready, tt.status, tt.restarts)
			}
		})
	}
}

func resources(req, lim map[api.ResourceName]string) api.ResourceRequirements {
	conv := func(m map[api.ResourceName]string) api.ResourceList {
		if m == nil {
			return nil
		}
		l := api.ResourceList{}
		for k, v := range m {
			l[k] = resource.MustParse(v)
		}
		return l
	}
	return api.ResourceRequirements{Requests: conv(req), Limits: conv(lim)}
}

func TestQOSClass(t *testing.T) {
	type rl = map[api.ResourceName]string
	cpuMem := func(cpu, mem string) rl { return rl{api.ResourceCPU: cpu, api.ResourceMemory: mem} }
	tests := []struct {
		name  string
		apps  []api.ResourceRequirements
		inits []api.ResourceRequirements
		want  string
	}{
		{"nothing", []api.ResourceRequirements{{}}, nil, qosBestEffort},
		{"zero requests are none", []api.ResourceRequirements{resources(cpuMem("0", "0"), nil)}, nil, qosBestEffort},
		{"requests only", []api.ResourceRequirements{resources(cpuMem("100m", "64Mi"), nil)}, nil, qosBurstable},
		{"limits equal requests", []api.ResourceRequirements{resources(cpuMem("1", "1Gi"), cpuMem("1", "1Gi"))}, nil, qosGuaranteed},
		{"limits equal requests, other notation", []api.ResourceRequirements{resources(cpuMem("1000m", "1024Mi"), cpuMem("1", "1Gi"))}, nil, qosGuaranteed},
		{"limits only: requests default to them", []api.ResourceRequirements{resources(nil, cpuMem("500m", "128Mi"))}, nil, qosGuaranteed},
		{"requests below limits", []api.ResourceRequirements{resources(cpuMem("100m", "1Gi"), cpuMem("1", "1Gi"))}, nil, qosBurstable},
		{"memory limit only", []api.ResourceRequirements{resources(nil, rl{api.ResourceMemory: "1Gi"})}, nil, qosBurstable},
		{"one container best effort, another guaranteed", []api.ResourceRequirements{
			resources(cpuMem("1", "1Gi"), cpuMem("1", "1Gi")), {}}, nil, qosBurstable},
		{"all containers guaranteed", []api.ResourceRequirements{
			resources(cpuMem("1", "1Gi"), cpuMem("1", "1Gi")), resources(nil, cpuMem("200m", "100Mi"))}, nil, qosGuaranteed},
		{"init container without limits", []api.ResourceRequirements{resources(cpuMem("1", "1Gi"), cpuMem("1", "1Gi"))},
			[]api.ResourceRequirements{{}}, qosBurstable},
		{"init container guaranteed too", []api.ResourceRequirements{resources(cpuMem("1", "1Gi"), cpuMem("1", "1Gi"))},
			[]api.ResourceRequirements{resources(nil, cpuMem("1", "1Gi"))}, qosGuaranteed},
		{"only an init container asks", []api.ResourceRequirements{{}},
			[]api.ResourceRequirements{resources(rl{api.ResourceMemory: "1Gi"}, nil)}, qosBurstable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &api.Pod{}
			for _, r := range tt.apps {
				p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: "c", Resources: r})
			}
			for _, r := range tt.inits {
				p.Spec.InitContainers = append(p.Spec.InitContainers, api.Container{Name: "i", Resources: r})
			}
			if got := qosClass(p); got != tt.want {
				t.Errorf("qosClass = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{-time.Second + time.Millisecond, "0s"},
		{0, "0s"},
		{59 * time.Second, "59s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{2*time.Minute + 5*time.Second, "2m5s"},
		{9*time.Minute + 59*time.Second, "9m59s"},
		{10 * time.Minute, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{3*time.Hour + 20*time.Minute, "3h20m"},
		{8 * time.Hour, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{50 * time.Hour, "2d2h"},
		{8 * 24 * time.Hour, "8d"},
		{400 * 24 * time.Hour, "400d"},
		{(2*365 + 10) * 24 * time.Hour, "2y10d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	}
	for _, tt := range tests {
		if got := age(api.Time{Time: testNow.Add(-tt.d)}, testNow); got != tt.want {
			t.Errorf("age(%v ago) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := age(api.Time{}, testNow); got != "<unknown>" {
		t.Errorf("age(zero) = %q, want <unknown>", got)
	}
}

// withSidecar makes the pod's init containers sidecars, named as their
// statuses.
func withSidecar(p *api.Pod) *api.Pod {
	always := api.ContainerRestartPolicyAlways
	for i := range p.Spec.InitContainers {
		p.Spec.InitContainers[i].Name = "c"
		p.Spec.InitContainers[i].RestartPolicy = &always
	}
	return p
}

func startedSidecar(cs api.ContainerStatus) api.ContainerStatus {
	started := true
	cs.Started = &started
	return cs
}
