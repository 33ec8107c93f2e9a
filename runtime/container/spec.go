//go:build linux

package container

import (
	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// The configurations are built directly rather than through runc's OCI
// converter (specconv): it needs cgo even where nothing else here does,
// and it would make the spec a second language to get right. The defaults
// below are runc's and Docker's, named so that a reader can compare.

// defaultCaps is Docker's (and containerd's CRI) default capability set:
// enough for ordinary images (httpd binding :80 needs NET_BIND_SERVICE,
// ping needs NET_RAW), without the dangerous ones (SYS_ADMIN, NET_ADMIN...).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are runc's defaults (`runc spec`): kernel
// interfaces a container must not read or change.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// defaultPath is the PATH a container gets when its environment has none,
// as containerd does; libcontainer looks the program up with it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// allowedDevices are runc's default devices: the nodes created in /dev and
// the device cgroup rules that allow them (and mknod, pts, ptmx, tun).
var allowedDevices = []*devices.Device{
	{Rule: devices.Rule{Type: devices.CharDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true}},
	{Rule: devices.Rule{Type: devices.BlockDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "m", Allow: true}},
	charDevice("/dev/null", 1, 3),
	charDevice("/dev/random", 1, 8),
	charDevice("/dev/full", 1, 7),
	charDevice("/dev/tty", 5, 0),
	charDevice("/dev/zero", 1, 5),
	charDevice("/dev/urandom", 1, 9),
	{Rule: devices.Rule{Type: devices.CharDevice, Major: 136, Minor: devices.Wildcard, Permissions: "rwm", Allow: true}}, // /dev/pts/*
	{Rule: devices.Rule{Type: devices.CharDevice, Major: 5, Minor: 2, Permissions: "rwm", Allow: true}},                  // /dev/ptmx
	{Rule: devices.Rule{Type: devices.CharDevice, Major: 10, Minor: 200, Permissions: "rwm", Allow: true}},               // /dev/net/tun
}

func charDevice(path string, major, minor int64) *devices.Device {
	return &devices.Device{
		Path: path, FileMode: 0o666,
		Rule: devices.Rule{Type: devices.CharDevice, Major: major, Minor: minor, Permissions: "rwm", Allow: true},
	}
}

// deviceRules denies every device, then allows the default ones: what the
// container's leaf cgroup enforces.
func deviceRules() []*devices.Rule {
	rules := []*devices.Rule{{Type: devices.WildcardDevice, Major: devices.Wildcard, Minor: devices.Wildcard, Permissions: "rwm", Allow: false}}
	for _, d := range allowedDevices {
		rules = append(rules, &d.Rule)
	}
	return rules
}

// createdDevices are the allowed devices that get a node in /dev.
func createdDevices() []*devices.Device {
	var ds []*devices.Device
	for _, d := range allowedDevices {
		if d.Path != "" {
			ds = append(ds, d)
		}
	}
	return ds
}

const (
	// The flags of runc's default mounts.
	nosuidNoexecNodev = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
	// rprivate: no mount event crosses between the container and the host.
	rprivate = unix.MS_PRIVATE | unix.MS_REC
)

// pauseConfig describes the pause: an empty read-only root with the pause
// binary bind-mounted read-only at /pause (and /proc, which runc's init
// needs), new UTS (the pod's hostname),
// IPC, network (loopback up), mount and PID namespaces, no capabilities.
// Its own PID namespace (as containerd's sandbox): with a shared PID
// namespace it is the pod's PID 1 and reaps the pod's orphans. Each
// namespace the pod shares with the host (meta's HostNetwork, HostPID,
// HostIPC) is left out instead: the pause stays in the agent's, and so
// will the containers. With meta's UserNamespace, it creates the pod's
// user namespace too, which then owns the others: the pod's root is root
// over its own namespaces only.
func (m *Manager) pauseConfig(id, rootfs string, meta sandboxMeta) *configs.Config {
	ns := configs.Namespaces{{Type: configs.NEWNS}}
	var networks []*configs.Network
	hostname := meta.Hostname
	if meta.HostNetwork {
		hostname = "" // the node's UTS namespace, never renamed
	} else {
		ns.Add(configs.NEWUTS, "")
		ns.Add(configs.NEWNET, "")
		networks = []*configs.Network{{Type: "loopback"}}
	}
	if !meta.HostIPC {
		ns.Add(configs.NEWIPC, "")
	}
	if !meta.HostPID {
		ns.Add(configs.NEWPID, "")
	}
	cfg := &configs.Config{
		Rootfs:          rootfs,
		Readonlyfs:      true,
		Hostname:        hostname,
		RootPropagation: rprivate,
		Namespaces:      ns,
		Networks:        networks,
		Mounts: []*configs.Mount{
			// libcontainer's init reads /proc (capabilities, masked paths)
			// after pivot_root.
			{Source: "proc", Destination: "/proc", Device: "proc", Flags: nosuidNoexecNodev},
			{
				Source: m.cfg.PauseBinary, Destination: "/pause", Device: "bind",
				Flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV,
			},
		},
		Devices:         createdDevices(),
		Capabilities:    &configs.Capabilities{},
		NoNewPrivileges: true,
		MaskPaths:       maskedPaths,
		ReadonlyPaths:   readonlyPaths,
		Cgroups: &cgroups.Cgroup{
			Path:      m.containerCgroupPath(id, pauseID),
			Resources: &cgroups.Resources{Devices: deviceRules()},
		},
	}
	if u := meta.UserNamespace; u != nil {
		cfg.Namespaces.Add(configs.NEWUSER, "")
		cfg.UIDMappings, cfg.GIDMappings = u.uidMappings(), u.gidMappings()
	}
	return cfg
}

// shmSource is what a container gets as /dev/shm: the pod's tmpfs, or
// with HostIPC the node's /dev/shm, as containerd does (POSIX shared
// memory lives there, System V's in the IPC namespace).
func (s *Sandbox) shmSource() string {
	if s.meta.HostIPC {
		return "/dev/shm"
	}
	return shmDir(s.dir)
}

// containerConfig describes an app container of the sandbox whose pause is
// pausePid: overlay root, the pod's network/UTS/IPC (and PID when shared)
// namespaces joined by path, its own mount (and PID) namespace, the usual
// kernel file systems, the pod's /dev/shm, the volumes, masked and
// read-only paths, its leaf cgroup with the limits, and what its security
// context asks for (see applySecurity).
func (s *Sandbox) containerConfig(spec ContainerSpec, rootfs string, pausePid int) (*configs.Config, error) {
	// A namespace the pod shares with the host is left out: the container
	// stays in the agent's, as the pause did.
	ns := configs.Namespaces{}
	ns.Add(configs.NEWNS, "")
	switch {
	case s.meta.HostPID:
	case s.meta.SharePID:
		ns.Add(configs.NEWPID, nsPath(pausePid, "pid"))
	default:
		ns.Add(configs.NEWPID, "")
	}
	if !s.meta.HostNetwork {
		ns.Add(configs.NEWNET, nsPath(pausePid, "net"))
		// Joined, with Hostname left empty: setting it would overwrite the
		// pod's hostname for every container.
		ns.Add(configs.NEWUTS, nsPath(pausePid, "uts"))
	}
	if !s.meta.HostIPC {
		ns.Add(configs.NEWIPC, nsPath(pausePid, "ipc"))
	}
	userns := s.meta.UserNamespace
	if userns != nil {
		// Joined first (libcontainer's nsexec does), so the container's
		// own mount, PID and cgroup namespaces belong to the pod's user
		// namespace. The mappings are the ones the pause's has; given,
		// as runc's specconv gives them, for the IDs libcontainer chowns.
		ns.Add(configs.NEWUSER, nsPath(pausePid, "user"))
	}
	if cgroups.IsCgroup2UnifiedMode() {
		// As runc's default on v2 hosts: the container sees its own cgroup
		// as the root.
		ns.Add(configs.NEWCGROUP, "")
	}

	mounts := []*configs.Mount{
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: nosuidNoexecNodev},
		{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
		{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{Source: s.shmSource(), Destination: "/dev/shm", Device: "bind", Flags: unix.MS_BIND | unix.MS_REC | nosuidNoexecNodev},
		{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: nosuidNoexecNodev},
		{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: nosuidNoexecNodev | unix.MS_RDONLY},
	}
	for _, v := range spec.Mounts {
		flags := unix.MS_BIND | unix.MS_REC
		if v.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		m := &configs.Mount{
			Source: v.Source, Destination: v.Destination, Device: "bind", Flags: flags,
			PropagationFlags: []int{rprivate},
		}
		if userns != nil && v.IDMapped {
			m = userns.idmapped(m)
		}
		mounts = append(mounts, m)
	}
	cfg := &configs.Config{
		Rootfs:          rootfs,
		RootPropagation: rprivate,
		Namespaces:      ns,
		Mounts:          mounts,
		Devices:         createdDevices(),
		MaskPaths:       maskedPaths,
		ReadonlyPaths:   readonlyPaths,
		Cgroups: &cgroups.Cgroup{
			Path:      s.m.containerCgroupPath(s.id, spec.Name),
			Resources: resources(spec),
		},
	}
	if userns != nil {
		cfg.UIDMappings, cfg.GIDMappings = userns.uidMappings(), userns.gidMappings()
	}
	if err := applySecurity(cfg, spec); err != nil {
		return nil, err
	}
	return cfg, nil
}
