package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// A real container sees, through `env`, the values its env and envFrom
// read from a ConfigMap, a Secret and the downward API — values with $
// unchanged — and starts only once the ConfigMap it needs exists.
func TestRealContainerEnv(t *testing.T) {
	state := newObjectState()
	state.putSecret("default", "creds", map[string]string{"password": "s3cr$(t)$$x"})
	h := newRealHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.ConfigMap, r.cfg.Secret = state.configMap, state.secret
			r.cfg.HostIP = "192.0.2.10"
		}
		return r, err
	}
	h.start()
	h.r.backoff = realBackoff

	c := sh("app", "env; echo END; exec sleep 3600")
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}
	c.Env = []api.EnvVar{
		{Name: "MODE", ValueFrom: cmKey("settings", "mode", false)},
		{Name: "PASS", ValueFrom: secretKey("creds", "password", false)},
		{Name: "POD_NAME", ValueFrom: fieldRef("metadata.name")},
		{Name: "HOST_IP", ValueFrom: fieldRef("status.hostIP")},
		{Name: "MEM_MI", ValueFrom: resourceRef("limits.memory", "1Mi")},
		{Name: "GREETING", Value: "mode=$(MODE)"},
	}
	c.Resources.Limits = api.ResourceList{api.ResourceMemory: resource.MustParse("64Mi")}
	p := busyboxPod("env-reader", c)
	h.r.SyncPods([]*api.Pod{p})
	h.waitFor(string(p.UID), "CreateContainerConfigError", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCreateContainerConfigError && w.Message == `configmap "settings" not found`
	})

	state.putConfigMap("default", "settings", map[string]string{"mode": "fast", "level": "3"})
	h.waitPhase(string(p.UID), api.PodRunning)
	var out string
	waitUntilFor(t, 20*time.Second, "env printed", func() bool {
		out = h.logs("env-reader", "app", LogOptions{TailLines: -1})
		return strings.Contains(out, "END\n")
	})
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"MODE": "fast", "PASS": "s3cr$(t)$$x", "POD_NAME": "env-reader", "HOST_IP": "192.0.2.10",
		"MEM_MI": "64", "GREETING": "mode=fast", "CFG_mode": "fast", "CFG_level": "3",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
