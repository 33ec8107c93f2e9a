package runtime

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/eviction"
)

// TestRealLocalStorageEviction: pods writing past their emptyDir's
// sizeLimit, past the total of their containers' ephemeral-storage limits,
// or a container past its own, are evicted as kubelet evicts them: phase
// Failed, reason Evicted, kubelet's message, an Evicted event, and their
// containers killed. A pod within its limits is left alone.
func TestRealLocalStorageEviction(t *testing.T) {
	h := newRealHarnessWith(t, func(c *Config) { c.HousekeepingInterval = 200 * time.Millisecond })
	limit := func(c api.Container, q string) api.Container {
		c.Resources.Limits = api.ResourceList{api.ResourceEphemeralStorage: resource.MustParse(q)}
		return c
	}
	fill := func(path string) string {
		return "dd if=/dev/zero of=" + path + " bs=1024 count=4096 && sync && exec sleep 3600"
	}

	emptyDir := busyboxPod("fills-emptydir", api.Container{Name: "writer", Command: []string{"sh", "-c", fill("/cache/fill")},
		VolumeMounts: []api.VolumeMount{{Name: "cache", MountPath: "/cache"}}})
	sizeLimit := resource.MustParse("1Mi")
	emptyDir.Spec.Volumes = []api.Volume{{Name: "cache", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{SizeLimit: &sizeLimit}}}}

	podTotal := busyboxPod("fills-rootfs", limit(sh("writer", fill("/fill")), "1Mi"))
	container := busyboxPod("fills-container", limit(sh("writer", fill("/fill")), "1Mi"), limit(sh("idle", "exec sleep 3600"), "1Gi"))
	quiet := busyboxPod("within-limits", limit(sh("writer", "dd if=/dev/zero of=/small bs=1024 count=64 && exec sleep 3600"), "10Mi"))

	pods := []*api.Pod{emptyDir, podTotal, container, quiet}
	h.r.SyncPods(pods)
	want := map[*api.Pod]string{
		emptyDir:  `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `,
		podTotal:  "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ",
		container: `Container writer exceeded its local ephemeral storage limit "1Mi". `,
	}
	for p, msg := range want {
		u := h.waitFor(string(p.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
		if u.Status.Phase != api.PodFailed || u.Status.Message != msg {
			t.Errorf("%s: phase %s, message %q; want Failed, %q", p.Name, u.Status.Phase, u.Status.Message, msg)
		}
		for _, c := range u.Status.Conditions {
			if c.Type == "DisruptionTarget" {
				t.Errorf("%s: a DisruptionTarget condition for an eviction over its own limits", p.Name)
			}
		}
		if !strings.Contains(strings.Join(h.eventReasons(string(p.UID)), " "), "Evicted") {
			t.Errorf("%s: no Evicted event in %v", p.Name, h.eventReasons(string(p.UID)))
		}
		waitUntilFor(t, 20*time.Second, p.Name+"'s containers killed", func() bool {
			s := workerSnapshot(h, string(p.UID))
			for _, c := range s.containers {
				if c.running {
					return false
				}
			}
			return s.terminal
		})
	}
	// The quiet pod had as many rounds as the others to be evicted.
	time.Sleep(time.Second)
	if s := workerSnapshot(h, string(quiet.UID)); s.terminal || s.status.Phase != api.PodRunning {
		t.Errorf("the pod within its limits: phase %s, reason %q", s.status.Phase, s.status.Reason)
	}
}

// workerSnapshot is the latest snapshot of a pod's worker.
func workerSnapshot(h *harness, uid string) *podSnapshot {
	h.r.mu.Lock()
	w := h.r.workers[uid]
	h.r.mu.Unlock()
	return w.snapshot()
}

// diskPressureMessage is kubelet's message for TestRealDiskPressureEviction's
// pod: the threshold is 99% of the file system, in bytes.
var diskPressureMessage = regexp.MustCompile(`^The node was low on resource: ephemeral-storage\. Threshold quantity: [0-9]+[KMGT]?i?, available: [0-9]+[KMGT]?i?\. ` +
	`Container c was using [0-9]+[KMGT]?i?, request is 0, has larger consumption of ephemeral-storage\. $`)

// TestRealDiskPressureEviction: with a nodefs.available threshold the
// node's disk is always under (99%), the runtime reports DiskPressure and
// evicts a running pod with kubelet's node-pressure message.
func TestRealDiskPressureEviction(t *testing.T) {
	h := newRealHarnessWith(t, func(c *Config) {
		c.HousekeepingInterval = 200 * time.Millisecond
		c.EvictionHard = []eviction.Threshold{{Signal: eviction.SignalNodeFsAvailable, Percentage: 0.99, Text: "99%"}}
	})
	p := busyboxPod("victim", sh("c", "exec sleep 3600"))
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitFor(string(p.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
	// The container wrote a little to its writable layer (its /etc
	// files...), above its request of none: kubelet names it.
	msg := u.Status.Message
	if u.Status.Phase != api.PodFailed || !diskPressureMessage.MatchString(msg) {
		t.Errorf("phase %s, message %q; want Failed, kubelet's node-pressure message", u.Status.Phase, msg)
	}
	var disruption *api.PodCondition
	for i := range u.Status.Conditions {
		if u.Status.Conditions[i].Type == "DisruptionTarget" {
			disruption = &u.Status.Conditions[i]
		}
	}
	if disruption == nil || disruption.Status != api.ConditionTrue || disruption.Reason != "TerminationByKubelet" || disruption.Message != msg {
		t.Errorf("DisruptionTarget condition = %+v, want True, TerminationByKubelet, the message", disruption)
	}
	if got := h.r.Pressure(); !slices.Equal(got, []api.NodeConditionType{api.NodeDiskPressure}) {
		t.Errorf("Pressure() = %v, want [DiskPressure]", got)
	}
}

// TestRealPIDPressure: with a pid.available threshold this node is
// always under (its whole pid capacity), the runtime's housekeeping
// reports PIDPressure from the node's real pid counts.
func TestRealPIDPressure(t *testing.T) {
	s, err := ReadPIDStats()
	if err != nil {
		t.Fatal(err)
	}
	h := newRealHarnessWith(t, func(c *Config) {
		c.HousekeepingInterval = 100 * time.Millisecond
		c.EvictionHard = []eviction.Threshold{{Signal: eviction.SignalPIDAvailable, Quantity: s.MaxPID, Text: strconv.FormatInt(s.MaxPID, 10)}}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(h.r.Pressure(), []api.NodeConditionType{api.NodePIDPressure}) {
		if time.Now().After(deadline) {
			t.Fatalf("Pressure() = %v after 10s, want [PIDPressure]", h.r.Pressure())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealMemoryPressureEviction: with a memory.available threshold set
// 1Gi below the node's available memory measured at the start (a margin
// wide enough for what the rest of a busy host does meanwhile), a pod
// with no memory request that writes 2Gi to a memory-backed emptyDir
// pushes the node under it; the
// eviction manager evicts that pod, as kubelet does (Failed, Evicted, its
// message naming the threshold, what was available and the container over
// its request, the Evicted event), and not the pod within its memory
// request, which still runs once the node has recovered. It logs the time
// from the threshold's crossing, as this test sees it, to the eviction.
func TestRealMemoryPressureEviction(t *testing.T) {
	const mi = 1 << 20
	measure := func() int64 {
		obs := eviction.Observations{}
		if err := eviction.MemoryObservation(eviction.HostMemorySource(), obs); err != nil {
			t.Fatal(err)
		}
		return obs[eviction.SignalMemoryAvailable].Available
	}
	thresholdMi := (measure() - 1024*mi) / mi
	threshold := eviction.Threshold{Signal: eviction.SignalMemoryAvailable, Quantity: thresholdMi * mi, Text: strconv.FormatInt(thresholdMi, 10) + "Mi"}
	h := newRealHarnessWith(t, func(c *Config) {
		c.HousekeepingInterval = 200 * time.Millisecond
		c.EvictionHard = []eviction.Threshold{threshold}
	})

	within := busyboxPod("within-request", sh("idle", "exec sleep 3600"))
	within.Spec.Containers[0].Resources.Requests = api.ResourceList{api.ResourceMemory: resource.MustParse("64Mi")}
	h.r.SyncPods([]*api.Pod{within})
	h.waitPhase(string(within.UID), api.PodRunning)

	// 2Gi in an emptyDir of medium Memory: tmpfs pages, charged to the
	// container's cgroup, which only unmounting gives back.
	hog := busyboxPod("hog", api.Container{Name: "hog", Command: []string{"sh", "-c", "dd if=/dev/zero of=/mem/fill bs=1M count=2048 && exec sleep 3600"},
		VolumeMounts: []api.VolumeMount{{Name: "mem", MountPath: "/mem"}}})
	hog.Spec.Volumes = []api.Volume{{Name: "mem", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory"}}}}
	api.SetPodDefaults(hog)
	crossed := make(chan time.Time, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if measure() < threshold.Quantity {
				crossed <- time.Now()
				return
			}
		}
	}()
	h.r.SyncPods([]*api.Pod{within, hog})
	u := h.waitFor(string(hog.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
	evictedAt := time.Now()
	msg := regexp.MustCompile(`^The node was low on resource: memory\. Threshold quantity: ` + threshold.Text +
		`, available: ([0-9]+[KMG]?i?)\. Container hog was using ([0-9]+[KMG]?i?), request is 0, has larger consumption of memory\. $`)
	if u.Status.Phase != api.PodFailed || !msg.MatchString(u.Status.Message) {
		t.Errorf("hog: phase %s, message %q; want Failed, kubelet's memory-pressure message", u.Status.Phase, u.Status.Message)
	}
	if !strings.Contains(strings.Join(h.eventReasons(string(hog.UID)), " "), "Evicted") {
		t.Errorf("no Evicted event in %v", h.eventReasons(string(hog.UID)))
	}
	select {
	case at := <-crossed:
		t.Logf("threshold %s crossed; hog evicted %v later; %s", threshold, evictedAt.Sub(at).Round(time.Millisecond), u.Status.Message)
	default:
		t.Logf("the test's own sampling missed the crossing; %s", u.Status.Message)
	}
	if got := h.r.Pressure(); !slices.Contains(got, api.NodeMemoryPressure) {
		t.Errorf("Pressure() = %v, want MemoryPressure (for the transition period)", got)
	}

	// The hog's memory is back (its tmpfs unmounted, as kubelet tears
	// down a terminated pod's volumes): rounds go by and the pod within
	// its request stays.
	waitUntilFor(t, 20*time.Second, "the node's recovery", func() bool { return measure() > threshold.Quantity+512*mi })
	time.Sleep(2 * time.Second) // 10 rounds
	if s := workerSnapshot(h, string(within.UID)); s.terminal || s.status.Phase != api.PodRunning {
		t.Errorf("the pod within its request: phase %s, reason %q, message %q", s.status.Phase, s.status.Reason, s.status.Message)
	}
}

// TestRealPIDPressureEviction: with a pid.available threshold set 150
// tasks below the node's measured at the start, a pod forking 300
// sleepers pushes the node under it and is evicted, ranked by its process
// count as kubelet's rankPIDPressure ranks it, with kubelet's message; the
// quiet pod (first by name, so a ranking by name alone would pick it)
// stays.
func TestRealPIDPressureEviction(t *testing.T) {
	s, err := ReadPIDStats()
	if err != nil {
		t.Fatal(err)
	}
	limit := s.Available() - 150
	threshold := eviction.Threshold{Signal: eviction.SignalPIDAvailable, Quantity: limit, Text: strconv.FormatInt(limit, 10)}
	h := newRealHarnessWith(t, func(c *Config) {
		c.HousekeepingInterval = 200 * time.Millisecond
		c.EvictionHard = []eviction.Threshold{threshold}
	})
	quiet := busyboxPod("a-quiet", sh("idle", "exec sleep 3600"))
	forker := busyboxPod("forker", sh("forker", "for i in $(seq 300); do sleep 3600 & done; wait"))
	h.r.SyncPods([]*api.Pod{quiet, forker})
	u := h.waitFor(string(forker.UID), "eviction", func(u PodUpdate) bool { return u.Status.Reason == "Evicted" })
	msg := regexp.MustCompile(`^The node was low on resource: pids\. Threshold quantity: [0-9]+k?, available: [0-9]+k?\. $`)
	if u.Status.Phase != api.PodFailed || !msg.MatchString(u.Status.Message) {
		t.Errorf("forker: phase %s, message %q; want Failed, kubelet's pid-pressure message", u.Status.Phase, u.Status.Message)
	}
	t.Logf("threshold %s: %s", threshold, u.Status.Message)
	if got := h.r.Pressure(); !slices.Contains(got, api.NodePIDPressure) {
		t.Errorf("Pressure() = %v, want PIDPressure", got)
	}
	time.Sleep(2 * time.Second) // 10 rounds
	if s := workerSnapshot(h, string(quiet.UID)); s.terminal || s.status.Phase != api.PodRunning {
		t.Errorf("the quiet pod: phase %s, reason %q, message %q", s.status.Phase, s.status.Reason, s.status.Message)
	}
}

// BenchmarkRealPodStats measures what a round under memory or pid
// pressure adds per running pod: reading its cgroups (the pod's working
// set and processes, each container's working set), here a pod of two
// containers; and the node's memory.available from the root cgroup.
func BenchmarkRealPodStats(b *testing.B) {
	h := newRealHarnessWith(b, func(c *Config) { c.HousekeepingInterval = time.Hour })
	p := busyboxPod("stats", sh("a", "exec sleep 3600"), sh("b", "exec sleep 3600"))
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	reader := h.r.sandbox.(podStatsReader)
	b.Run("pod", func(b *testing.B) {
		for b.Loop() {
			s, err := reader.PodStats(string(p.UID), []string{"a", "b"})
			if err != nil || len(s.ContainerMemoryWorkingSet) != 2 || s.Processes < 2 {
				b.Fatalf("%+v, %v", s, err)
			}
		}
	})
	b.Run("node-memory", func(b *testing.B) {
		src := eviction.HostMemorySource()
		for b.Loop() {
			if err := eviction.MemoryObservation(src, eviction.Observations{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
