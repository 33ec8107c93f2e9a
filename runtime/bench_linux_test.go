package runtime

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// BenchmarkPodStart measures what issue 4 asks of the runtime: from
// SyncPods to the update that reports phase Running, for a 1-container
// and a 3-container pod whose image is present, on the real image store
// and container manager. It reports p50 and p99 over the b.N pods; each
// pod is removed (untimed) before the next starts.
func BenchmarkPodStart(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			needRoot(b)
			pause, imageTar := fixtures.get(b)
			cfg := DefaultConfig()
			cfg.Root = b.TempDir()
			cfg.NodeName = "node-1"
			cfg.PauseBinary = pause
			cfg.CgroupRoot = fmt.Sprintf("/gossipod-rt-bench-%d-%d", os.Getpid(), cgroupSeq.Add(1))
			cfg.Logger = testLogger(b)
			r, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = r.Run(ctx) })
			defer func() {
				cancel()
				wg.Wait()
				removeCgroupRoot(cfg.CgroupRoot)
			}()
			f, err := os.Open(imageTar)
			if err != nil {
				b.Fatal(err)
			}
			_, err = r.LoadImage(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			r.SyncPods(nil)

			var lat []time.Duration
			b.ResetTimer()
			for i := range b.N {
				var cs []api.Container
				for j := range n {
					cs = append(cs, api.Container{Name: fmt.Sprintf("c%d", j), Command: []string{"sleep", "3600"}})
				}
				p := busyboxPod(fmt.Sprintf("bench-%d", i), cs...)
				start := time.Now()
				r.SyncPods([]*api.Pod{p})
				awaitUpdate(b, r, string(p.UID), func(u PodUpdate) bool { return u.Status.Phase == api.PodRunning })
				lat = append(lat, time.Since(start))

				b.StopTimer()
				r.SyncPods(nil)
				awaitUpdate(b, r, string(p.UID), func(u PodUpdate) bool { return u.Removed })
				b.StartTimer()
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[min(int(q*float64(len(lat))), len(lat)-1)].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}

// awaitUpdate reads updates until one of the pod satisfies ok.
func awaitUpdate(b *testing.B, r *Runtime, uid string, ok func(PodUpdate) bool) {
	b.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case u := <-r.Updates():
			if u.UID == uid && ok(u) {
				return
			}
		case <-timeout:
			b.Fatalf("pod %s: timed out", uid)
		}
	}
}
