package serviceenv

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.ClusterIP = ip
	s.Spec.Ports = ports
	return s
}

func lines(vars []corev1.EnvVar) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = v.Name + "=" + v.Value
	}
	return out
}

func TestFromServices(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want []string
	}{
		{"unnamed first port, named UDP port", service("ns", "foo-bar", "1.2.3.4",
			corev1.ServicePort{Port: 8080, Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "udp-port", Port: 8081, Protocol: corev1.ProtocolUDP}), []string{
			"FOO_BAR_SERVICE_HOST=1.2.3.4",
			"FOO_BAR_SERVICE_PORT=8080",
			"FOO_BAR_SERVICE_PORT_UDP_PORT=8081",
			"FOO_BAR_PORT=tcp://1.2.3.4:8080",
			"FOO_BAR_PORT_8080_TCP=tcp://1.2.3.4:8080",
			"FOO_BAR_PORT_8080_TCP_PROTO=tcp",
			"FOO_BAR_PORT_8080_TCP_PORT=8080",
			"FOO_BAR_PORT_8080_TCP_ADDR=1.2.3.4",
			"FOO_BAR_PORT_8081_UDP=udp://1.2.3.4:8081",
			"FOO_BAR_PORT_8081_UDP_PROTO=udp",
			"FOO_BAR_PORT_8081_UDP_PORT=8081",
			"FOO_BAR_PORT_8081_UDP_ADDR=1.2.3.4",
		}},
		{"protocol defaults to TCP; IPv6 in brackets", service("ns", "v6", "fd00::1",
			corev1.ServicePort{Name: "http", Port: 80}), []string{
			"V6_SERVICE_HOST=fd00::1",
			"V6_SERVICE_PORT=80",
			"V6_SERVICE_PORT_HTTP=80",
			"V6_PORT=tcp://[fd00::1]:80",
			"V6_PORT_80_TCP=tcp://[fd00::1]:80",
			"V6_PORT_80_TCP_PROTO=tcp",
			"V6_PORT_80_TCP_PORT=80",
			"V6_PORT_80_TCP_ADDR=fd00::1",
		}},
		{"headless: none", service("ns", "db", "None", corev1.ServicePort{Port: 3306}), []string{}},
		{"no cluster IP (ExternalName): none", service("ns", "ext", ""), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lines(FromServices([]*corev1.Service{tt.svc})); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestForPod(t *testing.T) {
	p443 := corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}
	p80 := corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}
	api := service("default", "kubernetes", "10.96.0.1", p443)
	services := []*corev1.Service{
		service("ns1", "web", "10.96.0.10", p80),
		api,
		service("ns1", "db", "None", p80),
		service("ns2", "other", "10.96.0.20", p80),
		service("default", "dflt", "10.96.0.30", p80),
	}
	hosts := func(vars []corev1.EnvVar) []string {
		var out []string
		for _, v := range vars {
			if strings.HasSuffix(v.Name, "_SERVICE_HOST") {
				out = append(out, v.Name+"="+v.Value)
			}
		}
		return out
	}
	pod := func(ns string, links *bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p"}}
		p.Spec.EnableServiceLinks = links
		return p
	}
	no, yes := false, true
	tests := []struct {
		name     string
		pod      *corev1.Pod
		services []*corev1.Service
		want     []string
	}{
		{"links by default: own namespace and the API", pod("ns1", nil), services,
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.1", "WEB_SERVICE_HOST=10.96.0.10"}},
		{"links on", pod("ns1", &yes), services,
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.1", "WEB_SERVICE_HOST=10.96.0.10"}},
		{"links off: the API only", pod("ns1", &no), services,
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.1"}},
		{"default namespace", pod("default", nil), services,
			[]string{"DFLT_SERVICE_HOST=10.96.0.30", "KUBERNETES_SERVICE_HOST=10.96.0.1"}},
		{"own kubernetes service wins over the API's", pod("ns1", nil),
			append([]*corev1.Service{api}, service("ns1", "kubernetes", "10.96.0.99", p443)),
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.99"}},
		{"...in either order", pod("ns1", nil),
			[]*corev1.Service{service("ns1", "kubernetes", "10.96.0.99", p443), api},
			[]string{"KUBERNETES_SERVICE_HOST=10.96.0.99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hosts(ForPod(tt.pod, tt.services)); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// final reads an env list as the runtime does: in order, later entries
// overriding earlier ones, $(NAME) expanded against the entries before.
func final(env []corev1.EnvVar) map[string]string {
	defined := map[string]string{}
	for _, e := range env {
		v := e.Value
		for name, val := range defined {
			v = strings.ReplaceAll(v, "$("+name+")", val)
		}
		defined[e.Name] = v
	}
	return defined
}

func TestWithServiceEnvPrecedence(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1"}}
	svcEnv := ForPod(pod, []*corev1.Service{service("ns1", "web", "10.96.0.10", corev1.ServicePort{Port: 80})})
	env := WithServiceEnv([]corev1.EnvVar{
		{Name: "URL", Value: "http://$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)/"},
		{Name: "WEB_SERVICE_PORT", Value: "8080"}, // explicit env wins
		{Name: "AFTER", Value: "$(WEB_SERVICE_PORT)"},
	}, svcEnv)
	got := final(env)
	for name, want := range map[string]string{
		"URL":              "http://10.96.0.10:80/", // defined before the override: the service's value
		"WEB_SERVICE_PORT": "8080",
		"AFTER":            "8080",
		"WEB_PORT":         "tcp://10.96.0.10:80",
	} {
		if got[name] != want {
			t.Errorf("%s=%q, want %q", name, got[name], want)
		}
	}
}
