package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
)

// addService creates a Service as the API would, recording the cluster
// network (with the default service CIDR) first, as the leader does.
func (f *testServer) addService(svc *api.Service) *api.Service {
	f.t.Helper()
	f.serviceNetwork()
	svc.TypeMeta = api.TypeMeta{Kind: "Service", APIVersion: "v1"}
	if svc.Namespace == "" {
		svc.Namespace = "default"
	}
	svc.UID = apiserver.NewUID()
	var out api.Service
	f.commit(consensus.CmdCreateService, consensus.CreateService{Service: *svc}, &out)
	return &out
}

// setSlices stores the EndpointSlice the leader's controller would keep
// for svc, with one ready endpoint per address.
func (f *testServer) setSlices(svc *api.Service, addrs ...string) {
	f.t.Helper()
	ready := true
	es := api.EndpointSlice{
		TypeMeta: api.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
		ObjectMeta: api.ObjectMeta{Name: svc.Name + "-abcde", Namespace: svc.Namespace, UID: apiserver.NewUID(),
			Labels: map[string]string{api.LabelServiceName: svc.Name, api.LabelManagedBy: api.EndpointSliceControllerID}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range svc.Spec.Ports {
		name, proto, port := p.Name, p.Protocol, p.TargetPort.IntVal
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port})
	}
	for _, a := range addrs {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	f.commit(consensus.CmdSetServiceEndpointSlices, consensus.SetServiceEndpointSlices{
		Namespace: svc.Namespace, Service: svc.Name, UID: svc.UID, Slices: []api.EndpointSlice{es}}, nil)
}

// addServiceFixtures adds, 20 minutes ago, the pods of addFixtures, a web
// Service (ClusterIP 10.96.0.10, port 80 → 8080) with its slice, and a db
// NodePort Service in batch.
func addServiceFixtures(f *testServer) {
	addFixtures(f)
	defer f.setAgo(20 * time.Minute)()
	web := f.addService(&api.Service{ObjectMeta: api.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: api.ServiceSpec{ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"},
			Ports: []api.ServicePort{{Protocol: api.ProtocolTCP, Port: 80, TargetPort: intstr.FromInt32(8080)}}}})
	f.setSlices(web, "10.1.0.5")
	f.addService(&api.Service{ObjectMeta: api.ObjectMeta{Name: "db", Namespace: "batch"},
		Spec: api.ServiceSpec{Type: api.ServiceTypeNodePort, ClusterIP: "10.96.0.20", Selector: map[string]string{"app": "db"},
			Ports: []api.ServicePort{{Protocol: api.ProtocolTCP, Port: 5432, TargetPort: intstr.FromInt32(5432), NodePort: 30432}}}})
}

// TestGetThroughTables: every kind discovery lists is printed from the
// server's Table, with kubectl's flags.
func TestGetThroughTables(t *testing.T) {
	f := newTestServer(t)
	addServiceFixtures(f)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "svc"}, "" +
			"NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\n" +
			"web    ClusterIP   10.96.0.10   <none>        80/TCP    20m\n"},
		{[]string{"get", "services", "-o", "wide"}, "" +
			"NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE   SELECTOR\n" +
			"web    ClusterIP   10.96.0.10   <none>        80/TCP    20m   app=web\n"},
		{[]string{"get", "service", "-A", "--no-headers"}, "" +
			"batch     db    NodePort    10.96.0.20   <none>   5432:30432/TCP   20m\n" +
			"default   web   ClusterIP   10.96.0.10   <none>   80/TCP           20m\n"},
		{[]string{"get", "svc", "-A", "-l", "app=web"}, "" +
			"NAMESPACE   NAME   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\n" +
			"default     web    ClusterIP   10.96.0.10   <none>        80/TCP    20m\n"},
		{[]string{"get", "svc/db", "-n", "batch", "--show-labels"}, "" +
			"NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE   LABELS\n" +
			"db     NodePort   10.96.0.20   <none>        5432:30432/TCP   20m   <none>\n"},
		{[]string{"get", "endpointslices"}, "" +
			"NAME        ADDRESSTYPE   PORTS   ENDPOINTS   AGE\n" +
			"web-abcde   IPv4          8080    10.1.0.5    20m\n"},
		{[]string{"get", "endpointslice.discovery.k8s.io", "-o", "name"}, "endpointslice.discovery.k8s.io/web-abcde\n"},
		{[]string{"get", "ns", "batch", "--no-headers"}, "batch   Active   20m\n"},
		// Several types: a table each, names with their kind.
		{[]string{"get", "pods,svc", "-l", "app=web"}, "" +
			"NAME      READY   STATUS    RESTARTS   AGE\n" +
			"pod/web   1/1     Running   0          20m\n" +
			"\n" +
			"NAME          TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE\n" +
			"service/web   ClusterIP   10.96.0.10   <none>        80/TCP    20m\n"},
		{[]string{"get", "all", "-n", "batch", "-o", "name"}, "pod/job\nservice/db\n"},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != tt.want {
			t.Errorf("%q:\n%s(stderr %q, err %v)\nwant:\n%s", tt.args, out, errOut, err, tt.want)
		}
	}
}

// TestGetAsksForTables: the requests are discovery's resources' paths, with
// kubectl's Table Accept header, the selectors passed on.
func TestGetAsksForTables(t *testing.T) {
	f := newTestServer(t)
	addServiceFixtures(f)
	var accepts []string
	f.afterEach(func(r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/apis/discovery") || r.URL.Path == "/apis" {
			return
		}
		accepts = append(accepts, r.Header.Get("Accept"))
	})
	f.takeRequests()
	if _, _, err := f.run("", "get", "endpointslices", "-A", "-l", "kubernetes.io/service-name=web"); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb"}
	if got := f.takeRequests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if len(accepts) != 1 || !strings.HasPrefix(accepts[0], "application/json;as=Table;v=v1;g=meta.k8s.io") {
		t.Errorf("Accept %q, want a Table", accepts)
	}
}

func TestGetObjectsAsJSON(t *testing.T) {
	f := newTestServer(t)
	addServiceFixtures(f)
	out, _, err := f.run("", "get", "svc", "web", "-o", "json")
	var svc api.Service
	if err != nil || json.Unmarshal([]byte(out), &svc) != nil || svc.Kind != "Service" || svc.Spec.ClusterIP != "10.96.0.10" {
		t.Errorf("get svc web -o json: %v, %q", err, out)
	}
	out, _, err = f.run("", "get", "svc,pods", "-A", "-o", "yaml")
	if err != nil || !strings.Contains(out, "kind: List\n") || strings.Count(out, "kind: Service\n") != 2 || strings.Count(out, "kind: Pod\n") != 3 {
		t.Errorf("get svc,pods -A -o yaml: %v, %q", err, out)
	}
	_, errOut, err := f.run("", "get", "svc", "nope")
	if err == nil || errOut != "Error from server (NotFound): services \"nope\" not found\n" {
		t.Errorf("get svc nope: %v, %q", err, errOut)
	}
	_, errOut, err = f.run("", "get", "svc", "-n", "empty")
	if err != nil || errOut != "No resources found in empty namespace.\n" {
		t.Errorf("get svc -n empty: %v, %q", err, errOut)
	}
}
