package apparmor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoaded(t *testing.T) {
	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if err := os.WriteFile(profiles, []byte("docker-default (enforce)\nmy-app (complain)\nmy-app-2 (enforce)"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := Host{Enabled: true, ProfilesFile: profiles}
	for _, tc := range []struct {
		name    string
		want    bool
		wantErr bool
	}{
		{"docker-default", true, false},
		{"my-app", true, false},
		{"my-app-2", true, false}, // the last line, without a newline
		{"my", false, false},
		{"absent", false, false},
		{"", false, true},
	} {
		got, err := h.Loaded(tc.name)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Loaded(%q) = %v, %v; want %v (error: %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := (Host{ProfilesFile: filepath.Join(dir, "nope")}).Loaded("x"); err == nil {
		t.Error("Loaded with no profiles file: no error")
	}
}

func TestDefaultProfile(t *testing.T) {
	withMacros := t.TempDir()
	for _, m := range []string{"abi/3.0", "tunables/global", "abstractions/base"} {
		if err := os.MkdirAll(filepath.Join(withMacros, filepath.Dir(m)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(withMacros, m), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, dir, daemon string
		want, not         []string
	}{
		{"with the host's macros", withMacros, "gossipod-agent (enforce)\n",
			[]string{"abi <abi/3.0>,", "#include <tunables/global>", "#include <abstractions/base>",
				"profile gossipod-default flags=(attach_disconnected,mediate_deleted) {", "signal (receive) peer=gossipod-agent,",
				"deny mount,", "deny /sys/kernel/security/** rwklx,", "ptrace (trace,tracedby,read,readby) peer=gossipod-default,"},
			[]string{"@{PROC}=/proc/", "rootlesskit"}},
		{"without macros, agent unconfined", t.TempDir(), "",
			[]string{"@{PROC}=/proc/", "signal (receive) peer=unconfined,", "deny @{PROC}/sysrq-trigger rwklx,"},
			[]string{"abi <", "#include"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Host{MacroDir: tc.dir}.DefaultProfile(DefaultProfileName, tc.daemon)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("profile lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("profile has %q:\n%s", n, got)
				}
			}
		})
	}
}

func TestLoadDefaultSkipsALoadedProfile(t *testing.T) {
	dir := t.TempDir()
	profiles := filepath.Join(dir, "profiles")
	if err := os.WriteFile(profiles, []byte(DefaultProfileName+" (enforce)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A parser that cannot run: reaching it would fail.
	h := Host{Enabled: true, ProfilesFile: profiles, MacroDir: dir, Parser: filepath.Join(dir, "no-parser")}
	if err := h.LoadDefault(DefaultProfileName); err != nil {
		t.Fatalf("loaded profile: %v", err)
	}
	if err := os.WriteFile(profiles, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.LoadDefault(DefaultProfileName); err == nil || !strings.Contains(err.Error(), "load apparmor profile gossipod-default") {
		t.Fatalf("profile not loaded and no parser: %v", err)
	}
}
