package placement

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// benchBatch is the number of pods placed per Place call (one leader round).
const benchBatch = 1000

// benchCluster is n nodes of 16 cores, 64Gi and 110 slots, a fifth already
// half used, a third labelled disk=ssd; and a batch of pods of 100m–1 core
// and 128Mi–2Gi, half of them replicas of 20 owners, a tenth with a
// nodeSelector, a twentieth with a host port.
func benchCluster(n int) ([]NodeInfo, []PodInfo) {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	nodes := make([]NodeInfo, n)
	for i := range nodes {
		nodes[i] = NodeInfo{
			Name:        fmt.Sprintf("node-%05d", i),
			Ready:       true,
			Allocatable: api.Resources{MilliCPU: 16000, Memory: 64 * gi, Pods: 110},
		}
		if i%3 == 0 {
			nodes[i].Labels = map[string]string{"disk": "ssd"}
		}
		if i%5 == 0 {
			nodes[i].Requested = api.Resources{MilliCPU: 8000, Memory: 32 * gi, Pods: 30}
		}
	}
	pods := make([]PodInfo, benchBatch)
	for i := range pods {
		p := PodInfo{
			Key:     fmt.Sprintf("bench/pod-%05d", i),
			Request: api.Resources{MilliCPU: 100 * (1 + rng.Int64N(10)), Memory: 128 * mi * (1 + rng.Int64N(16)), Pods: 1},
		}
		if i%2 == 0 {
			p.OwnerUID = types.UID(fmt.Sprintf("rs-%02d", rng.IntN(20)))
		}
		if i%10 == 0 {
			p.NodeSelector = map[string]string{"disk": "ssd"}
		}
		if i%20 == 5 { // not the selector pods: 34 ssd nodes could not take 50
			p.HostPorts = []api.HostPort{{Protocol: api.ProtocolTCP, Port: 8080}}
		}
		pods[i] = p
	}
	return nodes, pods
}

// BenchmarkPlace measures pure placement throughput: one op places a batch
// of benchBatch pods with the default (sampling, spread) config.
func BenchmarkPlace(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			nodes, pods := benchCluster(n)
			cfg := DefaultConfig()
			b.ReportAllocs()
			b.ResetTimer()
			bound := 0
			for b.Loop() {
				bound = len(Place(cfg, nodes, pods).Bindings)
			}
			if bound != len(pods) {
				b.Fatalf("bound %d of %d pods", bound, len(pods))
			}
			b.ReportMetric(float64(b.N*len(pods))/b.Elapsed().Seconds(), "pods/s")
		})
	}
}
