package runtime

import (
	"slices"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// TestComputeStatusEvicted: an evicted pod is Failed with reason Evicted
// and the eviction's message, whatever its containers' exits say, and only
// a node-pressure eviction adds the DisruptionTarget condition.
func TestComputeStatusEvicted(t *testing.T) {
	pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: api.PodSpec{
		RestartPolicy: api.RestartPolicyAlways,
		Containers:    []api.Container{{Name: "app", Image: "img"}},
	}}
	// The container was killed with SIGKILL: exit 137.
	app := &containerRecord{Name: "app", Started: true, StartedAt: planNow,
		Exit: &termination{ExitCode: 137, Reason: "Error", StartedAt: planNow, FinishedAt: planNow}}
	tests := []struct {
		name       string
		record     evictionRecord
		disruption bool
	}{
		{"over its own limits", evictionRecord{Message: `Usage of EmptyDir volume "x" exceeds the limit "1Mi". `}, false},
		{"node pressure", evictionRecord{Message: "The node was low on resource: ephemeral-storage. ", NodePressure: true, At: planNow}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &podState{Pod: pod, Containers: []*containerRecord{app}, Terminal: true, Evicted: &tt.record}
			s := computeStatus(st, planNow)
			if s.Phase != api.PodFailed || s.Reason != "Evicted" || s.Message != tt.record.Message {
				t.Errorf("phase %s, reason %q, message %q; want Failed, Evicted, %q", s.Phase, s.Reason, s.Message, tt.record.Message)
			}
			found := false
			for _, c := range s.Conditions {
				if c.Type == "DisruptionTarget" {
					found = c.Status == api.ConditionTrue && c.Reason == "TerminationByKubelet" && c.Message == tt.record.Message
				}
			}
			if found != tt.disruption {
				t.Errorf("DisruptionTarget condition %v, want %v (conditions %+v)", found, tt.disruption, s.Conditions)
			}
		})
	}
}

// TestMemoryPressureEvictsOnePodPerRound: under memory pressure the
// eviction manager evicts the pod kubelet ranks first (over its request),
// with kubelet's message, then evicts nothing while that pod's cleanup is
// under way (even when another pod ranks first meanwhile), nor once the
// node has recovered; only when the node is under pressure again, with the
// first pod gone, does the next pod go.
func TestMemoryPressureEvictsOnePodPerRound(t *testing.T) {
	const mi = 1 << 20
	h := newHarness(t)
	h.stop()
	gate := make(chan struct{})
	var mu sync.Mutex
	available := int64(500 * mi)
	setAvailable := func(v int64) { mu.Lock(); available = v; mu.Unlock() }
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err != nil {
			return nil, err
		}
		r.cfg.HousekeepingInterval = time.Hour // the test runs the rounds
		r.cfg.EvictionHard = []eviction.Threshold{{Signal: eviction.SignalMemoryAvailable, Quantity: 100 * mi, Text: "100Mi"}}
		r.observe = func() eviction.Observations {
			mu.Lock()
			defer mu.Unlock()
			return eviction.Observations{eviction.SignalMemoryAvailable: {Available: available, Capacity: 8 << 30}}
		}
		return r, nil
	}
	h.start()

	hog := testPod("hog", "app")
	within := testPod("within", "app")
	within.Spec.Containers[0].Resources.Requests = api.ResourceList{api.ResourceMemory: resource.MustParse("64Mi")}
	h.rt.mu.Lock()
	h.rt.podStats = map[string]eviction.PodStats{
		string(hog.UID):    {MemoryWorkingSet: 300 * mi, ContainerMemoryWorkingSet: map[string]int64{"app": 300 * mi}, Processes: 2},
		string(within.UID): {MemoryWorkingSet: 10 * mi, ContainerMemoryWorkingSet: map[string]int64{"app": 10 * mi}, Processes: 2},
	}
	h.rt.destroyGate = gate
	h.rt.mu.Unlock()
	h.r.SyncPods([]*api.Pod{hog, within})
	h.waitPhase(string(hog.UID), api.PodRunning)
	h.waitPhase(string(within.UID), api.PodRunning)
	evicting := func(p *api.Pod) bool {
		h.r.mu.Lock()
		w := h.r.workers[string(p.UID)]
		h.r.mu.Unlock()
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.evictMsg != ""
	}

	// Round 1: not under pressure.
	h.r.housekeeping()
	if evicting(hog) || evicting(within) {
		t.Fatal("a pod evicted without pressure")
	}

	// Round 2: 50Mi available, under the 100Mi threshold: the hog goes
	// (its status is reported once its containers are killed, which the
	// gate holds).
	setAvailable(50 * mi)
	h.r.housekeeping()
	if !evicting(hog) || evicting(within) {
		t.Fatalf("evicting hog %v, within %v; want the hog only", evicting(hog), evicting(within))
	}

	// Rounds 3-5: still under pressure, and the other pod now ranks
	// first (the hog's processes are dying, the other pod grew past its
	// request), but the hog's cleanup holds.
	h.rt.mu.Lock()
	h.rt.podStats[string(hog.UID)] = eviction.PodStats{ContainerMemoryWorkingSet: map[string]int64{}}
	h.rt.podStats[string(within.UID)] = eviction.PodStats{MemoryWorkingSet: 100 * mi, ContainerMemoryWorkingSet: map[string]int64{"app": 100 * mi}, Processes: 2}
	h.rt.mu.Unlock()
	for range 3 {
		h.r.housekeeping()
	}
	if evicting(within) {
		t.Fatal("the next pod was evicted before the first one's cleanup")
	}

	// The hog's cleanup ends; the node has recovered: nothing to evict.
	close(gate)
	u := h.waitFor(string(hog.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
	want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. " +
		"Container app was using 300Mi, request is 0, has larger consumption of memory. "
	if u.Status.Phase != api.PodFailed || u.Status.Message != want {
		t.Errorf("hog: phase %s, message %q; want Failed, %q", u.Status.Phase, u.Status.Message, want)
	}
	waitUntilFor(t, 5*time.Second, "the hog's cleanup", func() bool { return h.r.cleanedUp([]string{string(hog.UID)}) })
	setAvailable(500 * mi)
	h.r.housekeeping()
	if evicting(within) {
		t.Fatal("a pod evicted after the node recovered")
	}
	if got := h.r.Pressure(); !slices.Equal(got, []api.NodeConditionType{api.NodeMemoryPressure}) {
		t.Errorf("Pressure() = %v, want MemoryPressure for the transition period", got)
	}

	// Under pressure again: the next in rank goes.
	setAvailable(80 * mi)
	h.r.housekeeping()
	u = h.waitFor(string(within.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
	if want := "The node was low on resource: memory. Threshold quantity: 100Mi, available: 80Mi. " +
		"Container app was using 100Mi, request is 64Mi, has larger consumption of memory. "; u.Status.Message != want {
		t.Errorf("within: message %q, want %q", u.Status.Message, want)
	}
}
