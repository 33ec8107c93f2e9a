package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// serviceNetwork records the cluster network with the default service
// CIDR, as the leader does at start, so Services get cluster IPs.
func (f *testServer) serviceNetwork() {
	f.t.Helper()
	if _, ok := f.store.State().ClusterNetwork(); !ok {
		f.commit(consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{Network: consensus.ClusterNetwork{
			ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: api.DefaultServiceCIDR}}, nil)
	}
}

// service reads a stored Service.
func (f *testServer) service(ns, name string) (*api.Service, bool) {
	f.t.Helper()
	svcs, _ := f.store.State().Services(func(s *api.Service) bool { return s.Namespace == ns && s.Name == name })
	if len(svcs) == 0 {
		return nil, false
	}
	return svcs[0], true
}

const webService = `apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
`

// TestApplyService: a Service manifest is created with a cluster IP, is
// unchanged when applied again (the allocated IP is the cluster's), and
// configured when a field changes, keeping its IP.
func TestApplyService(t *testing.T) {
	f := newTestServer(t)
	f.serviceNetwork()
	dir := t.TempDir()
	steps := []struct {
		manifest, want string
	}{
		{webService, "service/web created\n"},
		{webService, "service/web unchanged\n"},
		{strings.Replace(webService, "port: 80\n", "port: 8000\n", 1), "service/web configured\n"},
	}
	var ip string
	for i, s := range steps {
		out, errOut, err := f.run("", "apply", "-f", writeFile(t, dir, "svc.yaml", s.manifest))
		if err != nil || out != s.want {
			t.Fatalf("step %d: apply = %q, %q, %v; want %q", i, out, errOut, err, s.want)
		}
		svc, ok := f.service("default", "web")
		if !ok {
			t.Fatalf("step %d: no service stored", i)
		}
		if ip == "" {
			ip = svc.Spec.ClusterIP
		}
		if a, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil || !netip.MustParsePrefix(api.DefaultServiceCIDR).Contains(a) || svc.Spec.ClusterIP != ip {
			t.Errorf("step %d: cluster IP %q, want one kept from %s", i, svc.Spec.ClusterIP, api.DefaultServiceCIDR)
		}
	}
	if svc, _ := f.service("default", "web"); svc.Spec.Ports[0].Port != 8000 {
		t.Errorf("ports after the update %+v", svc.Spec.Ports)
	}
}

// TestExpose: expose deployment creates kubectl's Service: the
// Deployment's matchLabels as selector, its labels, the ports of the flags
// or of the pod template (named only when several).
func TestExpose(t *testing.T) {
	f := newTestServer(t)
	f.serviceNetwork()
	addWebDeployment(t, f, api.DeploymentStatus{})
	two := deploymentFromManifest(t, strings.NewReplacer("name: web", "name: two", "app: web", "app: two",
		"        - containerPort: 8080\n", "        - containerPort: 8080\n        - containerPort: 53\n          protocol: UDP\n").Replace(webDeployment))
	f.addDeployment(two)

	tests := []struct {
		args      []string
		svc       string
		wantType  corev1.ServiceType
		wantPorts []api.ServicePort
		selector  string
	}{
		{[]string{"expose", "deployment", "web", "--port", "80", "--target-port", "8080"}, "web", api.ServiceTypeClusterIP,
			[]api.ServicePort{{Port: 80, Protocol: api.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}}, "web"},
		{[]string{"expose", "deploy/web", "--name", "web-np", "--type", "NodePort", "--target-port", "http"}, "web-np", api.ServiceTypeNodePort,
			[]api.ServicePort{{Port: 8080, Protocol: api.ProtocolTCP, TargetPort: intstr.FromString("http")}}, "web"},
		{[]string{"expose", "deployment", "two"}, "two", api.ServiceTypeClusterIP,
			[]api.ServicePort{{Name: "port-1", Port: 8080, Protocol: api.ProtocolTCP, TargetPort: intstr.FromInt32(8080)},
				{Name: "port-2", Port: 53, Protocol: api.ProtocolUDP, TargetPort: intstr.FromInt32(53)}}, "two"},
		{[]string{"expose", "deployment", "web", "--port", "5353", "--protocol", "udp", "--name", "web-udp"}, "web-udp", api.ServiceTypeClusterIP,
			[]api.ServicePort{{Port: 5353, Protocol: api.ProtocolUDP, TargetPort: intstr.FromInt32(5353)}}, "web"},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != "service/"+tt.svc+" exposed\n" {
			t.Errorf("%q = %q, %q, %v", tt.args, out, errOut, err)
			continue
		}
		svc, ok := f.service("default", tt.svc)
		if !ok {
			t.Errorf("%q: no service %s", tt.args, tt.svc)
			continue
		}
		if svc.Spec.Type != tt.wantType || svc.Spec.Selector["app"] != tt.selector || len(svc.Spec.Selector) != 1 ||
			svc.Labels["app"] != tt.selector || len(svc.Spec.Ports) != len(tt.wantPorts) {
			t.Errorf("%q: service %+v", tt.args, svc)
			continue
		}
		for i, want := range tt.wantPorts {
			got := svc.Spec.Ports[i]
			if got.Name != want.Name || got.Port != want.Port || got.Protocol != want.Protocol || got.TargetPort != want.TargetPort ||
				(tt.wantType == api.ServiceTypeNodePort) != (got.NodePort != 0) {
				t.Errorf("%q: port %d = %+v, want %+v", tt.args, i, got, want)
			}
		}
	}

	// get svc shows it with the cluster IP it was given.
	web, _ := f.service("default", "web")
	out, _, err := f.run("", "get", "svc", "web", "--no-headers")
	if err != nil || !strings.HasPrefix(out, "web   ClusterIP   "+web.Spec.ClusterIP+"   <none>   80/TCP   ") || web.Spec.ClusterIP == "" {
		t.Errorf("get svc web = %q, %v (cluster IP %q)", out, err, web.Spec.ClusterIP)
	}

	for _, tt := range []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"expose", "pod", "web"}, 2, "only deployments can be exposed"},
		{[]string{"expose", "deployment", "nope", "--port", "80"}, 1, `deployments.apps "nope" not found`},
		{[]string{"expose", "deployment", "web", "--port", "http"}, 2, "--port"},
		{[]string{"expose", "deployment", "web", "--port", "80", "--type", "LoadBalancer"}, 2, "--type"},
		// The name is taken.
		{[]string{"expose", "deployment", "web", "--port", "80"}, 1, `services "web" already exists`},
	} {
		_, errOut, err := f.run("", tt.args...)
		if err == nil || exitCode(err) != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%q: err %v (code %d), stderr %q; want code %d and %q", tt.args, err, exitCode(err), errOut, tt.wantCode, tt.wantErr)
		}
	}
}

// TestDeleteAnyKind: delete of a kind it has no code for (Services), by
// name, by label, with --all and from a manifest, waiting until each is
// gone; and of a cluster-scoped one (a node).
func TestDeleteAnyKind(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		want   string // stdout
		writes []string
		left   []string // the Services left in default
	}{
		{"by name", []string{"delete", "svc", "web"}, "service \"web\" deleted\n",
			[]string{"DELETE /api/v1/namespaces/default/services/web"}, []string{"api", "db"}},
		{"type/name", []string{"delete", "service/web", "svc/db"}, "service \"web\" deleted\nservice \"db\" deleted\n",
			[]string{"DELETE /api/v1/namespaces/default/services/web", "DELETE /api/v1/namespaces/default/services/db"}, []string{"api"}},
		{"by label", []string{"delete", "services", "-l", "tier=back"}, "service \"api\" deleted\nservice \"db\" deleted\n",
			[]string{"DELETE /api/v1/namespaces/default/services/api", "DELETE /api/v1/namespaces/default/services/db"}, []string{"web"}},
		{"all", []string{"delete", "svc", "--all"}, "service \"api\" deleted\nservice \"db\" deleted\nservice \"web\" deleted\n",
			[]string{"DELETE /api/v1/namespaces/default/services/api", "DELETE /api/v1/namespaces/default/services/db",
				"DELETE /api/v1/namespaces/default/services/web"}, nil},
		{"orphan", []string{"delete", "svc", "web", "--cascade=orphan"}, "service \"web\" deleted\n",
			[]string{"DELETE /api/v1/namespaces/default/services/web"}, []string{"api", "db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestServer(t)
			f.serviceNetwork()
			for _, s := range []struct{ name, tier string }{{"web", "front"}, {"db", "back"}, {"api", "back"}} {
				f.addService(&api.Service{ObjectMeta: api.ObjectMeta{Name: s.name, Labels: map[string]string{"tier": s.tier}},
					Spec: api.ServiceSpec{Selector: map[string]string{"app": s.name}, Ports: []api.ServicePort{{Port: 80}}}})
			}
			f.takeRequests()
			out, errOut, err := f.run("", tt.args...)
			if err != nil || out != tt.want {
				t.Fatalf("%q = %q, %q, %v; want %q", tt.args, out, errOut, err, tt.want)
			}
			reqs := f.takeRequests()
			if w := writes(reqs); !slices.Equal(w, tt.writes) {
				t.Errorf("writes %q, want %q", w, tt.writes)
			}
			// It waited: a GET of each deleted Service after its DELETE.
			for _, w := range tt.writes {
				get := "GET " + strings.TrimPrefix(w, "DELETE ")
				if i := slices.Index(reqs, w); i < 0 || !slices.Contains(reqs[i:], get) {
					t.Errorf("requests %q: no %s after %s", reqs, get, w)
				}
			}
			bodies := f.bodiesOf("DELETE", "/api/v1/namespaces/default/services/web")
			if orphan := slices.Contains(tt.args, "--cascade=orphan"); orphan != (len(bodies) == 1 && strings.Contains(bodies[0], `"propagationPolicy":"Orphan"`)) {
				t.Errorf("DELETE bodies %q", bodies)
			}
			svcs, _ := f.store.State().Services(func(s *api.Service) bool { return s.Namespace == "default" })
			var left []string
			for _, s := range svcs {
				left = append(left, s.Name)
			}
			slices.Sort(left)
			if !slices.Equal(left, tt.left) {
				t.Errorf("services left %q, want %q", left, tt.left)
			}
		})
	}

	f := newTestServer(t)
	f.serviceNetwork()
	file := writeFile(t, t.TempDir(), "svc.yaml", webService)
	if _, errOut, err := f.run("", "apply", "-f", file); err != nil {
		t.Fatalf("apply: %v %s", err, errOut)
	}
	if out, errOut, err := f.run("", "delete", "-f", file); err != nil || out != "service \"web\" deleted\n" {
		t.Errorf("delete -f = %q, %q, %v", out, errOut, err)
	}
	if _, errOut, err := f.run("", "delete", "-f", file); err == nil ||
		errOut != "Error from server (NotFound): error when deleting \""+file+"\": services \"web\" not found\n" {
		t.Errorf("delete -f again: %q, %v", errOut, err)
	}
	f.addNode("node-9", false)
	if out, errOut, err := f.run("", "delete", "node", "node-9"); err != nil || out != "node \"node-9\" deleted\n" {
		t.Errorf("delete node = %q, %q, %v", out, errOut, err)
	}
	if _, ok := f.store.State().Node("node-9"); ok {
		t.Error("node-9 is still there")
	}
}

// TestDescribeService: kubectl's layout of a Service and of its
// EndpointSlice.
func TestDescribeService(t *testing.T) {
	f := newTestServer(t)
	addServiceFixtures(f)
	web, _ := f.service("default", "web")
	want := "" +
		"Name:                     web\n" +
		"Namespace:                default\n" +
		"Labels:                   app=web\n" +
		"Annotations:              <none>\n" +
		"Selector:                 app=web\n" +
		"Type:                     ClusterIP\n" +
		"IP Family Policy:         SingleStack\n" +
		"IP Families:              IPv4\n" +
		"IP:                       10.96.0.10\n" +
		"IPs:                      10.96.0.10\n" +
		"Port:                     <unset>  80/TCP\n" +
		"TargetPort:               8080/TCP\n" +
		"Endpoints:                10.1.0.5:8080\n" +
		"Session Affinity:         None\n" +
		"Internal Traffic Policy:  Cluster\n" +
		"Events:                   <none>\n"
	out, errOut, err := f.run("", "describe", "svc", "web")
	if err != nil || out != want {
		t.Errorf("describe svc web:\n%s(stderr %q, err %v)\nwant:\n%s", out, errOut, err, want)
	}
	if web.Spec.ClusterIP != "10.96.0.10" {
		t.Errorf("cluster IP %q", web.Spec.ClusterIP)
	}

	out, _, err = f.run("", "describe", "services", "-n", "batch")
	for _, line := range []string{"Name: db", "Type: NodePort", "Port: <unset> 5432/TCP", "NodePort: <unset> 30432/TCP",
		"Endpoints: <none>", "External Traffic Policy: Cluster"} {
		if err != nil || !hasLine(out, line) {
			t.Errorf("describe services -n batch: no line %q in\n%s(err %v)", line, out, err)
		}
	}

	want = "" +
		"Name:         web-abcde\n" +
		"Namespace:    default\n" +
		"Labels:       endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io\n" +
		"              kubernetes.io/service-name=web\n" +
		"Annotations:  <none>\n" +
		"AddressType:  IPv4\n" +
		"Ports:\n" +
		"  Name     Port  Protocol\n" +
		"  ----     ----  --------\n" +
		"  <unset>  8080  TCP\n" +
		"Endpoints:\n" +
		"  - Addresses:  10.1.0.5\n" +
		"    Conditions:\n" +
		"      Ready:   true\n" +
		"    Hostname:  <unset>\n" +
		"    NodeName:  <unset>\n" +
		"    Zone:      <unset>\n" +
		"Events:        <none>\n"
	out, errOut, err = f.run("", "describe", "endpointslices", "-l", "kubernetes.io/service-name=web")
	if err != nil || out != want {
		t.Errorf("describe endpointslices:\n%s(stderr %q, err %v)\nwant:\n%s", out, errOut, err, want)
	}
	_, errOut, err = f.run("", "describe", "svc", "nope")
	if err == nil || errOut != "Error from server (NotFound): services \"nope\" not found\n" {
		t.Errorf("describe svc nope: %q, %v", errOut, err)
	}
}
