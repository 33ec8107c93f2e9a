//go:build linux

package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/seccompprofile"
)

// Real pods under the agent's defaults: a container that sets nothing gets
// RuntimeDefault (unshare -U fails), a pod that asks for Unconfined runs
// it, a Localhost profile from the profile root denies mkdir, and a
// profile that cannot be read leaves the container waiting with
// CreateContainerConfigError.
func TestRealSeccompProfiles(t *testing.T) {
	if !seccompprofile.Enabled {
		why := "built without the seccomp tag (go test -tags seccomp; make test sets it)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %s", why)
		}
		t.Skip(why)
	}
	h := newRealHarness(t)
	profiles := t.TempDir()
	if err := os.WriteFile(filepath.Join(profiles, "deny-mkdir.json"),
		[]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	h.r.cfg.SeccompProfileRoot = profiles
	local := func(name string) *corev1.SeccompProfile {
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &name}
	}
	withPod := func(p *api.Pod, sp *corev1.SeccompProfile) *api.Pod {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: sp}
		return p
	}
	const script = "unshare -U true && echo unshare-ok; mkdir /d && echo mkdir-ok; grep Seccomp: /proc/self/status; sleep 3600"
	pods := []*api.Pod{
		busyboxPod("default", sh("c", script)),
		withPod(busyboxPod("unconfined", sh("c", script)), &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}),
		withPod(busyboxPod("localhost", sh("c", script)), local("deny-mkdir.json")),
		withPod(busyboxPod("missing", sh("c", script)), local("nope.json")),
	}
	// The missing profile fails the sandbox (the pod-level profile is the
	// pause's): give the pause RuntimeDefault and the container the missing one.
	pods[3].Spec.SecurityContext = nil
	pods[3].Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: local("nope.json")}
	h.r.SyncPods(pods)
	for _, tc := range []struct {
		pod       *api.Pod
		want, not []string
	}{
		{pods[0], []string{"mkdir-ok", "Seccomp:\t2"}, []string{"unshare-ok"}},
		{pods[1], []string{"unshare-ok", "mkdir-ok", "Seccomp:\t0"}, nil},
		{pods[2], []string{"unshare-ok", "Seccomp:\t2"}, []string{"mkdir-ok"}},
	} {
		h.waitPhase(string(tc.pod.UID), api.PodRunning)
		var out string
		waitUntilFor(t, 10*time.Second, "output of "+tc.pod.Name, func() bool {
			out = h.logs(tc.pod.Name, "c", LogOptions{TailLines: -1})
			return strings.Contains(out, "Seccomp:")
		})
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("pod %s: output %q lacks %q", tc.pod.Name, out, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("pod %s: output %q has %q", tc.pod.Name, out, n)
			}
		}
	}
	u := h.waitFor(string(pods[3].UID), "CreateContainerConfigError", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CreateContainerConfigError"
	})
	if msg := u.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "nope.json") {
		t.Errorf("waiting message %q does not name the profile", msg)
	}
}
