package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/vishvananda/netlink"
)

// cniVersion is the CNI spec version of the generated configurations: the newest that
// Debian 12's plugins (1.1.1) implement.
const cniVersion = "1.0.0"

// SetPodCIDR gives the node its pod CIDR (e.g. "10.88.3.0/24", allocated by the leader
// from the cluster CIDR): the bridge gets its first address, the pods' gateway, and
// host-local hands out the rest. The CIDR is persisted under Root.
//
// Calling it again with the same CIDR — after a restart, or on every state change —
// changes nothing but re-ensures the masquerade rules. A different CIDR is refused
// with ErrPodCIDRInUse while any sandbox is attached (or recorded as needing
// Teardown); with none, the old bridge and leases are removed and the new CIDR used.
func (m *Manager) SetPodCIDR(cidr string) error {
	p, err := parseCIDR(cidr, 30)
	if err != nil {
		return fmt.Errorf("%w: pod CIDR: %v", ErrInvalidConfig, err)
	}
	if !prefixContains(m.cluster, p) {
		return fmt.Errorf("%w: pod CIDR %s is not inside the cluster CIDR %s", ErrInvalidConfig, p, m.cluster)
	}
	if err := m.setPodCIDR(p); err != nil {
		return err
	}
	return m.syncRules()
}

func (m *Manager) setPodCIDR(p netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.podCIDR == p {
		return nil
	}
	if old := m.podCIDR; old.IsValid() {
		ids, err := m.sandboxIDs()
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			return fmt.Errorf("%w: node has %s, asked for %s, %d sandbox(es) attached (first %q): tear them down first",
				ErrPodCIDRInUse, old, p, len(ids), ids[0])
		}
		if err := m.resetBridge(old); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(m.podCIDRFile(), []byte(p.String()+"\n")); err != nil {
		return fmt.Errorf("persist pod CIDR: %w", err)
	}
	if err := m.usePodCIDR(p); err != nil {
		return err
	}
	m.log.Info("pod CIDR set", "podCIDR", p, "gateway", p.Addr().Next())
	return nil
}

// resetBridge removes the bridge (it carries the old gateway address, which the bridge
// plugin would refuse to replace) and host-local's leases of the old range. Only
// called with no sandbox attached.
func (m *Manager) resetBridge(old netip.Prefix) error {
	link, err := linkByName(m.cfg.BridgeName)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return fmt.Errorf("look up bridge %s: %w", m.cfg.BridgeName, err)
	default:
		if err := netlink.LinkDel(link); err != nil {
			return fmt.Errorf("delete bridge %s of old pod CIDR %s: %w", m.cfg.BridgeName, old, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(m.ipamDir(), NetworkName)); err != nil {
		return fmt.Errorf("remove leases of old pod CIDR %s: %w", old, err)
	}
	return nil
}

// loadPodCIDR reads the pod CIDR persisted by SetPodCIDR; the zero Prefix if none.
func (m *Manager) loadPodCIDR() (netip.Prefix, error) {
	b, err := os.ReadFile(m.podCIDRFile())
	if errors.Is(err, os.ErrNotExist) {
		return netip.Prefix{}, nil
	}
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("read persisted pod CIDR: %w", err)
	}
	p, err := parseCIDR(strings.TrimSpace(string(b)), 30)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("persisted pod CIDR in %s: %w", m.podCIDRFile(), err)
	}
	return p, nil
}

// usePodCIDR builds the pods' conflists for p and writes a copy of the full one under
// Root for people debugging. Called with mu held for writing (or before m is shared).
func (m *Manager) usePodCIDR(p netip.Prefix) error {
	lists := make([]*libcni.NetworkConfigList, 2)
	for i, withPorts := range []bool{true, false} {
		b, err := podConfList(m.cfg, p, m.ipamDir(), withPorts)
		if err != nil {
			return err
		}
		if lists[i], err = libcni.ConfListFromBytes(b); err != nil {
			return fmt.Errorf("generated CNI configuration is invalid: %w", err)
		}
	}
	if err := writeFileAtomic(m.confListFile(), lists[0].Bytes); err != nil {
		return fmt.Errorf("write %s: %w", m.confListFile(), err)
	}
	m.podCIDR, m.podList, m.podListNoPorts = p, lists[0], lists[1]
	return nil
}

// podConfList is the pods' CNI network: the bridge plugin with host-local IPAM over the
// pod CIDR (gateway = first address, on the bridge), then, withPorts, portmap for
// hostPorts. Pods without hostPorts get the list without portmap: its DEL runs
// iptables even when it has nothing to remove (~3 ms, and ~100 ms with a mapping, on
// a 2-vCPU machine), and each pod is torn down with the very list it was set up with.
// ipMasq is off because the Manager masquerades by cluster CIDR itself (MasqChain):
// the bridge plugin's rule would also masquerade pod-to-pod traffic to other nodes.
func podConfList(cfg Config, podCIDR netip.Prefix, ipamDir string, withPorts bool) ([]byte, error) {
	bridge := map[string]any{
		"type":             "bridge",
		"bridge":           cfg.BridgeName,
		"isGateway":        true,
		"isDefaultGateway": true,
		"ipMasq":           false,
		"hairpinMode":      true, // a pod reaches itself through its own hostPort
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": ipamDir,
			"ranges": [][]map[string]string{{{
				"subnet":  podCIDR.String(),
				"gateway": podCIDR.Addr().Next().String(),
			}}},
		},
	}
	if cfg.MTU != 0 {
		bridge["mtu"] = cfg.MTU
	}
	plugins := []any{bridge}
	if withPorts {
		plugins = append(plugins, map[string]any{
			"type":         "portmap",
			"capabilities": map[string]bool{"portMappings": true},
			"snat":         true,
		})
	}
	return json.MarshalIndent(map[string]any{
		"cniVersion": cniVersion,
		"name":       NetworkName,
		"plugins":    plugins,
	}, "", "  ")
}

// loopbackConfList brings up lo in the pod. It is a network of its own, attached with
// the interface name "lo", as CRI runtimes do, because a conflist configures one
// interface.
func loopbackConfList() *libcni.NetworkConfigList {
	list, err := libcni.ConfListFromBytes([]byte(`{"cniVersion":"` + cniVersion + `","name":"` +
		LoopbackNetworkName + `","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		panic("loopback conflist: " + err.Error()) // a constant: cannot fail
	}
	return list
}

// writeFileAtomic replaces path with data, so a crash leaves the old or the new file
// (and perhaps a temporary file, which removeStaleTemps removes at the next start).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// tempPrefix is the name pattern of writeFileAtomic's temporary files for path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp*" }

// isTempName reports whether name is one of writeFileAtomic's temporary files.
func isTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")
}

// removeStaleTemps removes the temporary files writeFileAtomic left in dir when the
// agent was killed between creating and renaming them; the caller holds Root's lock.
func removeStaleTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isTempName(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove a stale temporary file: %w", err)
			}
		}
	}
	return nil
}

// Gateway is the pods' gateway, the first address of the node's pod CIDR,
// which the bridge carries once the first pod is attached; false before
// SetPodCIDR. The node's cluster DNS server listens there, so that every
// pod reaches the DNS of its own node, as NodeLocal DNSCache does.
func (m *Manager) Gateway() (netip.Addr, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.podCIDR.IsValid() {
		return netip.Addr{}, false
	}
	return m.podCIDR.Addr().Next(), true
}
