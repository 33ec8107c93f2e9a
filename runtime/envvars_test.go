package runtime

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/image"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// objectState is a Config.ConfigMap / Config.Secret double: the objects of
// the state, changeable while the runtime runs.
type objectState struct {
	mu         sync.Mutex
	configMaps map[string]*api.ConfigMap
	secrets    map[string]*api.Secret
}

func newObjectState() *objectState {
	return &objectState{configMaps: map[string]*api.ConfigMap{}, secrets: map[string]*api.Secret{}}
}

func (s *objectState) configMap(ns, name string) (*api.ConfigMap, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cm, ok := s.configMaps[ns+"/"+name]
	return cm, ok
}

func (s *objectState) secret(ns, name string) (*api.Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[ns+"/"+name]
	return sec, ok
}

// setConfigMap stores cm as it is, under its namespace and name.
func (s *objectState) setConfigMap(cm *api.ConfigMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configMaps[cm.Namespace+"/"+cm.Name] = cm
}

func (s *objectState) putConfigMap(ns, name string, data map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configMaps[ns+"/"+name] = &api.ConfigMap{ObjectMeta: api.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func (s *objectState) putSecret(ns, name string, data map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bytes := map[string][]byte{}
	for k, v := range data {
		bytes[k] = []byte(v)
	}
	s.secrets[ns+"/"+name] = &api.Secret{ObjectMeta: api.ObjectMeta{Namespace: ns, Name: name}, Data: bytes}
}

func cmKey(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func secretKey(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func fieldRef(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
}

func resourceRef(res, divisor string) *corev1.EnvVarSource {
	fs := &corev1.ResourceFieldSelector{Resource: res}
	if divisor != "" {
		fs.Divisor = resource.MustParse(divisor)
	}
	return &corev1.EnvVarSource{ResourceFieldRef: fs}
}

// expandedEnv is the env image.ResolveCommand gives for env, as start.go
// passes it: read in order, a later name over an earlier one, $(NAME)
// expanded.
func expandedEnv(t *testing.T, env []api.EnvVar) map[string]string {
	t.Helper()
	img := &image.Image{Reference: "busybox:1.36", Config: image.ImageConfig{Cmd: []string{"sh"}}}
	_, kvs, _, err := image.ResolveCommand(img, &api.Container{Name: "c", Env: env})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func TestMakeEnv(t *testing.T) {
	state := newObjectState()
	state.putConfigMap("shop", "cfg", map[string]string{"mode": "fast", "LEVEL": "3", "1bad": "x", "DOLLAR": "$(mode)$$"})
	state.putConfigMap("shop", "more", map[string]string{"LEVEL": "4", "EXTRA": "e"})
	state.putSecret("shop", "creds", map[string]string{"password": "s3cr$t", "USER": "admin"})

	pod := testPod("web", "app", "side")
	pod.Namespace = "shop"
	pod.Labels = map[string]string{"app": "web"}
	pod.Annotations = map[string]string{"example.com/owner": "team-a"}
	pod.Spec.ServiceAccountName = "builder"
	app := &pod.Spec.Containers[0]
	app.Resources.Limits = api.ResourceList{"cpu": resource.MustParse("250m"), "memory": resource.MustParse("100Mi")}
	app.Resources.Requests = api.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("64Mi")}
	pod.Spec.Containers[1].Resources.Limits = api.ResourceList{"memory": resource.MustParse("1Gi")}
	src := envSources{
		pod: pod, podIP: "10.244.1.7", hostIP: "192.168.1.10",
		allocatable: api.ResourceList{"cpu": resource.MustParse("2"), "memory": resource.MustParse("4Gi")},
		configMap:   state.configMap, secret: state.secret,
	}
	service := []api.EnvVar{{Name: "DB_SERVICE_HOST", Value: "10.96.0.5"}, {Name: "EXTRA", Value: "from-service"}}

	tests := []struct {
		name     string
		env      []api.EnvVar
		envFrom  []corev1.EnvFromSource
		want     map[string]string
		absent   []string
		warnings []string
		err      string
		config   bool
	}{{
		name: "configMapKeyRef and secretKeyRef",
		env: []api.EnvVar{
			{Name: "MODE", ValueFrom: cmKey("cfg", "mode", false)},
			{Name: "PASS", ValueFrom: secretKey("creds", "password", false)},
		},
		want: map[string]string{"MODE": "fast", "PASS": "s3cr$t"},
	}, {
		name: "values read are not expanded, literal ones are",
		env: []api.EnvVar{
			{Name: "mode", Value: "literal"},
			{Name: "D", ValueFrom: cmKey("cfg", "DOLLAR", false)},
			{Name: "URL", Value: "x-$(mode)-$(PASS)"},
			{Name: "PASS", ValueFrom: secretKey("creds", "password", false)},
			{Name: "URL2", Value: "$(PASS)"},
		},
		want: map[string]string{"D": "$(mode)$$", "URL": "x-literal-$(PASS)", "URL2": "s3cr$t"},
	}, {
		name: "optional missing ConfigMap, Secret and key leave the variable out",
		env: []api.EnvVar{
			{Name: "A", ValueFrom: cmKey("nope", "k", true)},
			{Name: "B", ValueFrom: cmKey("cfg", "nokey", true)},
			{Name: "C", ValueFrom: secretKey("nope", "k", true)},
			{Name: "D", ValueFrom: secretKey("creds", "nokey", true)},
		},
		absent: []string{"A", "B", "C", "D"},
	}, {
		name:   "missing ConfigMap",
		env:    []api.EnvVar{{Name: "A", ValueFrom: cmKey("nope", "k", false)}},
		err:    `configmap "nope" not found`,
		config: true,
	}, {
		name:   "missing ConfigMap key",
		env:    []api.EnvVar{{Name: "A", ValueFrom: cmKey("cfg", "k", false)}},
		err:    "couldn't find key k in ConfigMap shop/cfg",
		config: true,
	}, {
		name:   "missing Secret",
		env:    []api.EnvVar{{Name: "A", ValueFrom: secretKey("nope", "k", false)}},
		err:    `secret "nope" not found`,
		config: true,
	}, {
		name:   "missing Secret key",
		env:    []api.EnvVar{{Name: "A", ValueFrom: secretKey("creds", "k", false)}},
		err:    "couldn't find key k in Secret shop/creds",
		config: true,
	}, {
		name:    "missing envFrom ConfigMap",
		envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
		err:     `configmap "nope" not found`,
		config:  true,
	}, {
		name: "downward API fields",
		env: []api.EnvVar{
			{Name: "NAME", ValueFrom: fieldRef("metadata.name")},
			{Name: "NS", ValueFrom: fieldRef("metadata.namespace")},
			{Name: "UID", ValueFrom: fieldRef("metadata.uid")},
			{Name: "LABEL", ValueFrom: fieldRef("metadata.labels['app']")},
			{Name: "ANN", ValueFrom: fieldRef("metadata.annotations['example.com/owner']")},
			{Name: "NOLABEL", ValueFrom: fieldRef("metadata.labels['none']")},
			{Name: "NODE", ValueFrom: fieldRef("spec.nodeName")},
			{Name: "SA", ValueFrom: fieldRef("spec.serviceAccountName")},
			{Name: "HOST", ValueFrom: fieldRef("status.hostIP")},
			{Name: "HOSTS", ValueFrom: fieldRef("status.hostIPs")},
			{Name: "IP", ValueFrom: fieldRef("status.podIP")},
			{Name: "IPS", ValueFrom: fieldRef("status.podIPs")},
		},
		want: map[string]string{
			"NAME": "web", "NS": "shop", "UID": string(pod.UID), "LABEL": "web", "ANN": "team-a", "NOLABEL": "",
			"NODE": "node-1", "SA": "builder", "HOST": "192.168.1.10", "HOSTS": "192.168.1.10",
			"IP": "10.244.1.7", "IPS": "10.244.1.7",
		},
	}, {
		name: "resources, rounded up, missing limits from allocatable",
		env: []api.EnvVar{
			{Name: "CPU_LIMIT", ValueFrom: resourceRef("limits.cpu", "")},
			{Name: "CPU_LIMIT_M", ValueFrom: resourceRef("limits.cpu", "1m")},
			{Name: "CPU_REQ", ValueFrom: resourceRef("requests.cpu", "")},
			{Name: "MEM_LIMIT_MI", ValueFrom: resourceRef("limits.memory", "1Mi")},
			{Name: "MEM_LIMIT_G", ValueFrom: resourceRef("limits.memory", "1G")},
			{Name: "MEM_REQ", ValueFrom: resourceRef("requests.memory", "")},
			{Name: "EPH_LIMIT", ValueFrom: resourceRef("limits.ephemeral-storage", "")},
			{Name: "EPH_REQ", ValueFrom: resourceRef("requests.ephemeral-storage", "")},
			{Name: "SIDE_CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.cpu"}}},
			{Name: "SIDE_MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		},
		want: map[string]string{
			"CPU_LIMIT": "1", "CPU_LIMIT_M": "250", "CPU_REQ": "1", "MEM_LIMIT_MI": "100",
			"MEM_LIMIT_G": "1", "MEM_REQ": "67108864", "EPH_LIMIT": "0", "EPH_REQ": "0",
			"SIDE_CPU": "2", "SIDE_MEM": "1024",
		},
	}, {
		name: "envFrom with prefix, invalid names skipped, later sources and env win",
		envFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "more"}}},
			{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: new(true)}},
		},
		env: []api.EnvVar{{Name: "mode", Value: "env-wins"}, {Name: "COPY", Value: "$(LEVEL)/$(DOLLAR)"}},
		want: map[string]string{
			"mode": "env-wins", "LEVEL": "4", "EXTRA": "e", "DOLLAR": "$(mode)$$",
			"S_password": "s3cr$t", "S_USER": "admin", "COPY": "4/$(mode)$$", "DB_SERVICE_HOST": "10.96.0.5",
		},
		absent:   []string{"1bad"},
		warnings: []string{"Keys [1bad] from the EnvFrom configMap shop/cfg were skipped since they are considered invalid environment variable names."},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *app
			c.Env, c.EnvFrom = tt.env, tt.envFrom
			env, warnings, err := makeEnv(src, &c, service)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if _, ok := errorsAsConfig(err); ok != tt.config {
					t.Errorf("configError = %v, want %v", ok, tt.config)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := expandedEnv(t, env)
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (set %v), want %q", k, g, ok, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s set, want absent", k)
				}
			}
			var msgs []string
			for _, w := range warnings {
				if w.reason != eventInvalidEnvNames {
					t.Errorf("warning reason %q", w.reason)
				}
				msgs = append(msgs, w.message)
			}
			if !slices.Equal(msgs, tt.warnings) {
				t.Errorf("warnings %q, want %q", msgs, tt.warnings)
			}
		})
	}
}

func errorsAsConfig(err error) (*configError, bool) {
	ce, ok := err.(*configError)
	return ce, ok
}

// newHarnessWithObjects is newHarness with the runtime reading ConfigMaps
// and Secrets from state.
func newHarnessWithObjects(t *testing.T, state *objectState) *harness {
	t.Helper()
	h := newHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.ConfigMap, r.cfg.Secret = state.configMap, state.secret
		}
		return r, err
	}
	h.start()
	return h
}

func TestMissingConfigMapWaitsThenStarts(t *testing.T) {
	state := newObjectState()
	h := newHarnessWithObjects(t, state)
	p := testPod("needs-config", "app")
	p.Spec.Containers[0].Env = []api.EnvVar{{Name: "MODE", ValueFrom: cmKey("settings", "mode", false)}}
	h.r.SyncPods([]*api.Pod{p})

	u := h.waitFor(string(p.UID), "CreateContainerConfigError", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCreateContainerConfigError && w.Message == `configmap "settings" not found`
	})
	if u.Status.Phase != api.PodPending {
		t.Errorf("phase %s, want Pending", u.Status.Phase)
	}
	// Retried: the event comes again under the back-off.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, e := range h.eventsOf(string(p.UID)) {
			if e.Reason == eventFailed && e.Message == `Error: configmap "settings" not found` && e.Type == api.EventTypeWarning {
				n++
			}
		}
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d Failed events, want at least 2 (retries): %v", n, h.eventReasons(string(p.UID)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if sb := h.rt.sandbox(string(p.UID)); sb != nil && sb.container("app") != nil {
		t.Fatal("container started without its ConfigMap")
	}

	// The ConfigMap without the key: the message says so.
	state.putConfigMap("default", "settings", map[string]string{"other": "x"})
	h.waitFor(string(p.UID), "missing key", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCreateContainerConfigError && w.Message == "couldn't find key mode in ConfigMap default/settings"
	})

	state.putConfigMap("default", "settings", map[string]string{"mode": "fast"})
	h.waitPhase(string(p.UID), api.PodRunning)
	if got := envOf(h, string(p.UID), "app", 0)["MODE"]; got != "fast" {
		t.Errorf("MODE = %q, want fast", got)
	}
	// Env is read once: a later change does not reach the running container.
	state.putConfigMap("default", "settings", map[string]string{"mode": "slow"})
	h.r.SyncPods([]*api.Pod{p})
	if got := envOf(h, string(p.UID), "app", 0)["MODE"]; got != "fast" {
		t.Errorf("MODE = %q after the change, want fast", got)
	}
}
