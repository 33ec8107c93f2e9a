//go:build linux

package container

import (
	"slices"
	"testing"

	devices "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

// containerConfig turns a ContainerSpec's security fields into
// libcontainer's configuration as containerd's CRI plugin would.
func TestContainerConfigSecurity(t *testing.T) {
	sb := newSandbox(&Manager{cfg: Config{CgroupRoot: "/gossipod"}}, "sb1", "/run/sb1", sandboxMeta{})
	base := ContainerSpec{Name: "app", Args: []string{"sh"}, LowerDirs: []string{"/l"}}
	all := allCapabilities()
	without := func(caps []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(caps), func(c string) bool { return slices.Contains(drop, c) })
	}
	tests := []struct {
		name       string
		modify     func(*ContainerSpec)
		caps       []string
		nnp, rofs  bool
		privileged bool
	}{
		{name: "Docker's defaults", modify: func(*ContainerSpec) {}, caps: defaultCaps},
		{name: "drop NET_RAW, add SYS_TIME", modify: func(s *ContainerSpec) {
			s.CapDrop, s.CapAdd = []string{"NET_RAW"}, []string{"sys_time"}
		}, caps: append(without(defaultCaps, "CAP_NET_RAW"), "CAP_SYS_TIME")},
		{name: "drop ALL, add one back", modify: func(s *ContainerSpec) {
			s.CapDrop, s.CapAdd = []string{"ALL"}, []string{"CAP_NET_BIND_SERVICE"}
		}, caps: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "add ALL, drop one", modify: func(s *ContainerSpec) {
			s.CapAdd, s.CapDrop = []string{"ALL"}, []string{"SYS_ADMIN"}
		}, caps: without(all, "CAP_SYS_ADMIN")},
		{name: "added and dropped: dropped", modify: func(s *ContainerSpec) {
			s.CapAdd, s.CapDrop = []string{"NET_ADMIN"}, []string{"NET_ADMIN"}
		}, caps: defaultCaps},
		{name: "no privilege escalation, read-only root", modify: func(s *ContainerSpec) {
			s.NoNewPrivileges, s.ReadOnlyRootfs = true, true
		}, caps: defaultCaps, nnp: true, rofs: true},
		{name: "privileged", modify: func(s *ContainerSpec) {
			s.Privileged, s.CapDrop = true, []string{"ALL"}
		}, caps: all, privileged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.modify(&spec)
			cfg, err := sb.containerConfig(spec, "/rootfs", 1)
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.Capabilities
			for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
				if !slices.Equal(set, tt.caps) {
					t.Errorf("capabilities %v, want %v", set, tt.caps)
				}
			}
			if cfg.NoNewPrivileges != tt.nnp || cfg.Readonlyfs != tt.rofs {
				t.Errorf("no_new_privs %v, read-only root %v; want %v, %v", cfg.NoNewPrivileges, cfg.Readonlyfs, tt.nnp, tt.rofs)
			}
			var sysRO bool
			for _, m := range cfg.Mounts {
				if m.Destination == "/sys" {
					sysRO = m.Flags&unix.MS_RDONLY != 0
				}
			}
			allDevices := slices.ContainsFunc(cfg.Cgroups.Resources.Devices, func(r *devices.Rule) bool {
				return r.Type == devices.WildcardDevice && r.Allow
			})
			if tt.privileged {
				if len(cfg.MaskPaths) != 0 || len(cfg.ReadonlyPaths) != 0 || sysRO || !allDevices {
					t.Errorf("privileged: masked %v, read-only %v, /sys read-only %v, all devices %v", cfg.MaskPaths, cfg.ReadonlyPaths, sysRO, allDevices)
				}
				if !slices.ContainsFunc(cfg.Devices, func(d *devices.Device) bool { return d.Path == "/dev/null" }) {
					t.Error("privileged: no /dev/null")
				}
			} else if !slices.Equal(cfg.MaskPaths, maskedPaths) || !slices.Equal(cfg.ReadonlyPaths, readonlyPaths) || !sysRO || allDevices {
				t.Errorf("masked %v, read-only %v, /sys read-only %v, all devices %v", cfg.MaskPaths, cfg.ReadonlyPaths, sysRO, allDevices)
			}
		})
	}
}

// A capability no kernel knows is refused before libcontainer sees it.
func TestContainerSpecUnknownCapability(t *testing.T) {
	spec := ContainerSpec{Name: "app", Args: []string{"sh"}, LowerDirs: []string{"/l"}, CapAdd: []string{"MAKE_COFFEE"}}
	if err := spec.validate(); err == nil {
		t.Fatal("MAKE_COFFEE accepted")
	}
	spec.CapAdd = []string{"all", "net_admin", "CAP_SYS_TIME"}
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
}
