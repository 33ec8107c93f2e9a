package runtime

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// serviceState is a Config.Services double: the Services of the state,
// changeable while the runtime runs.
type serviceState struct {
	mu       sync.Mutex
	services []*api.Service
}

func (s *serviceState) list(namespace string) []*api.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*api.Service
	for _, svc := range s.services {
		if svc.Namespace == namespace {
			out = append(out, svc)
		}
	}
	return out
}

func (s *serviceState) add(svc *api.Service) {
	s.mu.Lock()
	s.services = append(s.services, svc)
	s.mu.Unlock()
}

func testService(namespace, name, ip string, ports ...api.ServicePort) *api.Service {
	return &api.Service{
		ObjectMeta: api.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       api.ServiceSpec{ClusterIP: ip, Ports: ports},
	}
}

// newHarnessWithServices is newHarness with the runtime reading its
// Services from state.
func newHarnessWithServices(t *testing.T, state *serviceState) *harness {
	t.Helper()
	h := newHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.Services = state.list
		}
		return r, err
	}
	h.start()
	return h
}

// envOf is the environment the container was started with, as a map.
func envOf(h *harness, uid, container string, attempt int) map[string]string {
	h.t.Helper()
	m := map[string]string{}
	for _, kv := range h.container(uid, container, attempt).spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := m[k]; dup {
			h.t.Errorf("variable %s set twice in %v", k, h.container(uid, container, attempt).spec.Env)
		}
		m[k] = v
	}
	return m
}

func TestContainersGetServiceEnvironment(t *testing.T) {
	state := &serviceState{}
	state.add(testService("default", "kubernetes", "10.96.0.1", api.ServicePort{Name: "https", Port: 443, Protocol: api.ProtocolTCP}))
	state.add(testService("shop", "web-service", "10.96.0.10",
		api.ServicePort{Name: "http", Port: 80, Protocol: api.ProtocolTCP},
		api.ServicePort{Name: "dns", Port: 53, Protocol: api.ProtocolUDP}))
	state.add(testService("shop", "db", api.ClusterIPNone, api.ServicePort{Port: 5432}))
	state.add(testService("other", "elsewhere", "10.96.0.20", api.ServicePort{Port: 8080}))
	h := newHarnessWithServices(t, state)

	noLinks := false
	pod := func(name string, links *bool, env ...api.EnvVar) *api.Pod {
		p := testPod(name, "app")
		p.Namespace = "shop"
		p.Spec.EnableServiceLinks = links
		p.Spec.Containers[0].Env = env
		p.Spec.Containers[0].Command = []string{"echo", "$(WEB_SERVICE_SERVICE_HOST)"}
		return p
	}
	linked := pod("linked", nil)
	unlinked := pod("unlinked", &noLinks)
	own := pod("own", nil,
		api.EnvVar{Name: "WEB_SERVICE_SERVICE_HOST", Value: "web.example"},
		api.EnvVar{Name: "URL", Value: "http://$(WEB_SERVICE_SERVICE_HOST):$(WEB_SERVICE_SERVICE_PORT)"})
	h.r.SyncPods([]*api.Pod{linked, unlinked, own})

	kubernetes := map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.96.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT":               "tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP":       "tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":  "443",
		"KUBERNETES_PORT_443_TCP_ADDR":  "10.96.0.1",
	}
	web := map[string]string{
		"WEB_SERVICE_SERVICE_HOST":      "10.96.0.10",
		"WEB_SERVICE_SERVICE_PORT":      "80",
		"WEB_SERVICE_SERVICE_PORT_HTTP": "80",
		"WEB_SERVICE_SERVICE_PORT_DNS":  "53",
		"WEB_SERVICE_PORT":              "tcp://10.96.0.10:80",
		"WEB_SERVICE_PORT_80_TCP":       "tcp://10.96.0.10:80",
		"WEB_SERVICE_PORT_80_TCP_PROTO": "tcp",
		"WEB_SERVICE_PORT_80_TCP_PORT":  "80",
		"WEB_SERVICE_PORT_80_TCP_ADDR":  "10.96.0.10",
		"WEB_SERVICE_PORT_53_UDP":       "udp://10.96.0.10:53",
		"WEB_SERVICE_PORT_53_UDP_PROTO": "udp",
		"WEB_SERVICE_PORT_53_UDP_PORT":  "53",
		"WEB_SERVICE_PORT_53_UDP_ADDR":  "10.96.0.10",
	}
	serviceVars := func(env map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			if strings.Contains(k, "_SERVICE_") || strings.Contains(k, "_PORT") {
				out[k] = v
			}
		}
		return out
	}
	union := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}

	tests := []struct {
		name string
		pod  *api.Pod
		want map[string]string
		argv []string
	}{
		// The namespace's Services with a cluster IP (not the headless
		// one, not another namespace's), and the API server's.
		{"enableServiceLinks unset", linked, union(kubernetes, web), []string{"echo", "10.96.0.10"}},
		// Only the API server's: in-cluster clients need them.
		{"enableServiceLinks false", unlinked, kubernetes, []string{"echo", "$(WEB_SERVICE_SERVICE_HOST)"}},
		// The container's own variable wins, and what refers to it
		// sees its value; the others still come from the Service.
		{"container's own variable", own, union(kubernetes, web, map[string]string{
			"WEB_SERVICE_SERVICE_HOST": "web.example",
			"URL":                      "http://web.example:80",
		}), []string{"echo", "web.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := string(tt.pod.UID)
			h.waitPhase(uid, api.PodRunning)
			env := envOf(h, uid, "app", 0)
			got := serviceVars(env)
			if url, ok := env["URL"]; ok {
				got["URL"] = url
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := tt.want[k]; !ok {
					t.Errorf("unexpected %s=%q", k, v)
				}
			}
			if env["PATH"] == "" {
				t.Errorf("PATH lost: %v", env)
			}
			if argv := h.container(uid, "app", 0).spec.Args; !slices.Equal(argv, tt.argv) {
				t.Errorf("argv %q, want %q", argv, tt.argv)
			}
		})
	}
}

// A Service created after a container started reaches the container's
// next start, not the running one: kubelet reads them at each start.
func TestServiceEnvironmentReadAtStart(t *testing.T) {
	state := &serviceState{}
	h := newHarnessWithServices(t, state)
	p := testPod("late", "app")
	h.r.SyncPods([]*api.Pod{p})
	uid := string(p.UID)
	h.waitPhase(uid, api.PodRunning)
	if env := envOf(h, uid, "app", 0); env["DB_SERVICE_HOST"] != "" || env["KUBERNETES_SERVICE_HOST"] != "" {
		t.Fatalf("service variables without Services: %v", env)
	}
	state.add(testService("default", "db", "10.96.0.30", api.ServicePort{Port: 5432}))
	h.container(uid, "app", 0).exit(exitStatus{Code: 1})
	if env := envOf(h, uid, "app", 1); env["DB_SERVICE_HOST"] != "10.96.0.30" || env["DB_SERVICE_PORT"] != "5432" {
		t.Errorf("restarted container's env %v, want DB_SERVICE_HOST and DB_SERVICE_PORT", env)
	}
}
