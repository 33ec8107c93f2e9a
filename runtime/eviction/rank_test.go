package eviction

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// rankPod is a pod of one container "c" requesting memory (and
// ephemeral-storage "" for none), at priority prio (nil for none), with
// stats unless ws is negative.
func rankPod(name, memRequest string, prio *int32, ws, procs int64) Candidate {
	p := &api.Pod{}
	p.Namespace, p.Name = "default", name
	c := api.Container{Name: "c"}
	if memRequest != "" {
		c.Resources.Requests = api.ResourceList{api.ResourceMemory: *q(memRequest)}
	}
	p.Spec.Containers = []api.Container{c}
	p.Spec.Priority = prio
	cand := Candidate{Pod: p}
	if ws >= 0 {
		cand.Stats = &PodStats{MemoryWorkingSet: ws, ContainerMemoryWorkingSet: map[string]int64{"c": ws}, Processes: procs}
	}
	return cand
}

func prio(v int32) *int32 { return &v }

// TestRank orders pods as kubelet's rankMemoryPressure, rankPIDPressure
// and rankDiskPressureFunc do.
func TestRank(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name   string
		signal Signal
		pods   []Candidate
		order  []string
	}{
		{"memory: over its request before within, however large", SignalMemoryAvailable, []Candidate{
			rankPod("within-big", "4Gi", nil, 3<<30, 1),
			rankPod("over-small", "", nil, 10*mi, 1),
		}, []string{"over-small", "within-big"}},
		{"memory: among those over, the most above its request first", SignalMemoryAvailable, []Candidate{
			rankPod("over-by-10Mi", "1Gi", nil, 1<<30+10*mi, 1),
			rankPod("over-by-100Mi", "100Mi", nil, 200*mi, 1),
			rankPod("over-by-50Mi", "", nil, 50*mi, 1),
		}, []string{"over-by-100Mi", "over-by-50Mi", "over-by-10Mi"}},
		{"memory: priority before usage, after the request test", SignalMemoryAvailable, []Candidate{
			rankPod("over-high", "", prio(1000), 900*mi, 1),
			rankPod("over-low", "", prio(-5), 10*mi, 1),
			rankPod("within-lowest", "1Gi", prio(-100), 10*mi, 1),
		}, []string{"over-low", "over-high", "within-lowest"}},
		{"memory: within their requests, the closest to it first", SignalMemoryAvailable, []Candidate{
			rankPod("far", "1Gi", nil, 10*mi, 1),
			rankPod("near", "100Mi", nil, 90*mi, 1),
		}, []string{"near", "far"}},
		{"memory: no stats first", SignalMemoryAvailable, []Candidate{
			rankPod("over", "", nil, 1<<30, 1),
			rankPod("unknown", "", nil, -1, 0),
		}, []string{"unknown", "over"}},
		{"memory: ties by name", SignalMemoryAvailable, []Candidate{
			rankPod("b", "", nil, mi, 1), rankPod("a", "", nil, mi, 1),
		}, []string{"a", "b"}},
		{"pids: priority first, then most processes", SignalPIDAvailable, []Candidate{
			rankPod("many-high", "", prio(10), 0, 500),
			rankPod("few", "", nil, 0, 2),
			rankPod("many", "", nil, 0, 300),
		}, []string{"many", "few", "many-high"}},
		{"pids: requests do not count", SignalPIDAvailable, []Candidate{
			rankPod("within", "1Gi", nil, mi, 50),
			rankPod("over", "", nil, 1<<30, 5),
		}, []string{"within", "over"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Rank(tt.signal, tt.pods)
			var got []string
			for _, c := range tt.pods {
				got = append(got, c.Pod.Name)
			}
			if !slices.Equal(got, tt.order) {
				t.Errorf("order = %v, want %v", got, tt.order)
			}
		})
	}
}

func TestThresholdToReclaim(t *testing.T) {
	mem := Threshold{Signal: SignalMemoryAvailable}
	disk := Threshold{Signal: SignalNodeFsAvailable}
	pid := Threshold{Signal: SignalPIDAvailable}
	tests := []struct {
		met  []Threshold
		want Signal
		ok   bool
	}{
		{nil, "", false},
		{[]Threshold{disk, mem, pid}, SignalMemoryAvailable, true},
		{[]Threshold{disk, pid}, SignalNodeFsAvailable, true},
		{[]Threshold{pid}, SignalPIDAvailable, true},
	}
	for _, tt := range tests {
		got, ok := ThresholdToReclaim(tt.met)
		if ok != tt.ok || got.Signal != tt.want {
			t.Errorf("%v: %v %v, want %v %v", tt.met, got.Signal, ok, tt.want, tt.ok)
		}
	}
}

func TestIsCritical(t *testing.T) {
	for _, tt := range []struct {
		prio *int32
		want bool
	}{{nil, false}, {prio(1999999999), false}, {prio(2000000000), true}, {prio(2000001000), true}} {
		p := &api.Pod{}
		p.Spec.Priority = tt.prio
		if got := IsCritical(p); got != tt.want {
			t.Errorf("priority %v: %v, want %v", tt.prio, got, tt.want)
		}
	}
}

// TestPressureMessage: kubelet's evictionMessage, threshold and
// availability included.
func TestPressureMessage(t *testing.T) {
	p := &api.Pod{}
	p.Spec.Containers = []api.Container{
		{Name: "a", Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceEphemeralStorage: *q("1Mi")}}},
		{Name: "b", Resources: api.ResourceRequirements{Requests: api.ResourceList{
			api.ResourceEphemeralStorage: *q("1Gi"), api.ResourceMemory: *q("64Mi")}}},
	}
	p.Spec.InitContainers = []api.Container{{Name: "init"}}
	c := Candidate{Pod: p,
		Usage: PodUsage{Containers: map[string]ContainerUsage{"a": {Rootfs: 2 << 20}, "b": {Rootfs: 1 << 20}}},
		Stats: &PodStats{ContainerMemoryWorkingSet: map[string]int64{"a": 1 << 30, "b": 10 << 20, "init": 3 << 20}},
	}
	mem := Threshold{Signal: SignalMemoryAvailable, Quantity: 100 << 20, Text: "100Mi"}
	tests := []struct {
		name string
		t    Threshold
		obs  Observation
		c    Candidate
		want string
	}{
		{"memory", mem, Observation{Available: 87 << 20, Capacity: 8 << 30}, c,
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 87Mi. " +
				"Container a was using 1Gi, request is 0, has larger consumption of memory. " +
				"Container init was using 3Mi, request is 0, has larger consumption of memory. "},
		{"memory, available not a round number", mem, Observation{Available: 91234567, Capacity: 8 << 30}, Candidate{Pod: p},
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 91234567. "},
		{"nodefs, a percentage", Threshold{Signal: SignalNodeFsAvailable, Percentage: 0.1, Text: "10%"},
			Observation{Available: 1 << 30, Capacity: 100 << 30}, c,
			"The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 1Gi. " +
				"Container a was using 2Mi, request is 1Mi, has larger consumption of ephemeral-storage. "},
		{"inodes", Threshold{Signal: SignalNodeFsInodesFree, Percentage: 0.05, Text: "5%"},
			Observation{Available: 1000, Capacity: 100000}, c,
			"The node was low on resource: inodes. Threshold quantity: 5000, available: 1k. "},
		{"pids", Threshold{Signal: SignalPIDAvailable, Quantity: 1000, Text: "1000"},
			Observation{Available: 999, Capacity: 4194304}, c,
			"The node was low on resource: pids. Threshold quantity: 1k, available: 999. "},
	}
	for _, tt := range tests {
		if got := PressureMessage(tt.t, tt.obs, tt.c); got != tt.want {
			t.Errorf("%s: %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestMemoryObservation reads memory.available from fixtures of a v1
// root memory cgroup, a v2 root and a host without the cgroup files.
func TestMemoryObservation(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 8000000 kB total, 100000 kB free, 200000 kB inactive file.
	meminfo := write("meminfo", "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:    3000000 kB\nInactive(file):   200000 kB\n")
	write("v1/memory.usage_in_bytes", "3000000000\n")
	write("v1/memory.stat", "cache 10\ninactive_file 5\ntotal_inactive_file 1000000000\n")
	write("v2/memory.stat", "anon 10\ninactive_file 500000000\nactive_file 7\n")
	const total = 8000000 << 10
	tests := []struct {
		name string
		src  MemorySource
		want int64
		err  bool
	}{
		{"v1: total - (usage - total_inactive_file)", MemorySource{Meminfo: meminfo, CgroupV1Memory: filepath.Join(dir, "v1")}, total - 2000000000, false},
		{"v2: total - (total - free - inactive_file)", MemorySource{Meminfo: meminfo, CgroupV2: filepath.Join(dir, "v2")}, (100000 << 10) + 500000000, false},
		{"no cgroup files: free + Inactive(file)", MemorySource{Meminfo: meminfo, CgroupV2: filepath.Join(dir, "none")}, 300000 << 10, true},
	}
	for _, tt := range tests {
		obs := Observations{}
		err := MemoryObservation(tt.src, obs)
		if (err != nil) != tt.err {
			t.Errorf("%s: error %v, want one: %v", tt.name, err, tt.err)
		}
		if got := obs[SignalMemoryAvailable]; got != (Observation{Available: tt.want, Capacity: total}) {
			t.Errorf("%s: %+v, want available %d of %d", tt.name, got, tt.want, total)
		}
	}
	if err := MemoryObservation(MemorySource{Meminfo: write("bad", "MemTotal: 1 kB\n")}, Observations{}); err == nil {
		t.Error("a meminfo without MemFree was accepted")
	}
}

// BenchmarkRankMemory ranks 1,000 pods for memory pressure, as a round on
// a full node does.
func BenchmarkRankMemory(b *testing.B) {
	pods := make([]Candidate, 1000)
	for i := range pods {
		pods[i] = rankPod("p"+strconv.Itoa(i), strconv.Itoa(i%7*16)+"Mi", nil, int64(i*7919%1000)<<20, 1)
	}
	work := make([]Candidate, len(pods))
	for b.Loop() {
		copy(work, pods)
		Rank(SignalMemoryAvailable, work)
	}
}
