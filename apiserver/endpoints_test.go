package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcequantity "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/controllers"
)

// TestEndpointsAPI: `kubectl get endpoints` works: the v1 Endpoints the
// state machine mirrors from a Service's EndpointSlices are listed (in a
// namespace and across them), got by name, printed as kubectl's table,
// follow pods becoming ready and not ready, and cannot be written.
func TestEndpointsAPI(t *testing.T) {
	store, srv := newTestServer(t)
	ctx := context.Background()
	commit := func(typ consensus.CommandType, p any) {
		t.Helper()
		if _, err := store.CommitPayload(ctx, typ, p); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	room := api.ResourceList{api.ResourceCPU: resourcequantity.MustParse("8"), api.ResourceMemory: resourcequantity.MustParse("8Gi"), api.ResourcePods: resourcequantity.MustParse("110")}
	commit(consensus.CmdRegisterNode, consensus.RegisterNode{Node: api.Node{ObjectMeta: api.ObjectMeta{Name: "node-1", UID: "n1"},
		Status: api.NodeStatus{Capacity: room, Allocatable: room}}})
	commit(consensus.CmdCreateService, consensus.CreateService{Service: api.Service{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-web", Labels: map[string]string{"tier": "front"}},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []api.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}})
	status := func(name, ip string, ready bool) {
		cond := corev1.ConditionFalse
		if ready {
			cond = corev1.ConditionTrue
		}
		commit(consensus.CmdSetPodStatuses, consensus.SetPodStatuses{Node: "node-1", Updates: []consensus.PodStatusUpdate{{
			Namespace: "default", Name: name, UID: types.UID("uid-" + name), Status: api.PodStatus{Phase: api.PodRunning, PodIP: ip,
				Conditions: []api.PodCondition{{Type: corev1.PodReady, Status: cond}}}}}})
	}
	for _, p := range []struct {
		name, ip string
		ready    bool
	}{{"web-a", "10.88.0.11", true}, {"web-b", "10.88.0.12", false}} {
		pod := api.Pod{ObjectMeta: api.ObjectMeta{Name: p.name, Namespace: "default", UID: types.UID("uid-" + p.name), Labels: map[string]string{"app": "web"}},
			Spec: api.PodSpec{NodeName: "node-1", Containers: []api.Container{{Name: "c", Image: "busybox"}}}}
		api.SetPodDefaults(&pod)
		commit(consensus.CmdCreatePod, consensus.CreatePod{Pod: pod})
		status(p.name, p.ip, p.ready)
	}
	ctl := &controllers.EndpointSlices{State: store.State(), Log: slog.New(slog.DiscardHandler), NewUID: NewUID,
		Commit: controllers.CommitFunc(func(ctx context.Context, t consensus.CommandType, p any) (json.RawMessage, error) {
			res, err := store.CommitPayload(ctx, t, p)
			return res.Response, err
		})}
	sync := func() {
		t.Helper()
		if !ctl.Sync(ctx) {
			t.Fatal("endpoint slice sync failed")
		}
	}
	sync()

	get := func() api.Endpoints {
		t.Helper()
		code, body := do(t, srv, http.MethodGet, "/api/v1/namespaces/default/endpoints/web", "", "")
		if code != http.StatusOK {
			t.Fatalf("get: %d %s", code, body)
		}
		var ep api.Endpoints
		if err := json.Unmarshal([]byte(body), &ep); err != nil {
			t.Fatal(err)
		}
		return ep
	}
	ep := get()
	if ep.Kind != "Endpoints" || ep.APIVersion != "v1" || ep.UID == "" || ep.Labels["tier"] != "front" || len(ep.Subsets) != 1 {
		t.Fatalf("endpoints %+v", ep)
	}
	ss := ep.Subsets[0]
	if len(ss.Addresses) != 1 || ss.Addresses[0].IP != "10.88.0.11" || ss.Addresses[0].TargetRef == nil || ss.Addresses[0].TargetRef.Name != "web-a" ||
		len(ss.NotReadyAddresses) != 1 || ss.NotReadyAddresses[0].IP != "10.88.0.12" ||
		len(ss.Ports) != 1 || ss.Ports[0].Name != "http" || ss.Ports[0].Port != 8080 || ss.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("subset %+v", ss)
	}

	// web-b becomes ready, web-a not: the Endpoints follow, and a watch
	// from the first version sees the change.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	wreq, _ := http.NewRequestWithContext(wctx, http.MethodGet, srv.URL+"/api/v1/namespaces/default/endpoints?watch=1&resourceVersion="+ep.ResourceVersion, nil)
	wresp, err := srv.Client().Do(wreq)
	if err != nil {
		t.Fatal(err)
	}
	defer wresp.Body.Close()
	status("web-b", "10.88.0.12", true)
	status("web-a", "10.88.0.11", false)
	sync()
	ep2 := get()
	if ss := ep2.Subsets[0]; len(ss.Addresses) != 1 || ss.Addresses[0].IP != "10.88.0.12" || len(ss.NotReadyAddresses) != 1 || ss.NotReadyAddresses[0].IP != "10.88.0.11" {
		t.Errorf("after readiness changes: %+v", ss)
	}
	if ep2.UID != ep.UID || ep2.ResourceVersion == ep.ResourceVersion {
		t.Errorf("uid %s → %s, resourceVersion %s → %s", ep.UID, ep2.UID, ep.ResourceVersion, ep2.ResourceVersion)
	}
	sc := bufio.NewScanner(wresp.Body)
	for {
		if !sc.Scan() {
			t.Fatalf("watch ended before the change: %v", sc.Err())
		}
		var e struct {
			Type   string
			Object api.Endpoints
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event %s: %v", sc.Text(), err)
		}
		if e.Type == "MODIFIED" && e.Object.Name == "web" && e.Object.ResourceVersion == ep2.ResourceVersion {
			break
		}
	}
	// Both ready: the table shows them as ip:port.
	status("web-a", "10.88.0.11", true)
	sync()

	for _, path := range []string{"/api/v1/namespaces/default/endpoints", "/api/v1/endpoints"} {
		code, body := do(t, srv, http.MethodGet, path, "", "")
		var list api.EndpointsList
		if code != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || list.Kind != "EndpointsList" || len(list.Items) != 1 || list.Items[0].Name != "web" {
			t.Errorf("list %s: %d %s", path, code, body)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/namespaces/default/endpoints", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 3 || table.ColumnDefinitions[1].Name != "Endpoints" || len(table.Rows) != 1 ||
		table.Rows[0].Cells[0] != "web" || table.Rows[0].Cells[1] != "10.88.0.11:8080,10.88.0.12:8080" {
		t.Errorf("table %+v", table)
	}

	if code, body := do(t, srv, http.MethodPost, "/api/v1/namespaces/default/endpoints", jsonType,
		`{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"x"}}`); code != http.StatusMethodNotAllowed {
		t.Errorf("create: %d %s, want 405", code, body)
	}

	// Deleting the Service deletes its Endpoints.
	commit(consensus.CmdDeleteService, consensus.DeleteService{Namespace: "default", Name: "web"})
	if code, _ := do(t, srv, http.MethodGet, "/api/v1/namespaces/default/endpoints/web", "", ""); code != http.StatusNotFound {
		t.Errorf("get after the Service's deletion: %d, want 404", code)
	}
}
