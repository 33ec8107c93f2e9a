package consensus

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// newServiceStore is a MemStore with the default namespace and, unless
// cidr is "", the cluster network with that service CIDR recorded.
func newServiceStore(t *testing.T, cidr string) *MemStore {
	t.Helper()
	m := NewMemStore()
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{
		ObjectMeta: api.ObjectMeta{Name: "default", UID: "ns-default"}}}); err != nil {
		t.Fatal(err)
	}
	if cidr != "" {
		if _, err := m.CommitPayload(ctx, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{
			ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: cidr}}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func testService(name string, typ corev1.ServiceType, ports ...int32) api.Service {
	svc := api.Service{ObjectMeta: api.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: api.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}}}
	for i, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, api.ServicePort{Name: fmt.Sprintf("p%d", i), Port: p, TargetPort: intstr.FromInt32(p)})
	}
	return svc
}

func createService(t *testing.T, m *MemStore, svc api.Service) (*api.Service, error) {
	t.Helper()
	res, err := m.CommitPayload(context.Background(), CmdCreateService, CreateService{Service: svc})
	if err != nil {
		return nil, err
	}
	var out api.Service
	if err := json.Unmarshal(res.Response, &out); err != nil {
		t.Fatal(err)
	}
	return &out, nil
}

// TestServiceAllocation: cluster IPs and node ports are allocated in range
// and never twice, requested ones honoured when free and refused in
// kube-apiserver's words otherwise, and released by a delete.
func TestServiceAllocation(t *testing.T) {
	const cidr = "10.96.0.0/24" // 254 addresses, static band 16
	m := newServiceStore(t, cidr)
	prefix := netip.MustParsePrefix(cidr)
	seenIPs := map[string]string{}
	seenPorts := map[int32]string{}
	for i := range 60 {
		typ := api.ServiceTypeClusterIP
		if i%2 == 0 {
			typ = api.ServiceTypeNodePort
		}
		svc, err := createService(t, m, testService(fmt.Sprintf("s%d", i), typ, 80, 443))
		if err != nil {
			t.Fatalf("create s%d: %v", i, err)
		}
		ip := netip.MustParseAddr(svc.Spec.ClusterIP)
		if !prefix.Contains(ip) || ip == prefix.Addr() || ip.As4()[3] == 255 {
			t.Fatalf("s%d: cluster IP %s outside %s's usable addresses", i, ip, cidr)
		}
		if ip.As4()[3] <= 16 {
			t.Errorf("s%d: cluster IP %s in the static band while the dynamic one has room", i, ip)
		}
		if other, dup := seenIPs[svc.Spec.ClusterIP]; dup {
			t.Fatalf("s%d: cluster IP %s already given to %s", i, ip, other)
		}
		seenIPs[svc.Spec.ClusterIP] = svc.Name
		if len(svc.Spec.ClusterIPs) != 1 || svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
			t.Errorf("s%d: clusterIPs %v, want [%s]", i, svc.Spec.ClusterIPs, svc.Spec.ClusterIP)
		}
		for _, p := range svc.Spec.Ports {
			switch {
			case typ == api.ServiceTypeClusterIP && p.NodePort != 0:
				t.Errorf("s%d: ClusterIP service got node port %d", i, p.NodePort)
			case typ == api.ServiceTypeNodePort && (p.NodePort < api.NodePortMin || p.NodePort > api.NodePortMax):
				t.Errorf("s%d: node port %d out of range", i, p.NodePort)
			case typ == api.ServiceTypeNodePort:
				if other, dup := seenPorts[p.NodePort]; dup {
					t.Fatalf("s%d: node port %d already given to %s", i, p.NodePort, other)
				}
				seenPorts[p.NodePort] = svc.Name
			}
		}
	}

	taken := testService("taken", api.ServiceTypeNodePort, 80)
	taken.Spec.ClusterIP = m.State().services["default/s0"].Spec.ClusterIP
	taken.Spec.Ports[0].NodePort = m.State().services["default/s0"].Spec.Ports[0].NodePort
	outside := testService("outside", api.ServiceTypeClusterIP, 80)
	outside.Spec.ClusterIP = "10.97.0.1"
	requested := testService("requested", api.ServiceTypeNodePort, 53)
	requested.Spec.ClusterIP = "10.96.0.10"
	requested.Spec.Ports[0].NodePort = 30053
	for _, tc := range []struct {
		svc      api.Service
		wantCode int
		wantMsg  []string
	}{
		{taken, http.StatusUnprocessableEntity, []string{"provided IP is already allocated", "spec.ports[0].nodePort: Invalid value: " + fmt.Sprint(taken.Spec.Ports[0].NodePort) + ": provided port is already allocated"}},
		{outside, http.StatusUnprocessableEntity, []string{"the provided IP (10.97.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/24"}},
		{requested, 0, nil},
	} {
		got, err := createService(t, m, tc.svc)
		if statusCode(err) != tc.wantCode {
			t.Fatalf("create %s: %v, want code %d", tc.svc.Name, err, tc.wantCode)
		}
		for _, msg := range tc.wantMsg {
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("create %s: %v, want it to say %q", tc.svc.Name, err, msg)
			}
		}
		if tc.wantCode == 0 && (got.Spec.ClusterIP != "10.96.0.10" || got.Spec.Ports[0].NodePort != 30053) {
			t.Errorf("requested 10.96.0.10 and 30053, got %s and %d", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort)
		}
	}

	// A delete releases both: the same values can be requested again.
	s0 := m.State().services["default/s0"]
	again := testService("again", api.ServiceTypeNodePort, 80)
	again.Spec.ClusterIP, again.Spec.Ports[0].NodePort = s0.Spec.ClusterIP, s0.Spec.Ports[0].NodePort
	if _, err := m.CommitPayload(context.Background(), CmdDeleteService, DeleteService{Namespace: "default", Name: "s0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := createService(t, m, again); err != nil {
		t.Fatalf("request the released IP and port: %v", err)
	}
}

// TestServiceUpdateKeepsAllocations: an update that leaves the cluster IP
// and node ports unset (a second `kubectl apply` of the same manifest)
// keeps them; a changed cluster IP is refused; NodePort to ClusterIP
// releases the node ports.
func TestServiceUpdateKeepsAllocations(t *testing.T) {
	m := newServiceStore(t, "10.96.0.0/16")
	svc, err := createService(t, m, testService("web", api.ServiceTypeNodePort, 80))
	if err != nil {
		t.Fatal(err)
	}
	update := func(s api.Service) (*api.Service, error) {
		res, err := m.CommitPayload(context.Background(), CmdUpdateService, UpdateService{Service: s})
		if err != nil {
			return nil, err
		}
		var out api.Service
		return &out, json.Unmarshal(res.Response, &out)
	}

	reapply := testService("web", api.ServiceTypeNodePort, 80)
	reapply.UID = ""
	got, err := update(reapply)
	if err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	if got.Spec.ClusterIP != svc.Spec.ClusterIP || got.Spec.Ports[0].NodePort != svc.Spec.Ports[0].NodePort || got.ResourceVersion != svc.ResourceVersion {
		t.Errorf("re-apply: %s:%d rv %s, want %s:%d unchanged at rv %s", got.Spec.ClusterIP, got.Spec.Ports[0].NodePort, got.ResourceVersion,
			svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort, svc.ResourceVersion)
	}

	moved := reapply
	moved.Spec.ClusterIP = "10.96.3.3"
	if _, err := update(moved); statusCode(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "may not change once set") {
		t.Errorf("change the cluster IP: %v, want 422 may not change once set", err)
	}

	toClusterIP := testService("web", api.ServiceTypeClusterIP, 80, 8080)
	if got, err = update(toClusterIP); err != nil {
		t.Fatalf("to ClusterIP with a second port: %v", err)
	}
	for _, p := range got.Spec.Ports {
		if p.NodePort != 0 {
			t.Errorf("ClusterIP service kept node port %d", p.NodePort)
		}
	}
	other := testService("other", api.ServiceTypeNodePort, 80)
	other.Spec.Ports[0].NodePort = svc.Spec.Ports[0].NodePort
	if _, err := createService(t, m, other); err != nil {
		t.Errorf("request the node port web released: %v", err)
	}
}

// TestServiceNeedsServiceCIDR: before the leader records the service CIDR
// (a cluster made by a gossipod without Services) a Service with a cluster
// IP is refused with a 503 to retry, and the CIDR can then be recorded
// beside the cluster network already there; headless ones need no CIDR.
func TestServiceNeedsServiceCIDR(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24}}); err != nil {
		t.Fatal(err)
	}
	if _, err := createService(t, m, testService("web", api.ServiceTypeClusterIP, 80)); statusCode(err) != http.StatusServiceUnavailable {
		t.Fatalf("create without a service CIDR: %v, want 503", err)
	}
	headless := testService("db", api.ServiceTypeClusterIP, 5432)
	headless.Spec.ClusterIP = api.ClusterIPNone
	if _, err := createService(t, m, headless); err != nil {
		t.Fatalf("headless without a service CIDR: %v", err)
	}
	if _, err := m.CommitPayload(ctx, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{
		ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.88.128.0/20"}}); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("a service CIDR inside the cluster CIDR: %v, want 400", err)
	}
	if _, err := m.CommitPayload(ctx, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{
		ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/12"}}); err != nil {
		t.Fatalf("record the service CIDR of an upgraded cluster: %v", err)
	}
	if _, err := m.CommitPayload(ctx, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{
		ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.112.0.0/12"}}); statusCode(err) != http.StatusConflict {
		t.Fatalf("change a recorded service CIDR: %v, want 409", err)
	}
	if _, err := createService(t, m, testService("web", api.ServiceTypeClusterIP, 80)); err != nil {
		t.Fatalf("create once the CIDR is recorded: %v", err)
	}
}

// TestServicesSurviveSnapshotAndGoWithTheirNamespace: a snapshot keeps
// Services and their allocations; deleting a namespace deletes its
// Services.
func TestServicesSurviveSnapshotAndGoWithTheirNamespace(t *testing.T) {
	m := newServiceStore(t, "10.96.0.0/16")
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}}); err != nil {
		t.Fatal(err)
	}
	web := testService("web", api.ServiceTypeNodePort, 80)
	web.Namespace = "shop"
	created, err := createService(t, m, web)
	if err != nil {
		t.Fatal(err)
	}
	restored := NewState()
	restored.restore(m.State().export())
	got, ok := restored.Service("shop", "web")
	if !ok || got.Spec.ClusterIP != created.Spec.ClusterIP || got.Spec.Ports[0].NodePort != created.Spec.Ports[0].NodePort {
		t.Fatalf("after restore: %v %v, want %s:%d", got, ok, created.Spec.ClusterIP, created.Spec.Ports[0].NodePort)
	}
	if _, err := m.CommitPayload(ctx, CmdDeleteNamespace, DeleteNamespace{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State().Service("shop", "web"); ok {
		t.Error("the Service outlived its namespace")
	}
}
