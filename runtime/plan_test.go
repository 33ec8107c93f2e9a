package runtime

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// planNow is the time the plan tests plan at.
var planNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// rec builds a container record in a compact form: "running",
// "exited:<code>", "failedstart", "new" (never started); gen is the sandbox
// generation of its latest instance.
func rec(name, state string, gen int) *containerRecord {
	r := &containerRecord{Name: name, Gen: gen}
	switch {
	case state == "new":
		r.Gen = 0
	case state == "running":
		r.Started, r.Running = true, true
	case strings.HasPrefix(state, "exited:"):
		var code int32
		fmt.Sscanf(state, "exited:%d", &code)
		r.Started = true
		r.Exit = &termination{ExitCode: code, FinishedAt: planNow.Add(-time.Second)}
	case state == "failedstart":
		r.FailedAt = planNow.Add(-time.Second)
		r.Backoff = backoffEntry{Delay: 10 * time.Second, LastUpdate: planNow.Add(-time.Second)}
		r.Waiting = &waitReason{Reason: reasonCreateContainerError, Message: "boom"}
	default:
		panic(state)
	}
	return r
}

// planState is a pod state with the given init and app records, in sandbox
// generation gen.
func planState(policy api.RestartPolicy, gen int, inits, apps []*containerRecord) *podState {
	p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
		Spec: api.PodSpec{RestartPolicy: policy}}
	for _, r := range inits {
		r.Init = true
		p.Spec.InitContainers = append(p.Spec.InitContainers, api.Container{Name: r.Name, Image: "img"})
	}
	for _, r := range apps {
		p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: r.Name, Image: "img"})
		if r.Started && r.Hash == "" {
			r.Hash = containerHash(&p.Spec.Containers[len(p.Spec.Containers)-1])
		}
	}
	return &podState{Pod: p, SandboxGen: gen, InitContainers: inits, Containers: apps}
}

// summary renders a plan compactly: "kill create init:i start:a,b
// wait:c terminal resync".
func summary(st *podState, a podActions) string {
	var parts []string
	if a.KillPod {
		parts = append(parts, "killpod")
	}
	for _, k := range a.KillContainers {
		if k.Init {
			parts = append(parts, "kill:"+st.InitContainers[k.Index].Name)
		} else {
			parts = append(parts, "kill:"+st.Containers[k.Index].Name)
		}
	}
	if a.CreateSandbox {
		parts = append(parts, "create")
	}
	var inits []string
	for _, s := range a.StartInits {
		inits = append(inits, st.InitContainers[s.Index].Name)
	}
	if len(inits) > 0 {
		parts = append(parts, "init:"+strings.Join(inits, ","))
	}
	var starts []string
	for _, s := range a.StartContainers {
		starts = append(starts, st.Containers[s.Index].Name)
	}
	if len(starts) > 0 {
		parts = append(parts, "start:"+strings.Join(starts, ","))
	}
	var waits []string
	for _, w := range a.Waits {
		if w.Init {
			waits = append(waits, st.InitContainers[w.Index].Name)
		} else {
			waits = append(waits, st.Containers[w.Index].Name)
		}
	}
	if len(waits) > 0 {
		parts = append(parts, "wait:"+strings.Join(waits, ","))
	}
	if a.Terminal {
		parts = append(parts, "terminal")
	}
	if a.Resync {
		parts = append(parts, "resync")
	}
	return strings.Join(parts, " ")
}

func TestComputePodActions(t *testing.T) {
	A, O, N := api.RestartPolicyAlways, api.RestartPolicyOnFailure, api.RestartPolicyNever
	type rs = []*containerRecord
	tests := []struct {
		name   string
		policy api.RestartPolicy
		sb     sandboxState
		gen    int
		inits  rs
		apps   rs
		want   string
	}{
		{"new pod", A, sandboxNone, 0, nil, rs{rec("a", "new", 0), rec("b", "new", 0)}, "create start:a,b"},
		{"new pod with init containers starts only the first", A, sandboxNone, 0,
			rs{rec("i1", "new", 0), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, "create init:i1"},
		{"running pod: nothing to do", A, sandboxReady, 1, nil, rs{rec("a", "running", 1)}, ""},
		{"init containers one at a time: wait for the running one", A, sandboxReady, 1,
			rs{rec("i1", "running", 1), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, ""},
		{"init containers one at a time: the next after success", A, sandboxReady, 1,
			rs{rec("i1", "exited:0", 1), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, "init:i2"},
		{"app containers after all init containers", A, sandboxReady, 1,
			rs{rec("i1", "exited:0", 1), rec("i2", "exited:0", 1)}, rs{rec("a", "new", 0), rec("b", "new", 0)}, "start:a,b"},
		{"failed init container restarts under Always", A, sandboxReady, 1,
			rs{rec("i1", "exited:1", 1)}, rs{rec("a", "new", 0)}, "init:i1"},
		{"failed init container restarts under OnFailure", O, sandboxReady, 1,
			rs{rec("i1", "exited:1", 1)}, rs{rec("a", "new", 0)}, "init:i1"},
		{"failed init container fails the pod under Never", N, sandboxReady, 1,
			rs{rec("i1", "exited:1", 1)}, rs{rec("a", "new", 0)}, "killpod terminal"},
		{"init containers of an earlier sandbox run again", A, sandboxReady, 2,
			rs{rec("i1", "exited:0", 1)}, rs{rec("a", "exited:137", 1)}, "init:i1"},

		// The restart policy matrix, for one app container that exited.
		{"Always restarts a success", A, sandboxReady, 1, nil, rs{rec("a", "exited:0", 1)}, "start:a"},
		{"Always restarts a failure", A, sandboxReady, 1, nil, rs{rec("a", "exited:1", 1)}, "start:a"},
		{"OnFailure ends on success", O, sandboxReady, 1, nil, rs{rec("a", "exited:0", 1)}, "killpod terminal"},
		{"OnFailure restarts a failure", O, sandboxReady, 1, nil, rs{rec("a", "exited:1", 1)}, "start:a"},
		{"Never ends on success", N, sandboxReady, 1, nil, rs{rec("a", "exited:0", 1)}, "killpod terminal"},
		{"Never ends on failure", N, sandboxReady, 1, nil, rs{rec("a", "exited:1", 1)}, "killpod terminal"},
		{"Never waits for the others", N, sandboxReady, 1, nil, rs{rec("a", "exited:1", 1), rec("b", "running", 1)}, ""},
		{"OnFailure keeps a succeeded one down, restarts the failed", O, sandboxReady, 1, nil,
			rs{rec("a", "exited:0", 1), rec("b", "exited:2", 1)}, "start:b"},

		// Sandboxes.
		{"dead sandbox is killed first, then planned again", A, sandboxDead, 1, nil, rs{rec("a", "running", 1)}, "killpod resync"},
		{"no sandbox after containers ran: a new one under Always", A, sandboxNone, 1, nil,
			rs{rec("a", "exited:137", 1)}, "create start:a"},
		{"no sandbox after containers ran: none under Never", N, sandboxNone, 1, nil,
			rs{rec("a", "exited:137", 1)}, "terminal"},
		{"no sandbox: OnFailure restarts only the failed ones", O, sandboxNone, 1, nil,
			rs{rec("a", "exited:0", 1), rec("b", "exited:137", 1)}, "create start:b"},
		{"no sandbox: OnFailure with all succeeded is done", O, sandboxNone, 1, nil,
			rs{rec("a", "exited:0", 1)}, "terminal"},

		// Back-off.
		{"a failed start waits for its back-off", A, sandboxReady, 1, nil, rs{rec("a", "failedstart", 0)}, "wait:a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := planState(tc.policy, tc.gen, tc.inits, tc.apps)
			got := summary(st, computePodActions(st, tc.sb, planNow, defaultBackoff))
			if got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
		})
	}
}

func TestComputePodActionsTerminalPod(t *testing.T) {
	st := planState(api.RestartPolicyAlways, 1, nil, []*containerRecord{rec("a", "exited:1", 1)})
	st.Terminal = true
	for sb, want := range map[sandboxState]string{sandboxNone: "terminal", sandboxReady: "killpod terminal", sandboxDead: "killpod terminal"} {
		if got := summary(st, computePodActions(st, sb, planNow, defaultBackoff)); got != want {
			t.Errorf("terminal pod, sandbox %s: %q, want %q", sb, got, want)
		}
	}
}

// A crash loop: the second failure waits Initial, and says so in
// kubelet's words; the plan asks to come back when the back-off ends.
func TestComputePodActionsCrashLoop(t *testing.T) {
	r := rec("a", "exited:1", 1)
	r.Backoff = backoffEntry{Delay: 10 * time.Second, LastUpdate: planNow.Add(-time.Minute)}
	st := planState(api.RestartPolicyAlways, 1, nil, []*containerRecord{r})
	a := computePodActions(st, sandboxReady, planNow, defaultBackoff)
	if len(a.Waits) != 1 || len(a.StartContainers) != 0 {
		t.Fatalf("plan %s", summary(st, a))
	}
	w := a.Waits[0]
	if w.Waiting.Reason != reasonCrashLoopBackOff || w.Waiting.Message != "back-off 10s restarting failed container=a pod=p_ns(u)" {
		t.Errorf("waiting %+v", w.Waiting)
	}
	if w.Event != "Back-off restarting failed container a in pod p_ns(u)" {
		t.Errorf("event %q", w.Event)
	}
	if want := r.Exit.FinishedAt.Add(10 * time.Second); !a.NextSync.Equal(want) {
		t.Errorf("next sync %v, want %v", a.NextSync, want)
	}
	// Once the back-off is over: restart, with the back-off doubled.
	a = computePodActions(st, sandboxReady, a.NextSync, defaultBackoff)
	if len(a.StartContainers) != 1 || a.StartContainers[0].Backoff == nil || a.StartContainers[0].Backoff.Delay != 20*time.Second {
		t.Errorf("after the back-off: %s %+v", summary(st, a), a.StartContainers)
	}
}

// An image update (the only spec change Kubernetes allows) kills and
// restarts just that container, without back-off.
func TestComputePodActionsSpecChange(t *testing.T) {
	st := planState(api.RestartPolicyAlways, 1, nil, []*containerRecord{rec("a", "running", 1), rec("b", "running", 1)})
	st.Pod.Spec.Containers[0].Image = "img:2"
	a := computePodActions(st, sandboxReady, planNow, defaultBackoff)
	if got := summary(st, a); got != "kill:a start:a" {
		t.Fatalf("plan %q", got)
	}
	if a.StartContainers[0].Backoff != nil || !strings.Contains(a.KillContainers[0].Message, "definition changed") {
		t.Errorf("%+v %+v", a.StartContainers[0], a.KillContainers[0])
	}
}

func TestShouldRestartMatrix(t *testing.T) {
	for _, tc := range []struct {
		policy api.RestartPolicy
		code   int32
		want   bool
	}{
		{api.RestartPolicyAlways, 0, true}, {api.RestartPolicyAlways, 1, true},
		{api.RestartPolicyOnFailure, 0, false}, {api.RestartPolicyOnFailure, 137, true},
		{api.RestartPolicyNever, 0, false}, {api.RestartPolicyNever, 1, false},
		{"", 0, true}, // an undefaulted pod restarts as Always
	} {
		if got := shouldRestart(tc.policy, tc.code); got != tc.want {
			t.Errorf("shouldRestart(%q, %d) = %v", tc.policy, tc.code, got)
		}
	}
}

func TestGracePeriod(t *testing.T) {
	five, ten := int64(5), int64(10)
	p := &api.Pod{}
	if got := gracePeriod(p); got != 30*time.Second {
		t.Errorf("default %v", got)
	}
	p.Spec.TerminationGracePeriodSeconds = &ten
	if got := gracePeriod(p); got != 10*time.Second {
		t.Errorf("spec %v", got)
	}
	p.DeletionGracePeriodSeconds = &five
	if got := gracePeriod(p); got != 5*time.Second {
		t.Errorf("deletion %v", got)
	}
}

// Native sidecars in the plan: names starting with "s" are sidecars.
func TestComputePodActionsSidecars(t *testing.T) {
	A, N := api.RestartPolicyAlways, api.RestartPolicyNever
	type rs = []*containerRecord
	notStarted := func(r *containerRecord) *containerRecord { r.probe.notStarted = true; return r }
	crashed := func(r *containerRecord) *containerRecord {
		r.Backoff = backoffEntry{Delay: 10 * time.Second, LastUpdate: planNow.Add(-time.Minute)}
		return r
	}
	tests := []struct {
		name   string
		policy api.RestartPolicy
		inits  rs
		apps   rs
		want   string
	}{
		{"the init container after a running sidecar starts", A,
			rs{rec("s1", "running", 1), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, "init:i2"},
		{"a sidecar whose startup probe has not passed holds the next back", A,
			rs{notStarted(rec("s1", "running", 1)), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, ""},
		{"app containers start beside running sidecars", A,
			rs{rec("s1", "running", 1), rec("i2", "exited:0", 1)}, rs{rec("a", "new", 0)}, "start:a"},
		{"an exited sidecar is restarted under Never, beside the app", N,
			rs{rec("s1", "exited:1", 1)}, rs{rec("a", "running", 1)}, "init:s1"},
		{"a sidecar that succeeded is restarted too", N,
			rs{rec("s1", "exited:0", 1)}, rs{rec("a", "running", 1)}, "init:s1"},
		{"during init, an exited sidecar is restarted before the next", A,
			rs{rec("s1", "exited:1", 1), rec("i2", "new", 0)}, rs{rec("a", "new", 0)}, "init:s1"},
		{"the app done, the pod completes with its sidecars running", N,
			rs{rec("s1", "running", 1), rec("s2", "running", 1)}, rs{rec("a", "exited:0", 1)}, "killpod terminal"},
		{"a sidecar in back-off does not hold completion back", N,
			rs{crashed(rec("s1", "exited:1", 1))}, rs{rec("a", "exited:0", 1)}, "killpod terminal"},
		{"a sidecar in back-off waits beside the running app", A,
			rs{crashed(rec("s1", "exited:1", 1))}, rs{rec("a", "running", 1)}, "wait:s1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := planState(tc.policy, 1, tc.inits, tc.apps)
			always := api.ContainerRestartPolicyAlways
			for i := range st.Pod.Spec.InitContainers {
				if strings.HasPrefix(st.Pod.Spec.InitContainers[i].Name, "s") {
					st.Pod.Spec.InitContainers[i].RestartPolicy = &always
				}
			}
			a := computePodActions(st, sandboxReady, planNow, defaultBackoff)
			if got := summary(st, a); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
			if a.Terminal && !a.Graceful {
				t.Errorf("a completed pod's sidecars must be stopped gracefully")
			}
		})
	}
}

// The termination order with sidecars: app containers (and regular init
// containers) at once, sidecars after them in reverse order.
func TestStopOrder(t *testing.T) {
	always := api.ContainerRestartPolicyAlways
	specs := map[string]*api.Container{
		"s1": {Name: "s1", RestartPolicy: &always}, "i": {Name: "i"}, "s2": {Name: "s2", RestartPolicy: &always},
		"a": {Name: "a"}, "b": {Name: "b"},
	}
	running := []*containerRecord{{Name: "s1", Init: true}, {Name: "i", Init: true}, {Name: "s2", Init: true}, {Name: "a"}, {Name: "b"}}
	got := stopOrder(running, func(r *containerRecord) *api.Container { return specs[r.Name] })
	want := [][]int{{1, 2, 3, 4}, nil, {1, 3, 4}, nil, nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stopOrder = %v, want %v", got, want)
	}
}
