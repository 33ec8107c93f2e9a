package tables

import (
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// BenchmarkPodTable measures what `kubectl get pods` costs the agent over
// 1,000 pods beyond the list itself: the Table (rows with their
// PartialObjectMetadata, as kubectl asks) and its JSON encoding. The
// issue's end-to-end number (request to response over HTTPS) is the e2e
// benchmark's; this one isolates the conversion.
func BenchmarkPodTable(b *testing.B) {
	list := api.PodList{ListMeta: api.ListMeta{ResourceVersion: "1000"}}
	for i := range 1000 {
		list.Items = append(list.Items, api.Pod{
			TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{Name: fmt.Sprintf("web-%04d", i), Namespace: "default", UID: types.UID(fmt.Sprintf("uid-%d", i)),
				ResourceVersion: fmt.Sprint(i), CreationTimestamp: ago(time.Duration(i) * time.Minute), Labels: map[string]string{"app": "web"}},
			Spec: api.PodSpec{NodeName: "node-1", Containers: []api.Container{{Name: "web", Image: "nginx:1.27"}}},
			Status: api.PodStatus{Phase: api.PodRunning, PodIP: "10.244.1.5", PodIPs: []api.PodIP{{IP: "10.244.1.5"}},
				ContainerStatuses: []api.ContainerStatus{{Name: "web", Ready: true, RestartCount: 1, State: running(),
					LastTerminationState: finishedAgo(time.Hour)}}},
		})
	}
	opts := Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}
	b.ReportAllocs()
	for b.Loop() {
		table, err := Convert(list, opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(io.Discard).Encode(table); err != nil {
			b.Fatal(err)
		}
	}
}
