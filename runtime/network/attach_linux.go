package network

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// cleanupTimeout bounds the DEL that undoes a failed Setup, which runs on its own
// context so that a cancelled caller cannot leave a half-attached pod behind.
const cleanupTimeout = 30 * time.Second

// Setup attaches the pod's network namespace (pod.NetNSPath, which must exist) to the
// node's pod network and returns its address: CNI ADD of lo (loopback plugin), then of
// eth0 (bridge + host-local + portmap for pod.HostPorts). It needs SetPodCIDR first
// (ErrNoPodCIDR otherwise).
//
// Setup is idempotent for a sandbox: called again with the same id and namespace (for
// example for a pod adopted after an agent restart) it returns the recorded result and
// changes nothing. With the same id but another namespace, the old attachment is torn
// down first. If any step fails, what was attached is detached before Setup returns;
// if even that fails, the id stays in Sandboxes for a later Teardown.
func (m *Manager) Setup(ctx context.Context, pod PodNetwork) (Result, error) {
	ports, err := validatePod(pod)
	if err != nil {
		return Result{}, err
	}
	if pod.NetNSPath == "" {
		return Result{}, fmt.Errorf("%w: sandbox %q: NetNSPath is required", ErrInvalidPod, pod.ID)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Result{}, ErrClosed
	}
	if m.podList == nil {
		return Result{}, fmt.Errorf("set up network for sandbox %q: %w", pod.ID, ErrNoPodCIDR)
	}
	defer m.pods.lock(pod.ID)()

	nsID, err := netnsIdentity(pod.NetNSPath)
	if err != nil {
		return Result{}, fmt.Errorf("%w: sandbox %q: %v", ErrInvalidPod, pod.ID, err)
	}
	if self, err := ownNetNS(); err != nil {
		return Result{}, fmt.Errorf("identify own network namespace: %w", err)
	} else if self == nsID {
		return Result{}, fmt.Errorf("set up network for sandbox %q: %s: %w", pod.ID, pod.NetNSPath, ErrHostNetNS)
	}

	old, err := m.readRecord(pod.ID)
	if err != nil {
		return Result{}, err
	}
	if old != nil {
		if old.NetNS == nsID {
			if res, ok := m.cachedResult(old); ok {
				return res, nil
			}
		}
		m.log.Info("sandbox was attached before; detaching the old attachment first", "sandbox", pod.ID)
		if err := m.teardown(ctx, pod.ID, old, ""); err != nil {
			return Result{}, fmt.Errorf("set up network for sandbox %q: detach earlier attachment: %w", pod.ID, err)
		}
	}

	list := m.podList
	if len(ports) == 0 {
		list = m.podListNoPorts
	}
	rec := &sandboxRecord{
		ID: pod.ID, Namespace: pod.Namespace, Name: pod.Name,
		NetNSPath: pod.NetNSPath, NetNS: nsID, HostPorts: ports,
		ConfList: list.Bytes,
	}
	if err := m.writeRecord(rec); err != nil {
		return Result{}, err
	}
	res, err := m.add(ctx, rec)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := m.teardown(cctx, pod.ID, rec, ""); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", derr))
		}
		return Result{}, fmt.Errorf("set up network for sandbox %q: %w", pod.ID, err)
	}
	m.log.Debug("sandbox attached", "sandbox", pod.ID, "pod", pod.Namespace+"/"+pod.Name, "ip", res.IP)
	return res, nil
}

// add runs the two CNI ADDs of Setup.
func (m *Manager) add(ctx context.Context, rec *sandboxRecord) (Result, error) {
	m.cniMu.Lock()
	defer m.cniMu.Unlock()
	// Step 1: lo up, so that the pod's containers can talk to each other on 127.0.0.1.
	if _, err := m.cni.AddNetworkList(ctx, loopbackConfList(), m.runtimeConf(rec, rec.NetNSPath, "lo")); err != nil {
		return Result{}, fmt.Errorf("loopback: %w", err)
	}
	// Step 2: eth0 on the bridge, its address, its hostPorts.
	list, err := libcni.ConfListFromBytes(rec.ConfList)
	if err != nil {
		return Result{}, fmt.Errorf("CNI configuration: %w", err)
	}
	r, err := m.cni.AddNetworkList(ctx, list, m.runtimeConf(rec, rec.NetNSPath, PodInterface))
	if err != nil {
		return Result{}, err
	}
	return toResult(r)
}

// Teardown detaches the pod: CNI DEL of eth0 (portmap's rules, the veth, the address
// lease) and of lo, then forgets the sandbox. Only pod.ID is needed; the rest is taken
// from what Setup recorded. It works whether or not the namespace still exists: when
// it is gone (or pod.NetNSPath now names another namespace, as after pid reuse) the
// plugins are given no namespace, so they release the lease and the rules without
// entering it, and a host-side veth that outlived it is deleted here. Tearing down an
// unknown or already detached id succeeds (idempotent).
func (m *Manager) Teardown(ctx context.Context, pod PodNetwork) error {
	if err := validateID(pod.ID); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	defer m.pods.lock(pod.ID)()
	rec, err := m.readRecord(pod.ID)
	if err != nil {
		return err
	}
	if err := m.teardown(ctx, pod.ID, rec, pod.NetNSPath); err != nil {
		return fmt.Errorf("tear down network of sandbox %q: %w", pod.ID, err)
	}
	return nil
}

// teardown implements Teardown for id, whose record rec may be nil; netnsPath is the
// caller's idea of the namespace ("" for none). The caller holds mu and id's lock.
func (m *Manager) teardown(ctx context.Context, id string, rec *sandboxRecord, netnsPath string) error {
	if rec == nil {
		rec = &sandboxRecord{ID: id}
	}
	list, rt, err := m.delConfig(rec)
	if err != nil {
		return err
	}
	if list == nil {
		// Never attached as far as anything on disk says: nothing to release.
		return m.removeRecord(id)
	}
	rt.NetNS = m.liveNetNS(rec, netnsPath, rt.NetNS)
	// The host end of the veth, in case the namespace is gone but the veth is not.
	hostVeths := m.hostVeths(list, rt)

	if err := m.del(ctx, list, rt); err != nil {
		return err
	}
	if rt.NetNS == "" {
		if err := m.deleteVeths(hostVeths); err != nil {
			return err
		}
	}
	return m.removeRecord(id)
}

// del runs the two CNI DELs of Teardown, in the reverse order of add.
func (m *Manager) del(ctx context.Context, list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) error {
	m.cniMu.Lock()
	defer m.cniMu.Unlock()
	if err := m.cni.DelNetworkList(ctx, list, rt); err != nil {
		return err
	}
	lo := *rt
	lo.IfName = "lo"
	if err := m.cni.DelNetworkList(ctx, loopbackConfList(), &lo); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return nil
}

// delConfig picks the configuration and runtime arguments for DEL: those the ADD used
// (the record's, else libcni's cache), else the current ones. A nil list means nothing
// is known to release.
func (m *Manager) delConfig(rec *sandboxRecord) (*libcni.NetworkConfigList, *libcni.RuntimeConf, error) {
	rt := m.runtimeConf(rec, rec.NetNSPath, PodInterface)
	if len(rec.ConfList) > 0 {
		list, err := libcni.ConfListFromBytes(rec.ConfList)
		if err != nil {
			return nil, nil, fmt.Errorf("recorded CNI configuration: %w", err)
		}
		return list, rt, nil
	}
	probe := &libcni.NetworkConfigList{Name: NetworkName}
	if b, cached, err := m.cni.GetNetworkListCachedConfig(probe, rt); err == nil && len(b) > 0 {
		if list, err := libcni.ConfListFromBytes(b); err == nil {
			return list, cached, nil
		}
	}
	if m.podList != nil && m.leased()[rec.ID] {
		// No record and no cache, yet host-local holds an address for the id (say the
		// record was lost): a DEL with the current configuration releases it.
		return m.podList, rt, nil
	}
	return nil, nil, nil
}

// liveNetNS returns the namespace path to give the plugins on DEL, or "" if the
// sandbox's namespace no longer exists. A path qualifies only if it names a network
// namespace that is not the Manager's own and, when Setup recorded one, the very
// namespace Setup attached: a reused pid must not make the plugins delete eth0 in
// someone else's namespace.
func (m *Manager) liveNetNS(rec *sandboxRecord, candidates ...string) string {
	self, err := ownNetNS()
	if err != nil {
		return ""
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		id, err := netnsIdentity(p)
		if err != nil || id == self {
			continue
		}
		if rec.NetNS != (nsIdentity{}) && id != rec.NetNS {
			continue
		}
		return p
	}
	return ""
}

// runtimeConf is the CNI runtime configuration of rec's interface ifName.
func (m *Manager) runtimeConf(rec *sandboxRecord, netnsPath, ifName string) *libcni.RuntimeConf {
	maps := make([]map[string]any, 0, len(rec.HostPorts))
	for _, p := range rec.HostPorts {
		maps = append(maps, map[string]any{
			"hostPort": p.HostPort, "containerPort": p.ContainerPort, "protocol": p.Protocol,
		})
	}
	return &libcni.RuntimeConf{
		ContainerID: rec.ID,
		NetNS:       netnsPath,
		IfName:      ifName,
		Args: [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", rec.Namespace},
			{"K8S_POD_NAME", rec.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", rec.ID},
		},
		CapabilityArgs: map[string]any{"portMappings": maps},
	}
}

// cachedResult is the Result of rec's earlier ADD, from libcni's cache.
func (m *Manager) cachedResult(rec *sandboxRecord) (Result, bool) {
	list, err := libcni.ConfListFromBytes(rec.ConfList)
	if err != nil {
		return Result{}, false
	}
	r, err := m.cni.GetNetworkListCachedResult(list, m.runtimeConf(rec, rec.NetNSPath, PodInterface))
	if err != nil || r == nil {
		return Result{}, false
	}
	res, err := toResult(r)
	return res, err == nil
}

// hostVeths names the host-side interfaces in rt's cached result: the veths the
// bridge plugin created (every interface outside the sandbox but the bridge).
func (m *Manager) hostVeths(list *libcni.NetworkConfigList, rt *libcni.RuntimeConf) []string {
	r, err := m.cni.GetNetworkListCachedResult(list, rt)
	if err != nil || r == nil {
		return nil
	}
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return nil
	}
	var names []string
	for _, iface := range res.Interfaces {
		if iface.Sandbox == "" && iface.Name != m.cfg.BridgeName {
			names = append(names, iface.Name)
		}
	}
	return names
}

// deleteVeths deletes the named veths that still exist and are ports of the bridge.
// (A veth normally dies with its namespace; it outlives it only if something else
// kept the namespace alive after its path went away.)
func (m *Manager) deleteVeths(names []string) error {
	for _, name := range names {
		link, err := linkByName(name)
		if err != nil {
			continue // gone, as it should be
		}
		if _, ok := link.(*netlink.Veth); !ok {
			continue
		}
		br, err := linkByName(m.cfg.BridgeName)
		if err != nil || link.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		// The kernel destroys the veth of a dying namespace asynchronously: it may
		// vanish between the lookup and the delete.
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete veth %s: %w", name, err)
		}
		m.log.Info("deleted a veth that outlived its pod's namespace", "veth", name)
	}
	return nil
}

// toResult extracts the pod's IPv4 address from a CNI result.
func toResult(r types.Result) (Result, error) {
	res, err := types100.NewResultFromResult(r)
	if err != nil {
		return Result{}, fmt.Errorf("CNI result: %w", err)
	}
	for _, ip := range res.IPs {
		if ip.Address.IP.To4() == nil {
			continue
		}
		out := Result{IP: ip.Address.IP.To4(), Gateway: ip.Gateway, Interface: PodInterface}
		if ip.Interface != nil && *ip.Interface >= 0 && *ip.Interface < len(res.Interfaces) {
			out.Interface = res.Interfaces[*ip.Interface].Name
		}
		return out, nil
	}
	return Result{}, errors.New("CNI result has no IPv4 address")
}

// validatePod checks pod's id and hostPorts and returns the hostPorts normalized
// (protocol lower case, "tcp" by default).
func validatePod(pod PodNetwork) ([]PortMapping, error) {
	if err := validateID(pod.ID); err != nil {
		return nil, err
	}
	var ports []PortMapping
	seen := map[string]bool{}
	for i, p := range pod.HostPorts {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: sandbox %q: hostPorts[%d]: "+format, append([]any{ErrInvalidPod, pod.ID, i}, args...)...)
		}
		switch {
		case proto != "tcp" && proto != "udp":
			return nil, bad("protocol %q: want tcp or udp", p.Protocol)
		case p.HostPort < 1 || p.HostPort > 65535:
			return nil, bad("hostPort %d is out of range 1..65535", p.HostPort)
		case p.ContainerPort < 1 || p.ContainerPort > 65535:
			return nil, bad("containerPort %d is out of range 1..65535", p.ContainerPort)
		}
		key := fmt.Sprintf("%s/%d", proto, p.HostPort)
		if seen[key] {
			return nil, bad("hostPort %s is given twice", key)
		}
		seen[key] = true
		ports = append(ports, PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto})
	}
	return ports, nil
}
