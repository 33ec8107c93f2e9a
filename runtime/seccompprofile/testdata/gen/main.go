// Command gen writes the golden files of gossipod's runtime/seccompprofile from
// containerd's own DefaultProfile, on linux/amd64 with a kernel >= 4.8:
//
//	cd $(mktemp -d) && cp <repo>/runtime/seccompprofile/testdata/gen/main.go . &&
//	go mod init gen && go get github.com/containerd/containerd/v2@v2.4.2 &&
//	go mod tidy && go run . <repo>/runtime/seccompprofile/testdata
package main

import (
	"encoding/json"
	"os"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	sets := map[string][]string{
		"docker-default-caps": {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
			"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
			"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"},
		"every-cap": {"CAP_DAC_READ_SEARCH", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_CHROOT", "CAP_SYS_MODULE",
			"CAP_SYS_PACCT", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG",
			"CAP_SYS_NICE", "CAP_SYSLOG", "CAP_BPF", "CAP_PERFMON"},
		"no-caps": {},
	}
	for name, caps := range sets {
		sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
		b, err := json.MarshalIndent(seccomp.DefaultProfile(sp), "", "  ")
		if err != nil {
			panic(err)
		}
		if err := os.WriteFile(os.Args[1]+"/containerd-v2.4.2-amd64-"+name+".json", append(b, '\n'), 0o644); err != nil {
			panic(err)
		}
	}
}
