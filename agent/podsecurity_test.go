package agent

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestPodSecurityDefault: an agent's leader records its
// --pod-security-default, and the cluster holds unlabelled namespaces to
// it: a hostPort pod is refused under baseline (the default) with
// kube-apiserver's message, and admitted under privileged; through one
// agent's API, Raft and state machine.
func TestPodSecurityDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	for _, tc := range []struct {
		level string
		want  string // "" when created
	}{
		{"baseline", `pods "web" is forbidden: violates PodSecurity "baseline:latest": hostPort (container "c" uses hostPort 8080)`},
		{"privileged", ""},
	} {
		t.Run(tc.level, func(t *testing.T) {
			a := startOneAgent(t, func(c *Config) { c.PodSecurityDefault = tc.level })
			deadline := time.Now().Add(30 * time.Second)
			for {
				if d, ok := a.store.State().PodSecurityDefaults(); ok && d.Enforce == tc.level {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the leader did not record --pod-security-default")
				}
				time.Sleep(20 * time.Millisecond)
			}
			p := testPodSpec("web", "1Mi")
			p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: api.ProtocolTCP}}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := adminClient(t, a).CreatePod(ctx, p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var st *api.Status
			if !errors.As(err, &st) || st.Code != http.StatusForbidden || st.Message != tc.want {
				t.Fatalf("got %v, want 403 %s", err, tc.want)
			}
		})
	}
}
