package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/apparmor"
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

// Which AppArmor profile a container runs under, as containerd's CRI
// decides on hosts with and without AppArmor (this machine may have none:
// the host is a table entry).
func TestAppArmorFor(t *testing.T) {
	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if err := os.WriteFile(profiles, []byte(apparmor.DefaultProfileName+" (enforce)\nmy-profile (enforce)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	enabled := apparmor.Host{Enabled: true, ProfilesFile: profiles, MacroDir: dir, Parser: filepath.Join(dir, "no-parser")}
	// The default profile is not loaded and cannot be: the parser is absent.
	unloadable := enabled
	unloadable.ProfilesFile = filepath.Join(dir, "empty")
	if err := os.WriteFile(unloadable.ProfilesFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	name := func(s string) *string { return &s }
	yes := true
	for _, tc := range []struct {
		name           string
		host           apparmor.Host
		pod, container *corev1.AppArmorProfile
		annotation     string
		privileged     bool
		want, wantErr  string
	}{
		{name: "no AppArmor, nothing asked", host: apparmor.Host{}, want: ""},
		{name: "no AppArmor, Unconfined", host: apparmor.Host{}, container: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}, want: ""},
		{name: "no AppArmor, RuntimeDefault asked", host: apparmor.Host{}, pod: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}, wantErr: "apparmor is not supported"},
		{name: "AppArmor, nothing asked: the default", host: enabled, want: apparmor.DefaultProfileName},
		{name: "AppArmor, privileged: none", host: enabled, privileged: true, want: ""},
		{name: "AppArmor, pod Unconfined", host: enabled, pod: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}, want: ""},
		{name: "container beats pod", host: enabled, pod: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
			container: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: name("my-profile")}, want: "my-profile"},
		{name: "Localhost not loaded", host: enabled, container: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: name("other")}, wantErr: "apparmor profile not found other"},
		{name: "annotation localhost/", host: enabled, annotation: "localhost/my-profile", want: "my-profile"},
		{name: "annotation unconfined", host: enabled, annotation: "unconfined", want: ""},
		{name: "annotation runtime/default", host: enabled, annotation: "runtime/default", want: apparmor.DefaultProfileName},
		{name: "annotation unknown", host: enabled, annotation: "strict", wantErr: `apparmor unknown ProfileType "strict"`},
		{name: "default profile cannot be loaded", host: unloadable, wantErr: "load apparmor profile gossipod-default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &api.Pod{}
			if tc.pod != nil {
				pod.Spec.SecurityContext = &corev1.PodSecurityContext{AppArmorProfile: tc.pod}
			}
			if tc.annotation != "" {
				pod.Annotations = map[string]string{appArmorAnnotationPrefix + "app": tc.annotation}
			}
			c := &api.Container{Name: "app", SecurityContext: &corev1.SecurityContext{AppArmorProfile: tc.container}}
			if tc.privileged {
				c.SecurityContext.Privileged = &yes
			}
			got, err := appArmorFor(tc.host, pod, c)
			if tc.wantErr != "" {
				if _, ok := errors.AsType[*configError](err); !ok || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("appArmorFor = %q, %v; want a configError with %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("appArmorFor = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
