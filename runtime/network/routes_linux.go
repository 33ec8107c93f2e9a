package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/gossipod/gossipod/internal/netlinkutil"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fenceMetric is the metric of the unreachable route SyncRoutes installs for the whole
// cluster CIDR. Every real route (the bridge's, the host-gw ones) is more specific, so
// the fence only catches pod addresses no node owns (yet), which would otherwise
// follow the default route off the node.
const fenceMetric = 65520

// SyncRoutes makes the node's host-gw routes exactly routes: for each entry, a kernel
// route "PodCIDR via NodeIP" (protocol RouteProtocol, main table), and no other route
// of that protocol, except one "unreachable ClusterCIDR" route of a high metric that
// keeps unowned pod addresses from leaving through the default route. Routes of other
// protocols are never touched; a PodCIDR already routed by one of them is reported and
// skipped. Entries for this node — its own pod CIDR, or a NodeIP that is one of its
// addresses — are ignored, so the caller may pass every node, even before SetPodCIDR.
//
// It also enables net.ipv4.ip_forward and ensures the forwarding rules: MasqChain in
// the nat table (pods to outside the cluster CIDR are masqueraded; needs SetPodCIDR)
// and ForwardChain in the filter table (forwarded cluster traffic is accepted; bridged
// pod traffic passes FORWARD too when net.bridge.bridge-nf-call-iptables is 1).
//
// All entries are validated first: one malformed entry (ErrInvalidRoute) changes
// nothing. Otherwise every route is attempted, and the errors of those that failed
// (e.g. a NodeIP not on a connected subnet) are returned together. Idempotent: call it
// on every change of the node list and periodically.
func (m *Manager) SyncRoutes(routes []Route) error {
	m.mu.RLock()
	closed, own := m.closed, m.podCIDR
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	local, err := localAddrs()
	if err != nil {
		return err
	}
	want, err := m.desiredRoutes(routes, own, local)
	if err != nil {
		return err
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	var errs []error
	if err := enableForwarding(); err != nil {
		errs = append(errs, err)
	}
	if err := m.syncRulesLocked(own); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, m.syncKernelRoutes(want)...)
	return errors.Join(errs...)
}

// desiredRoutes validates routes and returns the kernel routes they stand for, the
// fence included.
func (m *Manager) desiredRoutes(routes []Route, own netip.Prefix, local map[netip.Addr]bool) ([]*netlink.Route, error) {
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: routes[%d]: "+format, append([]any{ErrInvalidRoute, i}, args...)...))
	}
	byDst := map[netip.Prefix]int{}
	var out []*netlink.Route
	for i, r := range routes {
		dst, err := parseCIDR(r.PodCIDR, 32)
		if err != nil {
			bad(i, "PodCIDR: %v", err)
			continue
		}
		if !prefixContains(m.cluster, dst) {
			bad(i, "PodCIDR %s is not inside the cluster CIDR %s", dst, m.cluster)
			continue
		}
		gw, err := netip.ParseAddr(r.NodeIP)
		if err != nil || !gw.Is4() {
			bad(i, "NodeIP %q is not an IPv4 address", r.NodeIP)
			continue
		}
		if m.cluster.Contains(gw) {
			bad(i, "NodeIP %s is inside the cluster CIDR %s: a node address cannot be a pod address", gw, m.cluster)
			continue
		}
		if dst == own || local[gw] {
			continue
		}
		if j, dup := byDst[dst]; dup {
			bad(i, "PodCIDR %s is also routes[%d]'s", dst, j)
			continue
		}
		byDst[dst] = i
		out = append(out, &netlink.Route{
			Dst:      prefixToIPNet(dst),
			Gw:       net.IP(gw.AsSlice()),
			Type:     unix.RTN_UNICAST, // as the kernel lists it, so unchanged routes compare equal
			Protocol: RouteProtocol,
			Table:    unix.RT_TABLE_MAIN,
			Scope:    netlink.SCOPE_UNIVERSE,
		})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out = append(out, &netlink.Route{
		Dst:      prefixToIPNet(m.cluster),
		Type:     unix.RTN_UNREACHABLE,
		Priority: fenceMetric,
		Protocol: RouteProtocol,
		Table:    unix.RT_TABLE_MAIN,
	})
	return out, nil
}

// linkByName is netlink.LinkByName, retried if it fell back to a dump (kernels without
// lookup by name) that was interrupted.
func linkByName(name string) (netlink.Link, error) {
	return netlinkutil.Retry(func() (netlink.Link, error) { return netlink.LinkByName(name) })
}

// localAddrs returns the IPv4 addresses of this node (of the calling thread's
// namespace).
func localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := netlinkutil.Retry(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list local addresses: %w", err)
	}
	local := map[netip.Addr]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok {
			local[ip] = true
		}
	}
	return local, nil
}

// syncKernelRoutes adds or replaces want and deletes the other routes of RouteProtocol
// in the main table. Returns one error per failed route.
func (m *Manager) syncKernelRoutes(want []*netlink.Route) []error {
	have, err := netlinkutil.Retry(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4,
			&netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return []error{fmt.Errorf("list gossipod routes: %w", err)}
	}
	haveByKey := map[string]netlink.Route{}
	for _, r := range have {
		haveByKey[routeKey(&r)] = r
	}
	var errs []error
	wantKeys := map[string]bool{}
	for _, r := range want {
		key := routeKey(r)
		wantKeys[key] = true
		if h, ok := haveByKey[key]; ok && h.Gw.Equal(r.Gw) && h.Type == r.Type {
			continue
		} else if !ok {
			if owner, err := foreignRoute(r); err != nil {
				errs = append(errs, err)
				continue
			} else if owner != "" {
				errs = append(errs, fmt.Errorf("route to %s: left alone: the kernel already has %s, not installed by gossipod", r.Dst, owner))
				continue
			}
		}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", describeRoute(r), err))
			continue
		}
		m.log.Info("route installed", "route", describeRoute(r))
	}
	for key, r := range haveByKey {
		if wantKeys[key] {
			continue
		}
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", describeRoute(&r), err))
			continue
		}
		m.log.Info("route removed", "route", describeRoute(&r))
	}
	return errs
}

// foreignRoute describes a route of another protocol that has r's destination and
// metric in the main table (and so would be overwritten by RouteReplace), or "".
func foreignRoute(r *netlink.Route) (string, error) {
	rs, err := netlinkutil.Retry(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_V4,
			&netlink.Route{Dst: r.Dst, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return "", fmt.Errorf("look up routes to %s: %w", r.Dst, err)
	}
	for _, x := range rs {
		if x.Protocol != RouteProtocol && x.Priority == r.Priority {
			return describeRoute(&x), nil
		}
	}
	return "", nil
}

// routeKey identifies a route the way the kernel does for replacement in one table:
// destination and metric.
func routeKey(r *netlink.Route) string {
	return fmt.Sprintf("%v/%d", r.Dst, r.Priority)
}

func describeRoute(r *netlink.Route) string {
	var b strings.Builder
	if r.Type == unix.RTN_UNREACHABLE {
		b.WriteString("unreachable ")
	}
	fmt.Fprintf(&b, "%v", r.Dst)
	if r.Gw != nil {
		fmt.Fprintf(&b, " via %v", r.Gw)
	}
	if r.Priority != 0 {
		fmt.Fprintf(&b, " metric %d", r.Priority)
	}
	fmt.Fprintf(&b, " proto %d", r.Protocol)
	return b.String()
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ipForwardPath is the calling thread's namespace's IPv4 forwarding switch: /proc/sys/net
// shows the namespace of the thread that opens it.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableForwarding turns on IPv4 forwarding, without which the node routes no pod
// traffic between its bridge and its uplink.
func enableForwarding() error {
	if b, err := os.ReadFile(ipForwardPath); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable net.ipv4.ip_forward: %w", err)
	}
	return nil
}
