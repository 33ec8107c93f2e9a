//go:build linux

package container

import (
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

// The namespaces a pod shares with the host are left out of the pause's
// configuration and of its containers' (so both stay in the agent's), the
// others are new for the pause and joined by path by the containers;
// hostPID wins over a shared PID namespace; a hostNetwork pause sets no
// hostname and configures no loopback (the node's namespaces are not the
// pod's to change); a hostIPC pod gets the node's /dev/shm.
func TestHostNamespacesConfig(t *testing.T) {
	const pausePid = 42
	join := func(kind string) string { return fmt.Sprintf("%s=/proc/%d/ns/%s", kind, pausePid, kind) }
	tests := []struct {
		name      string
		meta      sandboxMeta
		pause     []string // namespaces the pause gets, "" paths
		container []string // a container's: kind, or kind=path when joined
		shm       string
	}{
		{name: "pod namespaces", meta: sandboxMeta{Hostname: "web"},
			pause:     []string{"mnt", "uts", "net", "ipc", "pid"},
			container: []string{"mnt", "pid", join("net"), join("uts"), join("ipc")}, shm: "/run/sb1/shm"},
		{name: "shared PID namespace", meta: sandboxMeta{Hostname: "web", SharePID: true},
			pause:     []string{"mnt", "uts", "net", "ipc", "pid"},
			container: []string{"mnt", join("pid"), join("net"), join("uts"), join("ipc")}, shm: "/run/sb1/shm"},
		{name: "hostNetwork", meta: sandboxMeta{Hostname: "node-1", HostNetwork: true},
			pause:     []string{"mnt", "ipc", "pid"},
			container: []string{"mnt", "pid", join("ipc")}, shm: "/run/sb1/shm"},
		{name: "hostPID wins over a shared PID namespace", meta: sandboxMeta{Hostname: "web", HostPID: true, SharePID: true},
			pause:     []string{"mnt", "uts", "net", "ipc"},
			container: []string{"mnt", join("net"), join("uts"), join("ipc")}, shm: "/run/sb1/shm"},
		{name: "hostIPC", meta: sandboxMeta{Hostname: "web", HostIPC: true},
			pause:     []string{"mnt", "uts", "net", "pid"},
			container: []string{"mnt", "pid", join("net"), join("uts")}, shm: "/dev/shm"},
		{name: "all three", meta: sandboxMeta{Hostname: "node-1", HostNetwork: true, HostPID: true, HostIPC: true},
			pause: []string{"mnt"}, container: []string{"mnt"}, shm: "/dev/shm"},
	}
	kinds := func(ns configs.Namespaces) []string {
		var out []string
		for _, n := range ns {
			if n.Type == configs.NEWCGROUP {
				continue // the host's cgroup layout decides it
			}
			k := configs.NsName(n.Type)
			if n.Path != "" {
				k += "=" + n.Path
			}
			out = append(out, k)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{cfg: Config{CgroupRoot: "/gossipod"}}
			pause := m.pauseConfig("sb1", "/rootfs", tt.meta)
			if got := kinds(pause.Namespaces); !slices.Equal(got, tt.pause) {
				t.Errorf("pause namespaces %v, want %v", got, tt.pause)
			}
			if tt.meta.HostNetwork && (pause.Hostname != "" || len(pause.Networks) > 0) {
				t.Errorf("hostNetwork pause sets hostname %q, networks %v", pause.Hostname, pause.Networks)
			}
			if !tt.meta.HostNetwork && (pause.Hostname != tt.meta.Hostname || len(pause.Networks) != 1) {
				t.Errorf("pause sets hostname %q, networks %v", pause.Hostname, pause.Networks)
			}
			sb := newSandbox(m, "sb1", "/run/sb1", tt.meta)
			cfg, err := sb.containerConfig(ContainerSpec{Name: "app", Args: []string{"sh"}, LowerDirs: []string{"/l"}}, "/rootfs", pausePid)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(cfg.Namespaces); !slices.Equal(got, tt.container) {
				t.Errorf("container namespaces %v, want %v", got, tt.container)
			}
			for _, mnt := range cfg.Mounts {
				if mnt.Destination == "/dev/shm" && mnt.Source != tt.shm {
					t.Errorf("/dev/shm from %s, want %s", mnt.Source, tt.shm)
				}
			}
		})
	}
}
