package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The agent-port guard is one nftables table of gossipod's own (FilterTable, family
// inet) with two base chains: GuardInputChain at the input hook covers every address
// of this node (its uplink's, the bridge's gateway), and GuardForwardChain at
// the forward hook covers other hosts' addresses as this node's pods reach them (their
// traffic to a node address leaves the cluster CIDR and is masqueraded, so the other
// node could not tell it from its peer agent's). A packet from the cluster CIDR to one
// of the agent's ports is rejected — a TCP reset, or ICMP port unreachable for UDP — so
// a client in a pod fails at once instead of hanging. The forward chain leaves traffic
// to pod addresses alone: a pod may listen on 7948 too. A hostPort is DNATed to its
// pod before these hooks, so it is not affected either. The input chain first lets
// through whatever came in on loopback: the host's own connections to its own
// addresses, whose source is the bridge's gateway (inside the cluster CIDR) when they
// go to it; no pod's packet arrives there.
//
// The table is written with nftables' netlink API (github.com/google/nftables): no
// nft binary, one atomic transaction, and separate from the iptables chains, so that
// neither can clobber the other.

// guardChains are the hooks of the guard's chains, with whether the chain exempts
// destinations inside the cluster CIDR (pod addresses).
var guardChains = []struct {
	name       string
	hook       *nftables.ChainHook
	exemptPods bool
}{
	// Local delivery: every destination is one of this node's addresses, the bridge's
	// gateway (inside the cluster CIDR) included.
	{GuardInputChain, nftables.ChainHookInput, false},
	// Routed and bridged traffic: to a pod (pass) or to another host (reject).
	{GuardForwardChain, nftables.ChainHookForward, true},
}

// guardTable is the table GuardAgentPorts writes and Close removes.
func guardTable() *nftables.Table {
	return &nftables.Table{Name: FilterTable, Family: nftables.TableFamilyINet}
}

// GuardAgentPorts makes sure pods cannot reach this node's agent ports
// (Config.AgentPorts) on any address of this node or of another host: it replaces
// FilterTable with the rules described above, in one transaction, so that a table left
// by an earlier run (a crash, other ports) never coexists with the new one and there
// is no moment without protection. With Config.AllowPodAccessToAgent it removes the
// table instead (a user who turned the guard off after a crash gets no stale rules).
//
// Call it once at agent start, before the agent's listeners accept connections; it is
// idempotent, and needs only Config (not SetPodCIDR): the rules match the whole
// cluster CIDR. Close removes the table again.
func (m *Manager) GuardAgentPorts() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.cfg.AllowPodAccessToAgent {
		if err := removeGuard(&nftables.Conn{}); err != nil {
			return err
		}
		m.log.Warn("pods may reach the agent's ports (--allow-pod-access-to-agent)", "ports", m.cfg.AgentPorts.String())
		return nil
	}
	// Remember the namespace, so that Close removes the table from it whatever
	// thread it is called on.
	ns, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return fmt.Errorf("open own network namespace: %w", err)
	}
	c := &nftables.Conn{}
	t := guardTable()
	// add + delete + add: the delete cannot fail for a missing table, and the kernel
	// applies the batch as a whole or not at all.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	for _, ch := range guardChains {
		chain := c.AddChain(&nftables.Chain{
			Name:     ch.name,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  ch.hook,
			Priority: nftables.ChainPriorityFilter,
			Policy:   ptr(nftables.ChainPolicyAccept),
		})
		if ch.hook == nftables.ChainHookInput {
			// The host's own connections to its own addresses (see above).
			c.AddRule(&nftables.Rule{
				Table: t, Chain: chain,
				Exprs: []expr.Any{
					&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(unix.ARPHRD_LOOPBACK)},
					&expr.Verdict{Kind: expr.VerdictReturn},
				},
				UserData: userdata.AppendString(nil, userdata.TypeComment, "gossipod: the host itself"),
			})
		}
		for _, p := range m.cfg.AgentPorts.list() {
			c.AddRule(&nftables.Rule{
				Table:    t,
				Chain:    chain,
				Exprs:    guardRule(m.cluster, ch.exemptPods, p, m.cfg.KubernetesServiceIP),
				UserData: userdata.AppendString(nil, userdata.TypeComment, "gossipod: pods may not reach the agent's "+p.what+" port"),
			})
		}
	}
	if err := c.Flush(); err != nil {
		ns.Close()
		return fmt.Errorf("install nftables table inet %s (pods must not reach the agent's ports %s): %w", FilterTable, m.cfg.AgentPorts, err)
	}
	if m.guardNS != nil {
		m.guardNS.Close()
	}
	m.guardNS = ns
	m.log.Info("pods are kept from the agent's ports", "table", "inet "+FilterTable, "ports", m.cfg.AgentPorts.String(), "cluster_cidr", m.cluster)
	return nil
}

// removeGuard deletes FilterTable through c if it exists (add + delete, so a
// missing table is no error).
func removeGuard(c *nftables.Conn) error {
	c.AddTable(guardTable())
	c.DelTable(guardTable())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove nftables table inet %s: %w", FilterTable, err)
	}
	return nil
}

// guardPort is one port the guard closes to pods.
type guardPort struct {
	proto byte // unix.IPPROTO_TCP or unix.IPPROTO_UDP
	port  uint16
	what  string // gossip, raft, api: for the rule's comment
}

// list gives the (protocol, port) pairs the guard closes: gossip on TCP and UDP
// (memberlist uses both), Raft and the API on TCP.
func (p AgentPorts) list() []guardPort {
	return []guardPort{
		{unix.IPPROTO_TCP, uint16(p.Gossip), "gossip"},
		{unix.IPPROTO_UDP, uint16(p.Gossip), "gossip"},
		{unix.IPPROTO_TCP, uint16(p.Raft), "raft"},
		{unix.IPPROTO_TCP, uint16(p.API), "api"},
	}
}

// guardRule is, in nft's words:
//
//	meta nfproto ipv4 ip saddr CLUSTER [ip daddr != CLUSTER] meta l4proto PROTO th dport PORT [ct original ip daddr != KUBERNETES] counter reject
//
// with "reject with tcp reset" for TCP and "reject with icmpx port-unreachable" for UDP.
// The conntrack match, on the API port's rule only when kubernetesIP is valid, spares
// connections a pod made to the kubernetes Service (DNATed to an agent's API before
// these hooks).
func guardRule(cluster netip.Prefix, exemptPods bool, p guardPort, kubernetesIP netip.Addr) []expr.Any {
	mask := net4Mask(cluster.Bits())
	network := cluster.Addr().As4()
	matchCIDR := func(offset uint32, op expr.CmpOp) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
			&expr.Cmp{Op: op, Register: 1, Data: network[:]},
		}
	}
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
	exprs = append(exprs, matchCIDR(12, expr.CmpOpEq)...) // source address
	if exemptPods {
		exprs = append(exprs, matchCIDR(16, expr.CmpOpNeq)...) // destination address
	}
	exprs = append(exprs,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p.proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p.port)},
	)
	if p.what == "api" && kubernetesIP.Is4() {
		ip := kubernetesIP.As4()
		exprs = append(exprs,
			&expr.Ct{Register: 1, Key: expr.CtKeyDST, Direction: 0}, // original direction
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ip[:]},
		)
	}
	exprs = append(exprs, &expr.Counter{})
	if p.proto == unix.IPPROTO_TCP {
		return append(exprs, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	}
	return append(exprs, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
}

// net4Mask is the IPv4 netmask of a prefix length.
func net4Mask(bits int) [4]byte {
	var m [4]byte
	binary.BigEndian.PutUint32(m[:], ^uint32(0)<<(32-bits)) // a shift by 32 gives 0
	return m
}

// closeGuard removes the table on Close if GuardAgentPorts installed it, from the
// namespace it was installed in. The caller holds mu for writing.
func (m *Manager) closeGuard() error {
	if m.guardNS == nil {
		return nil
	}
	defer func() { m.guardNS.Close(); m.guardNS = nil }()
	if err := removeGuard(&nftables.Conn{NetNS: int(m.guardNS.Fd())}); err != nil {
		return err
	}
	m.log.Info("removed the table keeping pods from the agent's ports", "table", "inet "+FilterTable)
	return nil
}

func ptr[T any](v T) *T { return &v }
