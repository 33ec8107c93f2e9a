package serviceproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/gossipod/gossipod/internal/netlinkutil"
	mdnetlink "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// socketBuffer is the netlink socket's send and receive buffer. A
// transaction is one sendmsg, so the send buffer must hold the whole batch
// of a full sync, and the kernel queues one acknowledgement per message
// before we read any, so the receive buffer must hold them all. 256 MiB is a
// limit, not an allocation; it covers 10,000 endpoints with room to spare.
const socketBuffer = 256 << 20

// Proxier programs one node's service data plane. Its methods are safe for
// concurrent use; Syncs are serialized.
type Proxier struct {
	cfg    Config
	log    *slog.Logger
	static static

	mu   sync.Mutex
	ns   netns.NsHandle // -1 when cfg.NetNS is ""
	nft  *nftables.Conn
	ct   *netlink.Handle
	last *desired // what the table holds; nil: the next Sync rebuilds it
	// rebuilds counts the Syncs that rebuilt the whole table (tests check
	// that the others were incremental).
	rebuilds int
}

// New checks cfg and opens the netlink sockets, but changes nothing in the
// kernel: the first Sync builds the table. cfg is copied, never changed.
func New(cfg Config) (*Proxier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Proxier{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), static: staticRules(&cfg), ns: -1}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	opts := []nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}
	var err error
	if cfg.NetNS != "" {
		if p.ns, err = netns.GetFromPath(cfg.NetNS); err != nil {
			return nil, fmt.Errorf("serviceproxy: network namespace %s: %w", cfg.NetNS, err)
		}
		opts = append(opts, nftables.WithNetNSFd(int(p.ns)))
		p.ct, err = netlink.NewHandleAt(p.ns, unix.NETLINK_NETFILTER)
	} else {
		p.ct, err = netlink.NewHandle(unix.NETLINK_NETFILTER)
	}
	if err != nil {
		return nil, fmt.Errorf("serviceproxy: conntrack netlink: %w", err)
	}
	if p.nft, err = nftables.New(opts...); err != nil {
		return nil, fmt.Errorf("serviceproxy: nftables netlink: %w", err)
	}
	// Fail now, not at the first Sync, if nftables is missing or not allowed.
	if _, err := p.nft.ListTablesOfFamily(nftables.TableFamilyIPv4); err != nil {
		return nil, fmt.Errorf("serviceproxy: list nftables tables: %w", err)
	}
	ok = true
	return p, nil
}

// bigBuffers raises the netlink socket's buffers past the sysctl limits
// (SO_*BUFFORCE needs CAP_NET_ADMIN, which nftables needs anyway).
func bigBuffers(c *mdnetlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer)
	})
	return errors.Join(err, serr)
}

func (p *Proxier) table() *nftables.Table {
	return &nftables.Table{Name: p.cfg.Table, Family: nftables.TableFamilyIPv4}
}

// Sync makes the table match services and slices. It changes only what
// differs from the last successful Sync, in one transaction; the first Sync
// (and the one after a failure) rebuilds the whole table instead, also in
// one transaction. Then it deletes the conntrack entries of UDP endpoints
// that went away, so that their clients move on instead of sending into a
// void until the entry times out.
func (p *Proxier) Sync(ctx context.Context, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ports, skipped := servicePorts(p.cfg.NodeName, services, slices)
	for svc, why := range skipped {
		p.log.Debug("service not proxied", "service", svc, "reason", why)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nft == nil {
		return ErrClosed
	}
	old := p.last
	next := compute(&p.cfg, old, ports)
	if old != nil {
		err := p.apply(old, next, false)
		if err == nil {
			p.last = next
			p.clearConntrack(old, next)
			return nil
		}
		p.log.Warn("incremental sync failed; rebuilding the table", "error", err)
	}
	p.last = nil
	if err := p.apply(&desired{}, next, true); err != nil {
		return fmt.Errorf("serviceproxy: sync: %w", err)
	}
	p.rebuilds++
	p.last = next
	if old != nil {
		p.clearConntrack(old, next)
	}
	return nil
}

// apply sends one transaction: the plan from old to next, preceded, when
// full, by recreating the table with its fixed part.
func (p *Proxier) apply(old, next *desired, full bool) error {
	pl := diff(old, next)
	if !full && pl.empty() {
		return nil
	}
	w := &writer{conn: p.nft, table: p.table()}
	if full {
		// Add first, so that the delete cannot fail on a missing table.
		p.nft.AddTable(w.table)
		p.nft.DelTable(w.table)
		p.nft.AddTable(w.table)
		if err := w.writeStatic(p.static); err != nil {
			return err
		}
	}
	if err := w.writePlan(pl); err != nil {
		return err
	}
	if err := p.nft.Flush(); err != nil {
		return err
	}
	p.log.Debug("nftables updated", "full", full,
		"chains_added", len(pl.addChains), "chains_rewritten", len(pl.flushChains)-len(pl.delChains),
		"chains_deleted", len(pl.delChains), "elements_added", len(pl.addElements), "elements_deleted", len(pl.delElements))
	return nil
}

// conntrackAttempts bounds the dumps of one clearConntrack (see there).
const conntrackAttempts = 3

// clearConntrack deletes, as kube-proxy does, the conntrack entries that
// would keep sending UDP to an endpoint that is gone (a UDP "connection"
// never ends by itself): those of each removed endpoint, through the cluster
// IP and through the node port. And for a UDP port that had no endpoint and
// now has one, the entries to its cluster IP, which may hold traffic that
// was rejected. TCP needs nothing: a removed endpoint resets.
func (p *Proxier) clearConntrack(old, next *desired) {
	var filters []netlink.CustomConntrackFilter
	add := func(f *netlink.ConntrackFilter, err error) {
		if err != nil {
			p.log.Warn("conntrack filter", "error", err)
			return
		}
		filters = append(filters, f)
	}
	for name, of := range old.frags {
		if of.in.proto != UDP {
			continue
		}
		nf := next.frags[name]
		if nf == of {
			continue
		}
		keep := map[endpoint]bool{}
		if nf != nil {
			for _, e := range nf.served {
				keep[endpoint{addr: e.addr, port: e.port}] = true
			}
			if len(of.served) == 0 && len(nf.served) > 0 {
				add(udpFilter(func(f *netlink.ConntrackFilter) error {
					if err := f.AddIP(netlink.ConntrackOrigDstIP, net.IP(of.in.clusterIP.AsSlice())); err != nil {
						return err
					}
					return f.AddPort(netlink.ConntrackOrigDstPort, of.in.port)
				}))
			}
		}
		for _, e := range of.served {
			if keep[endpoint{addr: e.addr, port: e.port}] {
				continue
			}
			ep := net.IP(e.addr.AsSlice())
			add(udpFilter(func(f *netlink.ConntrackFilter) error {
				if err := f.AddIP(netlink.ConntrackOrigDstIP, net.IP(of.in.clusterIP.AsSlice())); err != nil {
					return err
				}
				return f.AddIP(netlink.ConntrackReplySrcIP, ep)
			}))
			if of.in.nodePort != 0 {
				add(udpFilter(func(f *netlink.ConntrackFilter) error {
					if err := f.AddPort(netlink.ConntrackOrigDstPort, of.in.nodePort); err != nil {
						return err
					}
					return f.AddIP(netlink.ConntrackReplySrcIP, ep)
				}))
			}
		}
	}
	if len(filters) == 0 {
		return
	}
	// The deletion dumps the whole conntrack table, which flows of the node
	// may change meanwhile: the dump can be interrupted. Each attempt deletes
	// the matching entries it saw, so a retry only finds the rest and the
	// counts add up. Few attempts: a busy node's table is large and changes
	// without pause, and each attempt dumps all of it.
	var n uint
	_, err := netlinkutil.RetryN(conntrackAttempts, func() (struct{}, error) {
		deleted, err := p.ct.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
		n += deleted
		return struct{}{}, err
	})
	if err != nil {
		p.log.Warn("delete stale UDP conntrack entries", "error", err)
		return
	}
	p.log.Debug("deleted stale UDP conntrack entries", "entries", n)
}

func udpFilter(fill func(*netlink.ConntrackFilter) error) (*netlink.ConntrackFilter, error) {
	f := &netlink.ConntrackFilter{}
	if err := f.AddProtocol(unix.IPPROTO_UDP); err != nil {
		return nil, err
	}
	return f, fill(f)
}

// Cleanup removes the proxy's table, and with it every chain, map and set
// the proxy made; nothing else. It is not an error if there is no table.
// The next Sync rebuilds it.
func (p *Proxier) Cleanup() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.nft == nil {
		return ErrClosed
	}
	p.last = nil
	p.nft.DelTable(p.table())
	if err := p.nft.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("serviceproxy: delete table %s: %w", p.cfg.Table, err)
	}
	return nil
}

// Close releases the netlink sockets; the table stays as it is (Cleanup
// removes it), so that an agent restart does not interrupt services.
func (p *Proxier) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	if p.nft != nil {
		err = p.nft.CloseLasting()
		p.nft = nil
	}
	if p.ct != nil {
		p.ct.Close()
		p.ct = nil
	}
	if p.ns >= 0 {
		err = errors.Join(err, p.ns.Close())
		p.ns = -1
	}
	return err
}
