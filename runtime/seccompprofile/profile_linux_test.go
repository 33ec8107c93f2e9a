//go:build linux

package seccompprofile

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// The port must give exactly what containerd v2.4.2's DefaultProfile gives
// for the same capabilities (testdata/gen made the files from containerd's
// own code).
func TestDefaultProfileMatchesContainerd(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("the golden files are containerd's output on amd64, not %s", runtime.GOARCH)
	}
	for _, tc := range []struct {
		golden string
		caps   []string
	}{
		{"docker-default-caps", []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
			"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
			"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}},
		{"every-cap", []string{"CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
			"CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
			"CAP_SYS_NICE", "CAP_SYSLOG", "CAP_BPF", "CAP_PERFMON"}},
		{"no-caps", nil},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "containerd-v2.4.2-amd64-"+tc.golden+".json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(defaultProfile(tc.caps, true))
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("the port differs from containerd's profile:\ngot  %s\nwant %s", got, compact(t, want))
			}
		})
	}
}

func compact(t *testing.T, b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// What the issue names as reachable without a profile is denied by the
// default one, unless the capability that needs it is there.
func TestRuntimeDefaultRules(t *testing.T) {
	allowed := func(p *specs.LinuxSeccomp, name string) bool {
		for _, s := range p.Syscalls {
			for _, n := range s.Names {
				if n == name && s.Action == specs.ActAllow {
					return true
				}
			}
		}
		return false
	}
	base := RuntimeDefault([]string{"CAP_CHOWN", "CAP_KILL"})
	admin := RuntimeDefault([]string{"CAP_SYS_ADMIN"})
	for _, tc := range []struct {
		syscall           string
		inBase, withAdmin bool
	}{
		{"read", true, true},
		{"unshare", false, true},
		{"mount", false, true},
		{"keyctl", false, false},
		{"add_key", false, false},
		{"io_uring_setup", false, false},
		{"open_by_handle_at", false, false},
	} {
		if got := allowed(base, tc.syscall); got != tc.inBase {
			t.Errorf("%s allowed without CAP_SYS_ADMIN: %v, want %v", tc.syscall, got, tc.inBase)
		}
		if got := allowed(admin, tc.syscall); got != tc.withAdmin {
			t.Errorf("%s allowed with CAP_SYS_ADMIN: %v, want %v", tc.syscall, got, tc.withAdmin)
		}
	}
	if base.DefaultAction != specs.ActErrno {
		t.Errorf("default action %q, want %q", base.DefaultAction, specs.ActErrno)
	}
}

func TestLoadLocalhost(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("profiles/deny-mkdir.json", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`)
	write("docker-format.json", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]}],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[]}]}`)
	write("not-json.json", `{"defaultAction":`)
	write("empty.json", `{}`)
	write("bad-action.json", `{"defaultAction":"SCMP_ACT_MAYBE"}`)
	write("bad-arch.json", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_Z80"]}`)
	for _, tc := range []struct {
		name, profile string
		wantErr       string // "" for success
	}{
		{"nested path", "profiles/deny-mkdir.json", ""},
		{"docker's format", "docker-format.json", ""},
		{"missing file", "nope.json", "cannot load seccomp profile"},
		{"not JSON", "not-json.json", "decoding seccomp profile"},
		{"empty profile", "empty.json", "has no defaultAction"},
		{"unknown action", "bad-action.json", "SCMP_ACT_MAYBE"},
		{"unknown architecture", "bad-arch.json", "SCMP_ARCH_Z80"},
		{"empty name", "", "localhostProfile must be set"},
		{"escapes the root", "../etc/passwd", "must be a relative path"},
		{"absolute", "/etc/passwd", "must be a relative path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !Enabled && tc.wantErr == "" || !Enabled && strings.Contains(tc.wantErr, "SCMP_") {
				// Checking a profile converts it, which needs seccomp support.
				tc.wantErr = "seccomp is not supported"
			}
			p, err := LoadLocalhost(root, tc.profile)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("LoadLocalhost(%q): %v", tc.profile, err)
			case tc.wantErr == "" && p.DefaultAction == "":
				t.Fatalf("LoadLocalhost(%q) gave an empty profile", tc.profile)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("LoadLocalhost(%q) = %v, want an error with %q", tc.profile, err, tc.wantErr)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	if c, err := Config(nil); c != nil || err != nil {
		t.Fatalf("Config(nil) = %v, %v; want no filter", c, err)
	}
	c, err := Config(RuntimeDefault(nil))
	if !Enabled {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("without seccomp support: Config = %v, want ErrUnavailable", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Syscalls) < 300 {
		t.Errorf("RuntimeDefault converted to %d syscall rules, want the default profile's 300+", len(c.Syscalls))
	}
}
