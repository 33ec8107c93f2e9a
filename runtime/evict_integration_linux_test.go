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
