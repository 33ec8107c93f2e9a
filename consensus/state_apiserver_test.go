package consensus

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/gossipod/gossipod/api"
)

// TestFirstServiceIPIsTheKubernetesService: the service CIDR's first
// address is default/kubernetes's, as kube-apiserver's: no other Service
// gets it, dynamically (even when the range is otherwise full) or on
// request, and default/kubernetes gets it without asking.
func TestFirstServiceIPIsTheKubernetesService(t *testing.T) {
	m := newServiceStore(t, "10.96.0.0/28") // 10.96.0.1 … 10.96.0.14
	for i := range 13 {
		svc, err := createService(t, m, testService(fmt.Sprintf("s%d", i), corev1.ServiceTypeClusterIP, 80))
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP == "10.96.0.1" {
			t.Fatalf("%s was given the kubernetes Service's address", svc.Name)
		}
	}
	_, err := createService(t, m, testService("full", corev1.ServiceTypeClusterIP, 80))
	if err == nil || !strings.Contains(err.Error(), "range is full") {
		t.Errorf("fourteenth Service: %v, want range is full", err)
	}
	if _, err := m.CommitPayload(context.Background(), CmdDeleteService, DeleteService{Namespace: "default", Name: "s0"}); err != nil {
		t.Fatal(err)
	}
	asks := testService("asks", corev1.ServiceTypeClusterIP, 80)
	asks.Spec.ClusterIP = "10.96.0.1"
	if _, err := createService(t, m, asks); err == nil || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("requesting the first address: %v, want already allocated", err)
	}
	kube := testService("kubernetes", corev1.ServiceTypeClusterIP, 443)
	kube.Spec.Selector = nil
	svc, err := createService(t, m, kube)
	if err != nil || svc.Spec.ClusterIP != "10.96.0.1" {
		t.Errorf("default/kubernetes: %v, cluster IP %v, want 10.96.0.1", err, svc)
	}
}

// TestSetAPIServerEndpoints: the state machine builds the slice
// default/kubernetes from the addresses and port, checks them, applies
// the command only to the Service it was computed for, and writes nothing
// when nothing changed.
func TestSetAPIServerEndpoints(t *testing.T) {
	m := newServiceStore(t, "10.96.0.0/12")
	kube := testService("kubernetes", corev1.ServiceTypeClusterIP, 443)
	kube.Spec.Selector = nil
	svc, err := createService(t, m, kube)
	if err != nil {
		t.Fatal(err)
	}
	set := func(p SetAPIServerEndpoints) error {
		_, err := m.CommitPayload(context.Background(), CmdSetAPIServerEndpoints, p)
		return err
	}
	tests := []struct {
		name string
		cmd  SetAPIServerEndpoints
		want string // error substring, "" for success
	}{
		{"stale service uid", SetAPIServerEndpoints{ServiceUID: "other", SliceUID: "s", Addresses: []string{"10.0.0.1"}, Port: 7948}, "not found"},
		{"no slice uid", SetAPIServerEndpoints{ServiceUID: svc.UID, Addresses: []string{"10.0.0.1"}, Port: 7948}, "uid is required"},
		{"not an address", SetAPIServerEndpoints{ServiceUID: svc.UID, SliceUID: "s", Addresses: []string{"agent-1"}, Port: 7948}, "valid IPv4"},
		{"bad port", SetAPIServerEndpoints{ServiceUID: svc.UID, SliceUID: "s", Addresses: []string{"10.0.0.1"}, Port: 0}, "port"},
		{"ok", SetAPIServerEndpoints{ServiceUID: svc.UID, SliceUID: "s", Addresses: []string{"10.0.0.2", "10.0.0.1", "10.0.0.2"}, Port: 7948}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := set(tt.cmd)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	es, ok := m.State().EndpointSlice("default", "kubernetes")
	if !ok {
		t.Fatal("no slice")
	}
	if es.UID != "s" || len(es.Endpoints) != 2 || es.Endpoints[0].Addresses[0] != "10.0.0.1" || es.Endpoints[1].Addresses[0] != "10.0.0.2" ||
		*es.Ports[0].Port != 7948 || *es.Ports[0].Name != "https" || es.Labels[api.LabelServiceName] != "kubernetes" || es.Labels[api.LabelManagedBy] != "" {
		t.Errorf("slice %+v", es)
	}
	rv := es.ResourceVersion
	if err := set(SetAPIServerEndpoints{ServiceUID: svc.UID, SliceUID: "t", Addresses: []string{"10.0.0.1", "10.0.0.2"}, Port: 7948}); err != nil {
		t.Fatal(err)
	}
	if es, _ := m.State().EndpointSlice("default", "kubernetes"); es.ResourceVersion != rv || es.UID != "s" {
		t.Errorf("unchanged slice rewritten: rv %s → %s, uid %s", rv, es.ResourceVersion, es.UID)
	}

	// With a selector the endpoints are the EndpointSlice controller's.
	withSel := svc.DeepCopy()
	withSel.Spec.Selector = map[string]string{"app": "api"}
	withSel.ResourceVersion = ""
	if _, err := m.CommitPayload(context.Background(), CmdUpdateService, UpdateService{Service: *withSel}); err != nil {
		t.Fatal(err)
	}
	if err := set(SetAPIServerEndpoints{ServiceUID: svc.UID, SliceUID: "s", Addresses: []string{"10.0.0.3"}, Port: 7948}); err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("service with a selector: %v", err)
	}
}

// TestEndpointsMirrorSlices: the v1 Endpoints follow the slices in the
// same entry, as kube-controller-manager's endpoints controller computes
// them: ready and not-ready addresses, terminating ones left out, the
// kubernetes Service's marked skip-mirror; they survive a snapshot and go
// with their Service.
func TestEndpointsMirrorSlices(t *testing.T) {
	m := newServiceStore(t, "10.96.0.0/12")
	web, err := createService(t, m, testService("web", corev1.ServiceTypeClusterIP, 80))
	if err != nil {
		t.Fatal(err)
	}
	ep := func(ip string, ready, terminating bool) api.Endpoint {
		return api.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready, Terminating: &terminating}}
	}
	name, proto, port := "p0", corev1.ProtocolTCP, int32(80)
	slice := api.EndpointSlice{
		ObjectMeta: api.ObjectMeta{Name: "web-abc", Namespace: "default", UID: "s1",
			Labels: map[string]string{api.LabelServiceName: "web", api.LabelManagedBy: api.EndpointSliceControllerID}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []api.Endpoint{ep("10.88.0.3", true, false), ep("10.88.0.1", false, false), ep("10.88.0.2", false, true), ep("10.88.0.4", true, false)},
		Ports:       []api.EndpointPort{{Name: &name, Protocol: &proto, Port: &port}},
	}
	if _, err := m.CommitPayload(context.Background(), CmdSetServiceEndpointSlices, SetServiceEndpointSlices{
		Namespace: "default", Service: "web", UID: web.UID, Slices: []api.EndpointSlice{slice}}); err != nil {
		t.Fatal(err)
	}
	got, ok := m.State().EndpointsOf("default", "web")
	if !ok || len(got.Subsets) != 1 {
		t.Fatalf("endpoints %+v", got)
	}
	ips := func(as []corev1.EndpointAddress) (out []string) {
		for _, a := range as {
			out = append(out, a.IP)
		}
		return out
	}
	ss := got.Subsets[0]
	if a, n := ips(ss.Addresses), ips(ss.NotReadyAddresses); fmt.Sprint(a) != "[10.88.0.3 10.88.0.4]" || fmt.Sprint(n) != "[10.88.0.1]" ||
		len(ss.Ports) != 1 || ss.Ports[0].Port != 80 || ss.Ports[0].Name != "p0" {
		t.Errorf("subset %+v", ss)
	}

	kube := testService("kubernetes", corev1.ServiceTypeClusterIP, 443)
	kube.Spec.Selector = nil
	ks, err := createService(t, m, kube)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommitPayload(context.Background(), CmdSetAPIServerEndpoints, SetAPIServerEndpoints{
		ServiceUID: ks.UID, SliceUID: "k", Addresses: []string{"192.168.1.10"}, Port: 7948}); err != nil {
		t.Fatal(err)
	}
	kep, ok := m.State().EndpointsOf("default", "kubernetes")
	if !ok || kep.Labels[api.LabelSkipMirror] != "true" || len(kep.Subsets) != 1 || kep.Subsets[0].Addresses[0].IP != "192.168.1.10" ||
		kep.Subsets[0].Ports[0].Name != "https" || kep.Subsets[0].Ports[0].Port != 7948 {
		t.Errorf("kubernetes endpoints %+v", kep)
	}

	restored := NewState()
	restored.restore(m.State().export())
	if all, _ := restored.Endpoints(nil); len(all) != 2 || all[1].UID != got.UID {
		t.Errorf("after a snapshot: %+v", all)
	}

	if _, err := m.CommitPayload(context.Background(), CmdDeleteService, DeleteService{Namespace: "default", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State().EndpointsOf("default", "web"); ok {
		t.Error("Endpoints outlived their Service")
	}
}
