package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/seccompprofile"
)

// Which seccomp profile a container and its sandbox get, as kubelet picks
// it (container's, else pod's, else the node's default) and as containerd
// treats privileged containers.
func TestSeccompFor(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "deny-mkdir.json"),
		[]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "broken.json"), []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	yes := true
	profile := func(typ corev1.SeccompProfileType, local ...string) *corev1.SeccompProfile {
		p := &corev1.SeccompProfile{Type: typ}
		if len(local) > 0 {
			p.LocalhostProfile = str(local[0])
		}
		return p
	}
	const (
		unconfined = "Unconfined"
		runtimeDef = "RuntimeDefault"
		localhost  = "Localhost"
	)
	for _, tc := range []struct {
		name           string
		nodeDefault    bool
		pod, container *corev1.SeccompProfile
		privileged     bool
		sandbox        bool // resolve for the pod's sandbox (no container)
		want           string
		wantErr        string
	}{
		{name: "node default on", nodeDefault: true, want: runtimeDef},
		{name: "node default off", want: unconfined},
		{name: "node default on, sandbox", nodeDefault: true, sandbox: true, want: runtimeDef},
		{name: "pod Unconfined beats the node default", nodeDefault: true, pod: profile(corev1.SeccompProfileTypeUnconfined), want: unconfined},
		{name: "pod RuntimeDefault with the default off", pod: profile(corev1.SeccompProfileTypeRuntimeDefault), want: runtimeDef},
		{name: "container beats pod", nodeDefault: true, pod: profile(corev1.SeccompProfileTypeRuntimeDefault), container: profile(corev1.SeccompProfileTypeUnconfined), want: unconfined},
		{name: "sandbox takes the pod's, not a container's", pod: profile(corev1.SeccompProfileTypeRuntimeDefault), container: profile(corev1.SeccompProfileTypeUnconfined), sandbox: true, want: runtimeDef},
		{name: "Localhost", container: profile(corev1.SeccompProfileTypeLocalhost, "deny-mkdir.json"), want: localhost},
		{name: "pod Localhost", pod: profile(corev1.SeccompProfileTypeLocalhost, "deny-mkdir.json"), want: localhost},
		{name: "privileged is Unconfined whatever it asks", nodeDefault: true, container: profile(corev1.SeccompProfileTypeRuntimeDefault), privileged: true, want: unconfined},
		{name: "Localhost missing file", container: profile(corev1.SeccompProfileTypeLocalhost, "nope.json"), wantErr: "cannot load seccomp profile"},
		{name: "Localhost broken file", container: profile(corev1.SeccompProfileTypeLocalhost, "broken.json"), wantErr: "decoding seccomp profile"},
		{name: "Localhost without a name", container: profile(corev1.SeccompProfileTypeLocalhost), wantErr: "localhostProfile must be set"},
		{name: "Localhost outside the root", container: profile(corev1.SeccompProfileTypeLocalhost, "../../etc/passwd"), wantErr: "must be a relative path"},
		{name: "unknown type", container: profile("Strict"), wantErr: `unsupported seccomp profile type "Strict"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{SeccompDefault: tc.nodeDefault, SeccompProfileRoot: root}
			pod := &api.Pod{}
			if tc.pod != nil {
				pod.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: tc.pod}
			}
			c := &api.Container{Name: "app"}
			if tc.container != nil || tc.privileged {
				c.SecurityContext = &corev1.SecurityContext{SeccompProfile: tc.container}
				if tc.privileged {
					c.SecurityContext.Privileged = &yes
				}
			}
			if tc.sandbox {
				c = nil
			}
			got, err := cfg.seccompFor(pod, c)
			if tc.want == localhost && !seccompprofile.Enabled {
				// Reading a profile checks it, which needs seccomp support.
				tc.wantErr = "seccomp is not supported"
			}
			if tc.wantErr != "" {
				if _, ok := errors.AsType[*configError](err); !ok || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("seccompFor = %+v, %v; want a configError with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kind := unconfined
			switch {
			case got.RuntimeDefault:
				kind = runtimeDef
			case got.Localhost != nil:
				kind = localhost
			}
			if kind != tc.want {
				t.Errorf("profile %s, want %s", kind, tc.want)
			}
		})
	}
}
