package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// cs builds a container status in a compact form: "running", "waiting",
// "crashloop:<last code>", "terminated:<code>".
func cs(state string) api.ContainerStatus {
	var s api.ContainerStatus
	var code int32
	switch {
	case state == "running":
		s.State.Running = &api.ContainerStateRunning{}
	case state == "waiting":
		s.State.Waiting = &api.ContainerStateWaiting{Reason: reasonContainerCreating}
	case len(state) > 10 && state[:10] == "crashloop:":
		parseCode(state[10:], &code)
		s.State.Waiting = &api.ContainerStateWaiting{Reason: reasonCrashLoopBackOff}
		s.LastTerminationState.Terminated = &api.ContainerStateTerminated{ExitCode: code}
	case len(state) > 11 && state[:11] == "terminated:":
		parseCode(state[11:], &code)
		s.State.Terminated = &api.ContainerStateTerminated{ExitCode: code}
	default:
		panic(state)
	}
	return s
}

func parseCode(s string, code *int32) {
	for _, c := range s {
		*code = *code*10 + int32(c-'0')
	}
}

func statuses(states ...string) []api.ContainerStatus {
	out := make([]api.ContainerStatus, len(states))
	for i, s := range states {
		out[i] = cs(s)
	}
	return out
}

// The phase rules are kubelet's getPhase.
func TestPodPhase(t *testing.T) {
	A, O, N := api.RestartPolicyAlways, api.RestartPolicyOnFailure, api.RestartPolicyNever
	tests := []struct {
		name     string
		policy   api.RestartPolicy
		inits    []string
		apps     []string
		terminal bool
		want     api.PodPhase
	}{
		{"creating", A, nil, []string{"waiting", "waiting"}, false, api.PodPending},
		{"one started, one creating", A, nil, []string{"running", "waiting"}, false, api.PodPending},
		{"all started", A, nil, []string{"running", "running"}, false, api.PodRunning},
		{"one running, one exited", N, nil, []string{"running", "terminated:0"}, false, api.PodRunning},
		{"initializing", A, []string{"running"}, []string{"waiting"}, false, api.PodPending},
		{"init done, apps creating", A, []string{"terminated:0"}, []string{"waiting"}, false, api.PodPending},
		{"init crash-looping", A, []string{"crashloop:1"}, []string{"waiting"}, false, api.PodPending},
		{"init failed under Never", N, []string{"terminated:1"}, []string{"waiting"}, false, api.PodFailed},
		{"crash loop under Always is Running", A, nil, []string{"crashloop:1"}, false, api.PodRunning},
		{"all exited 0 under Always is Running (restarting)", A, nil, []string{"terminated:0"}, false, api.PodRunning},
		{"all exited 0 under OnFailure", O, nil, []string{"terminated:0", "terminated:0"}, false, api.PodSucceeded},
		{"a failure under OnFailure is Running (restarting)", O, nil, []string{"terminated:0", "crashloop:1"}, false, api.PodRunning},
		{"all exited 0 under Never", N, nil, []string{"terminated:0"}, false, api.PodSucceeded},
		{"a failure under Never", N, nil, []string{"terminated:0", "terminated:2"}, false, api.PodFailed},
		{"terminal (deleted) with a failure", A, nil, []string{"terminated:143"}, true, api.PodFailed},
		{"terminal (deleted) all succeeded", A, nil, []string{"terminated:0"}, true, api.PodSucceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &api.Pod{Spec: api.PodSpec{RestartPolicy: tc.policy}}
			if got := podPhase(p, statuses(tc.inits...), statuses(tc.apps...), tc.terminal); got != tc.want {
				t.Errorf("phase %s, want %s", got, tc.want)
			}
		})
	}
}

func TestContainerStatusFromRecord(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &api.Container{Name: "a", Image: "busybox"}
	exit1 := &termination{ExitCode: 1, Reason: reasonError, StartedAt: t0, FinishedAt: t0.Add(time.Second)}
	tests := []struct {
		name    string
		rec     containerRecord
		hasInit bool
		check   func(t *testing.T, s api.ContainerStatus)
	}{
		{"never started", containerRecord{}, false, func(t *testing.T, s api.ContainerStatus) {
			if s.State.Waiting == nil || s.State.Waiting.Reason != "ContainerCreating" || *s.Started || s.Ready {
				t.Errorf("%+v", s)
			}
		}},
		{"never started in a pod with init containers", containerRecord{}, true, func(t *testing.T, s api.ContainerStatus) {
			if s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
				t.Errorf("%+v", s.State)
			}
		}},
		{"running after a restart", containerRecord{Started: true, Running: true, RestartCount: 2, ID: "x", StartedAt: t0, Last: exit1},
			false, func(t *testing.T, s api.ContainerStatus) {
				if s.State.Running == nil || !s.Ready || !*s.Started || s.RestartCount != 2 || s.ContainerID != "gossipod://x" {
					t.Errorf("%+v", s)
				}
				if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 {
					t.Errorf("last %+v", s.LastTerminationState)
				}
			}},
		{"backing off", containerRecord{Started: true, Exit: exit1, Waiting: &waitReason{Reason: reasonCrashLoopBackOff, Message: "m"}},
			false, func(t *testing.T, s api.ContainerStatus) {
				if s.State.Waiting == nil || s.State.Waiting.Reason != reasonCrashLoopBackOff || s.LastTerminationState.Terminated == nil {
					t.Errorf("%+v", s)
				}
			}},
		{"terminated", containerRecord{Started: true, Exit: exit1}, false, func(t *testing.T, s api.ContainerStatus) {
			if s.State.Terminated == nil || s.State.Terminated.Reason != "Error" || s.Ready || *s.Started {
				t.Errorf("%+v", s)
			}
		}},
		{"completed init container is ready", containerRecord{Init: true, Started: true, Exit: &termination{Reason: reasonCompleted}},
			true, func(t *testing.T, s api.ContainerStatus) {
				if !s.Ready {
					t.Errorf("%+v", s)
				}
			}},
		{"running init container is not ready", containerRecord{Init: true, Started: true, Running: true}, true,
			func(t *testing.T, s api.ContainerStatus) {
				if s.Ready {
					t.Errorf("%+v", s)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := containerStatus(&tc.rec, c, tc.hasInit)
			if s.Name != "a" || s.Image != "busybox" {
				t.Errorf("name/image %q %q", s.Name, s.Image)
			}
			tc.check(t, s)
		})
	}
}

func TestPodConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := planState(api.RestartPolicyAlways, 1, []*containerRecord{rec("init", "running", 1)},
		[]*containerRecord{rec("a", "new", 0), rec("b", "new", 0)})
	s := computeStatus(st, t0)
	want := map[api.PodConditionType]api.PodCondition{
		api.PodInitialized:  {Status: api.ConditionFalse, Reason: "ContainersNotInitialized", Message: "containers with incomplete status: [init]"},
		api.PodReady:        {Status: api.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [a b]"},
		api.ContainersReady: {Status: api.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [a b]"},
	}
	if len(s.Conditions) != 3 {
		t.Fatalf("conditions %+v", s.Conditions)
	}
	for _, c := range s.Conditions {
		w := want[c.Type]
		if c.Status != w.Status || c.Reason != w.Reason || c.Message != w.Message || !c.LastTransitionTime.Time.Equal(t0) {
			t.Errorf("%s: %+v, want %+v", c.Type, c, w)
		}
	}
	// Transition times move only when a condition changes.
	st.Status = s
	st.InitContainers[0] = rec("init", "exited:0", 1)
	st.InitContainers[0].Init = true
	st.Containers[0] = rec("a", "running", 1)
	t1 := t0.Add(time.Minute)
	s = computeStatus(st, t1)
	for _, c := range s.Conditions {
		switch c.Type {
		case api.PodInitialized:
			if c.Status != api.ConditionTrue || !c.LastTransitionTime.Time.Equal(t1) {
				t.Errorf("Initialized %+v", c)
			}
		case api.PodReady:
			if c.Status != api.ConditionFalse || !c.LastTransitionTime.Time.Equal(t0) || c.Message != "containers with unready status: [b]" {
				t.Errorf("Ready %+v", c)
			}
		}
	}
}

func TestTerminationOf(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		es         exitStatus
		err        error
		wantCode   int32
		wantReason string
	}{
		{"exit 0", exitStatus{Code: 0}, nil, 0, "Completed"},
		{"exit 3", exitStatus{Code: 3}, nil, 3, "Error"},
		{"SIGTERM", exitStatus{Code: 143, Signal: 15}, nil, 143, "Error"},
		{"signal without code", exitStatus{Signal: 9}, nil, 137, "Error"},
		{"OOM", exitStatus{Code: 137, Signal: 9, OOMKilled: true}, nil, 137, "OOMKilled"},
		{"adopted, unknown", exitStatus{Code: 137, Unknown: true}, nil, 137, "ContainerStatusUnknown"},
		{"adopted, OOM", exitStatus{Code: 137, Unknown: true, OOMKilled: true}, nil, 137, "OOMKilled"},
		{"wait failed", exitStatus{}, errors.New("boom"), 137, "ContainerStatusUnknown"},
	} {
		got := terminationOf(tc.es, tc.err, t0, t0.Add(time.Second))
		if got.ExitCode != tc.wantCode || got.Reason != tc.wantReason {
			t.Errorf("%s: %d %s, want %d %s", tc.name, got.ExitCode, got.Reason, tc.wantCode, tc.wantReason)
		}
		if !got.FinishedAt.Equal(t0.Add(time.Second)) || !got.StartedAt.Equal(t0) {
			t.Errorf("%s: times %v %v", tc.name, got.StartedAt, got.FinishedAt)
		}
	}
}

// A sidecar's status: started and ready as an app container's, the pod
// initialized once it has started, its readiness in the pod's, its exits
// failing nothing, and a pod whose app completed Succeeded although the
// sidecar was stopped by a signal.
func TestComputeStatusSidecar(t *testing.T) {
	always := api.ContainerRestartPolicyAlways
	pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: api.PodSpec{
		RestartPolicy:  api.RestartPolicyNever,
		InitContainers: []api.Container{{Name: "side", Image: "img", RestartPolicy: &always}},
		Containers:     []api.Container{{Name: "app", Image: "img"}},
	}}
	now := planNow
	side := &containerRecord{Name: "side", Init: true, Started: true, Running: true, StartedAt: now}
	app := &containerRecord{Name: "app"}
	st := &podState{Pod: pod, InitContainers: []*containerRecord{side}, Containers: []*containerRecord{app}}
	cond := func(s api.PodStatus, typ api.PodConditionType) api.ConditionStatus {
		for _, c := range s.Conditions {
			if c.Type == typ {
				return c.Status
			}
		}
		return ""
	}

	side.probe.notStarted = true
	s := computeStatus(st, now)
	if is := s.InitContainerStatuses[0]; *is.Started || is.Ready || cond(s, api.PodInitialized) != api.ConditionFalse || s.Phase != api.PodPending {
		t.Errorf("sidecar not started yet: %+v, Initialized %s, phase %s", is, cond(s, api.PodInitialized), s.Phase)
	}

	side.probe = probeView{notReady: true}
	s = computeStatus(st, now)
	if is := s.InitContainerStatuses[0]; !*is.Started || is.Ready || cond(s, api.PodInitialized) != api.ConditionTrue {
		t.Errorf("sidecar started, not ready: %+v, Initialized %s", is, cond(s, api.PodInitialized))
	}

	app.Started, app.Running, app.StartedAt = true, true, now
	s = computeStatus(st, now)
	if cond(s, api.PodReady) != api.ConditionFalse || s.Phase != api.PodRunning {
		t.Errorf("an unready sidecar keeps the pod not Ready: Ready %s, phase %s", cond(s, api.PodReady), s.Phase)
	}
	side.probe = probeView{}
	s = computeStatus(st, now)
	if !s.InitContainerStatuses[0].Ready || cond(s, api.PodReady) != api.ConditionTrue {
		t.Errorf("sidecar ready: %+v, Ready %s", s.InitContainerStatuses[0], cond(s, api.PodReady))
	}

	// The app completes; the sidecar is stopped by SIGKILL.
	app.Running, app.Exit = false, &termination{ExitCode: 0, Reason: reasonCompleted}
	side.Running, side.Exit = false, &termination{ExitCode: 137, Reason: reasonError}
	st.Terminal = true
	s = computeStatus(st, now)
	if s.Phase != api.PodSucceeded || s.InitContainerStatuses[0].Ready {
		t.Errorf("completed pod: phase %s, sidecar %+v", s.Phase, s.InitContainerStatuses[0])
	}
}
