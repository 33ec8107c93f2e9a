package eviction

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

func q(s string) *resource.Quantity {
	v := resource.MustParse(s)
	return &v
}

// storagePod has containers a and b with the given ephemeral-storage
// limits ("" for none), an emptyDir "cache" with sizeLimit 1Mi and an
// emptyDir "mem" on tmpfs with sizeLimit 1Mi.
func storagePod(limitA, limitB string) *api.Pod {
	p := &api.Pod{}
	p.Namespace, p.Name = "default", "p"
	for _, c := range []struct{ name, limit string }{{"a", limitA}, {"b", limitB}} {
		ctr := api.Container{Name: c.name}
		if c.limit != "" {
			ctr.Resources.Limits = api.ResourceList{api.ResourceEphemeralStorage: *q(c.limit)}
		}
		p.Spec.Containers = append(p.Spec.Containers, ctr)
	}
	p.Spec.Volumes = []api.Volume{
		{Name: "cache", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{SizeLimit: q("1Mi")}}},
		{Name: "mem", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: q("1Mi")}}},
	}
	return p
}

func TestLocalStorageVerdict(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name  string
		pod   *api.Pod
		usage PodUsage
		want  string
	}{
		{"within every limit", storagePod("1Gi", "1Gi"), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: mi, Logs: mi}},
			Volumes:    map[string]int64{"cache": mi}}, ""},
		{"emptyDir over its sizeLimit", storagePod("", ""), PodUsage{Volumes: map[string]int64{"cache": mi + 1}},
			`Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
		{"a tmpfs emptyDir is memory, not storage", storagePod("", ""), PodUsage{Volumes: map[string]int64{"mem": 5 * mi}}, ""},
		{"pod over the total of its containers' limits", storagePod("1Gi", "1Gi"), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: 1 << 30}},
			Volumes:    map[string]int64{"cache": mi - 1, "x": 1 << 30}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 2Gi. "},
		{"no container limit: no pod limit", storagePod("", ""), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: 100 << 30}}}, ""},
		{"container over its own limit, logs counted", storagePod("1Mi", "1Gi"), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: mi / 2, Logs: mi/2 + 1}}},
			`Container a exceeded its local ephemeral storage limit "1Mi". `},
		{"the emptyDir is checked first", storagePod("1Mi", ""), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: 2 * mi}},
			Volumes:    map[string]int64{"cache": 2 * mi}},
			`Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
		{"then the pod", storagePod("1Mi", ""), PodUsage{
			Containers: map[string]ContainerUsage{"a": {Rootfs: 2 * mi}}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LocalStorageVerdict(tt.pod, tt.usage); got != tt.want {
				t.Errorf("verdict = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestRankForDiskPressure(t *testing.T) {
	mk := func(name, request string, used int64) Candidate {
		p := &api.Pod{}
		p.Namespace, p.Name = "default", name
		c := api.Container{Name: "c"}
		if request != "" {
			c.Resources.Requests = api.ResourceList{api.ResourceEphemeralStorage: *q(request)}
		}
		p.Spec.Containers = []api.Container{c}
		return Candidate{Pod: p, Usage: PodUsage{Containers: map[string]ContainerUsage{"c": {Rootfs: used}}}}
	}
	tests := []struct {
		name  string
		pods  []Candidate
		order []string
	}{
		{"over their requests first, by how much", []Candidate{
			mk("small-over", "1Ki", 2<<10),
			mk("big-under", "100Gi", 50<<30),
			mk("big-over", "", 10<<20),
		}, []string{"big-over", "small-over", "big-under"}},
		{"under their requests: the closest to it first", []Candidate{
			mk("far", "10Gi", 1<<30),
			mk("near", "2Gi", 1<<30),
		}, []string{"near", "far"}},
		{"ties by name", []Candidate{mk("b", "", 1), mk("a", "", 1)}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Rank(SignalNodeFsAvailable, tt.pods)
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

// TestDirUsage measures a real tree: allocated blocks, hard links once,
// and the early stop.
func TestDirUsage(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, n int) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty, err := DirUsage(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	write("a/big", 1<<20)
	write("b/c/d/small", 100)
	if err := os.Link(filepath.Join(root, "a/big"), filepath.Join(root, "a/big-link")); err != nil {
		t.Fatal(err)
	}
	// A sparse file of 1 GiB uses (almost) nothing.
	f, err := os.Create(filepath.Join(root, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := DirUsage(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB once (linked twice), a block for the small file, the dirs.
	if used := got - empty; used < 1<<20 || used > 1<<20+256<<10 {
		t.Errorf("usage = %d more than the empty dir, want about 1 MiB", used)
	}
	stopped, err := DirUsage(root, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if stopped <= 1<<10 {
		t.Errorf("stopped at %d, want over the bound 1Ki", stopped)
	}
	if n, err := DirUsage(filepath.Join(root, "missing"), 0); err != nil || n != 0 {
		t.Errorf("missing dir: %d, %v", n, err)
	}
}

// BenchmarkDirUsage is the cost of one measurement of a pod's tree of
// small files, 100 per directory: the walk every pod gets every
// housekeeping interval (10 s). "bounded" stops past 1 MiB (an emptyDir's
// sizeLimit), whatever the tree's size.
func BenchmarkDirUsage(b *testing.B) {
	for _, tc := range []struct {
		name      string
		files     int
		stopAbove int64
	}{
		{"files=1000", 1000, 0},
		{"files=10000", 10000, 0},
		{"files=10000/bounded=1Mi", 10000, 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			root := b.TempDir()
			for i := range tc.files {
				dir := filepath.Join(root, fmt.Sprintf("d%03d", i/100))
				if i%100 == 0 {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						b.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i%100)), []byte("x"), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DirUsage(root, tc.stopAbove); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
