package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/runtime"
)

// startOneAgent runs a one-agent control-plane cluster with cfg changed by
// edit, and returns it once it leads.
func startOneAgent(t *testing.T, edit func(*Config)) *Agent {
	t.Helper()
	var a *Agent
	var err error
	// Other test processes on this host use the same loopback blocks: on
	// a port taken, try another block.
	for range 5 {
		cfg := testConfig(t, "agent-00", benchAddr(10+rand.IntN(240), 0), t.TempDir(), 1)
		edit(&cfg)
		if a, err = New(cfg, runtime.MachineInfo{OS: "linux", Arch: "amd64"}); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = a.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitForLeader(t, []*Agent{a}, 30*time.Second)
	return a
}

func hostPathPod(name, path string) *api.Pod {
	p := testPodSpec(name, "1Mi")
	p.Spec.Volumes = []api.Volume{{Name: "h", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: path}}}}
	return p
}

// wantForbiddenHostPath fails unless err is the 422 naming field and the
// --allowed-host-paths flag.
func wantForbiddenHostPath(t *testing.T, err error, field, path string) {
	t.Helper()
	var st *api.Status
	if !errors.As(err, &st) || st.Code != http.StatusUnprocessableEntity {
		t.Fatalf("error %v, want 422", err)
	}
	want := field + ": Forbidden: " + path + " is not under any of the agent's --allowed-host-paths"
	if !strings.Contains(st.Message, want) {
		t.Fatalf("message %q, want it to contain %q", st.Message, want)
	}
}

// TestAdmissionChecksAllowedHostPaths: the agent that receives a pod or a
// Deployment refuses a hostPath outside its --allowed-host-paths, and
// admits one under it.
func TestAdmissionChecksAllowedHostPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	a := startOneAgent(t, func(c *Config) {
		c.AllowedHostPaths = []string{"/srv/data"}
		// baseline, the default, refuses every hostPath volume; this
		// test is about the agent's own list.
		c.PodSecurityDefault = api.PodSecurityPrivileged
	})
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, path := range []string{"/etc", "/", "/srv/data2", "/srv"} {
		_, err := cl.CreatePod(ctx, hostPathPod("p", path))
		wantForbiddenHostPath(t, err, "spec.volumes[0].hostPath.path", path)
	}
	if _, err := cl.CreatePod(ctx, hostPathPod("ok", "/srv/data/www")); err != nil {
		t.Fatalf("hostPath under an allowed path refused: %v", err)
	}

	d := &api.Deployment{
		TypeMeta:   api.TypeMeta{Kind: "Deployment", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: api.DeploymentSpec{
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       hostPathPod("", "/etc").Spec,
			},
		},
	}
	_, err := cl.CreateDeployment(ctx, d)
	wantForbiddenHostPath(t, err, "spec.template.spec.volumes[0].hostPath.path", "/etc")

	d.Spec.Template.Spec.Volumes[0].HostPath.Path = "/srv/data"
	created, err := cl.CreateDeployment(ctx, d)
	if err != nil {
		t.Fatalf("Deployment with an allowed hostPath refused: %v", err)
	}
	created.Spec.Template.Spec.Volumes[0].HostPath.Path = "/var/run"
	_, err = cl.UpdateDeployment(ctx, created)
	wantForbiddenHostPath(t, err, "spec.template.spec.volumes[0].hostPath.path", "/var/run")
}

// TestHostPathsDisabledByDefault: with no --allowed-host-paths, every
// hostPath is refused, and the message says they are disabled.
func TestHostPathsDisabledByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	a := startOneAgent(t, func(*Config) {})
	cl := adminClient(t, a)
	_, err := cl.CreatePod(context.Background(), hostPathPod("p", "/tmp"))
	wantForbiddenHostPath(t, err, "spec.volumes[0].hostPath.path", "/tmp")
	if !strings.Contains(err.Error(), "(empty: hostPath volumes are disabled)") {
		t.Errorf("message %q does not say hostPath volumes are disabled", err)
	}
}

// TestRawCommandMeetsTheFSMGate commits a raw command, as a post to the
// internal apply endpoint does, bypassing the handlers' checks: the FSM
// refuses the crafted uid and volume name with a 422.
func TestRawCommandMeetsTheFSMGate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	a := startOneAgent(t, func(*Config) {})
	p := testPodSpec("evil", "1Mi")
	p.UID = "../../../../etc"
	p.Spec.Volumes = []api.Volume{{Name: "../..", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	cmd, err := consensus.NewCommand(consensus.CmdCreatePod, consensus.CreatePod{Pod: *p})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Commit(context.Background(), cmd)
	var st *api.Status
	if !errors.As(err, &st) || st.Code != http.StatusUnprocessableEntity ||
		!strings.Contains(st.Message, "metadata.uid") || !strings.Contains(st.Message, "spec.volumes[0].name") {
		t.Fatalf("raw command: %v, want a 422 naming metadata.uid and spec.volumes[0].name", err)
	}
	if _, ok := a.store.State().Pod("default", "evil"); ok {
		t.Fatal("the FSM stored the crafted pod")
	}
}

func TestConfigChecksAllowedHostPaths(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  string // "" for valid
	}{
		{nil, ""},
		{[]string{"/srv/data", "/var/log"}, ""},
		{[]string{"srv"}, "must be an absolute path"},
		{[]string{"/srv/../etc"}, "must be a clean path"},
		{[]string{"/srv/"}, "must be a clean path"},
	} {
		cfg := testConfig(t, "a", "127.0.0.1", t.TempDir(), 1)
		cfg.AllowedHostPaths = tc.paths
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.paths, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--allowed-host-paths")):
			t.Errorf("%q: error %v, want one naming --allowed-host-paths with %q", tc.paths, err, tc.want)
		}
	}
}

func TestConfigChecksPodSecurityDefault(t *testing.T) {
	for _, tc := range []struct {
		level string
		want  string // "" for valid
	}{
		{"privileged", ""},
		{"baseline", ""},
		{"restricted", ""},
		{"strict", `--pod-security-default: pod security level "strict": must be one of privileged, baseline, restricted`},
		{"", `--pod-security-default: pod security level "": must be one of privileged, baseline, restricted`},
	} {
		cfg := testConfig(t, "a", "127.0.0.1", t.TempDir(), 1)
		cfg.PodSecurityDefault = tc.level
		err := cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.level, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.level, err, tc.want)
		}
	}
}

// A node name too long to be the kubernetes.io/hostname label value would
// be refused by the FSM at registration: the agent refuses it at start.
func TestConfigRefusesNodeNameLongerThanALabel(t *testing.T) {
	cfg := testConfig(t, strings.Repeat("n", 64), "127.0.0.1", t.TempDir(), 1)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("Validate() = %v, want an error naming --name", err)
	}
	cfg.NodeName = strings.Repeat("n", 63)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("63 characters: %v", err)
	}
}
