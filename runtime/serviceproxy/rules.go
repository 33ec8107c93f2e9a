package serviceproxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The rule language: a small set of statements, each with the nft syntax
// it stands for (String, used by tests, logs and change detection) and,
// in nft_linux.go, the netlink expressions that implement it. Keeping
// rules as data keeps the rule computation pure and testable without root.

// Stmt is one statement of a rule: a match, or an action.
type Stmt interface{ String() string }

// Rule is a sequence of statements, like one line of `nft list chain`.
type Rule []Stmt

func (r Rule) String() string {
	parts := make([]string, len(r))
	for i, s := range r {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Chain is a regular chain of the table and its rules.
type Chain struct {
	Name  string
	Rules []Rule
}

// sameRules reports whether a and b have the same rules.
func sameRules(a, b []Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

// CtStateNew matches the first packet of a connection: "ct state new".
type CtStateNew struct{}

// SAddr matches the source address against a prefix (a single address when
// it is a /32): "ip saddr 10.0.0.1", "ip saddr != 10.244.0.0/16".
type SAddr struct {
	Prefix netip.Prefix
	Not    bool
}

// DAddrInSet matches the destination address against a named set:
// "ip daddr @nodeport-ips".
type DAddrInSet struct{ Set string }

// SAddrInSet matches the source address against a named set:
// "ip saddr @affinity-…".
type SAddrInSet struct{ Set string }

// FibSAddrLocal matches packets whose source is an address of this node:
// "fib saddr type local".
type FibSAddrLocal struct{}

// L4Proto matches the transport protocol: "meta l4proto tcp".
type L4Proto struct{ Proto Protocol }

// MarkClear matches packets without the mark bits: "meta mark & 0x4000 == 0".
type MarkClear struct{ Mark uint32 }

// MarkOr sets mark bits: "meta mark set meta mark | 0x4000".
type MarkOr struct{ Mark uint32 }

// MarkXor flips mark bits: "meta mark set meta mark ^ 0x4000".
type MarkXor struct{ Mark uint32 }

// VmapKey says what a verdict-map lookup is keyed on.
type VmapKey int

// The keys of the table's verdict maps.
const (
	// KeyAddrProtoPort is "ip daddr . meta l4proto . th dport".
	KeyAddrProtoPort VmapKey = iota
	// KeyProtoPort is "meta l4proto . th dport".
	KeyProtoPort
)

// Vmap looks the packet up in a named verdict map: "… vmap @service-ips".
type Vmap struct {
	Key VmapKey
	Map string
}

// NumgenVmap picks one of Chains at random and goes to it:
// "numgen random mod 2 vmap { 0 : goto a, 1 : goto b }".
type NumgenVmap struct{ Chains []string }

// UpdateAffinity adds or refreshes the source address in a dynamic set:
// "update @affinity-… { ip saddr }".
type UpdateAffinity struct{ Set string }

// DNAT rewrites the destination: "meta l4proto tcp dnat to 10.1.0.2:80".
type DNAT struct {
	Proto Protocol
	To    netip.AddrPort
}

// Masquerade rewrites the source to the outgoing interface's address:
// "masquerade fully-random".
type Masquerade struct{}

// Reject refuses the packet: TCP with a reset, anything else with ICMP port
// unreachable ("reject with tcp reset", "reject").
type Reject struct{ TCPReset bool }

// VerdictKind is what a Verdict does.
type VerdictKind int

// The verdicts rules and map elements use.
const (
	Jump VerdictKind = iota
	Goto
	Return
	Drop
)

// Verdict ends the rule: "jump c", "goto c", "return", "drop".
type Verdict struct {
	Kind  VerdictKind
	Chain string
}

func (CtStateNew) String() string { return "ct state new" }

func (s SAddr) String() string {
	op := ""
	if s.Not {
		op = "!= "
	}
	if s.Prefix.IsSingleIP() {
		return "ip saddr " + op + s.Prefix.Addr().String()
	}
	return "ip saddr " + op + s.Prefix.String()
}

func (s DAddrInSet) String() string     { return "ip daddr @" + s.Set }
func (s SAddrInSet) String() string     { return "ip saddr @" + s.Set }
func (FibSAddrLocal) String() string    { return "fib saddr type local" }
func (s L4Proto) String() string        { return "meta l4proto " + s.Proto.String() }
func (s MarkClear) String() string      { return fmt.Sprintf("meta mark & 0x%08x == 0", s.Mark) }
func (s MarkOr) String() string         { return fmt.Sprintf("meta mark set meta mark | 0x%08x", s.Mark) }
func (s MarkXor) String() string        { return fmt.Sprintf("meta mark set meta mark ^ 0x%08x", s.Mark) }
func (s UpdateAffinity) String() string { return "update @" + s.Set + " { ip saddr }" }
func (Masquerade) String() string       { return "masquerade fully-random" }

func (s Vmap) String() string {
	if s.Key == KeyProtoPort {
		return "meta l4proto . th dport vmap @" + s.Map
	}
	return "ip daddr . meta l4proto . th dport vmap @" + s.Map
}

func (s NumgenVmap) String() string {
	els := make([]string, len(s.Chains))
	for i, c := range s.Chains {
		els[i] = fmt.Sprintf("%d : goto %s", i, c)
	}
	return fmt.Sprintf("numgen random mod %d vmap { %s }", len(s.Chains), strings.Join(els, ", "))
}

func (s DNAT) String() string {
	return fmt.Sprintf("meta l4proto %s dnat to %s", s.Proto, s.To)
}

func (s Reject) String() string {
	if s.TCPReset {
		return "reject with tcp reset"
	}
	return "reject"
}

func (v Verdict) String() string {
	switch v.Kind {
	case Jump:
		return "jump " + v.Chain
	case Goto:
		return "goto " + v.Chain
	case Return:
		return "return"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("verdict(%d)", int(v.Kind))
}

// Key is the key of a map or set element; the map decides which fields
// count (see mapDef).
type Key struct {
	Addr  netip.Addr
	Proto Protocol
	Port  uint16
}

// Element is one element of a named map (Verdict set) or set.
type Element struct {
	Map     string
	Key     Key
	Verdict Verdict
}

func (e Element) String() string {
	var k string
	switch mapDefs[e.Map].key {
	case keyAddr:
		k = e.Key.Addr.String()
	case keyProtoPort:
		k = fmt.Sprintf("%s . %d", e.Key.Proto, e.Key.Port)
	default:
		k = fmt.Sprintf("%s . %s . %d", e.Key.Addr, e.Key.Proto, e.Key.Port)
	}
	if mapDefs[e.Map].vmap {
		return fmt.Sprintf("%s { %s : %s }", e.Map, k, e.Verdict)
	}
	return fmt.Sprintf("%s { %s }", e.Map, k)
}

// AffinitySet is a dynamic set of client addresses that expire after
// Timeout, one per endpoint of a service with ClientIP session affinity.
type AffinitySet struct {
	Name    string
	Timeout time.Duration
}

// The named maps and sets of the table.
const (
	mapServiceIPs          = "service-ips"
	mapServiceNodePorts    = "service-nodeports"
	mapNoEndpointServices  = "no-endpoint-services"
	mapNoEndpointNodePorts = "no-endpoint-nodeports"
	setNodePortIPs         = "nodeport-ips"
)

type keyKind int

const (
	keyAddrProtoPort keyKind = iota
	keyProtoPort
	keyAddr
)

type mapDef struct {
	key  keyKind
	vmap bool
	// space is the key space the map shares with others: a key belongs to
	// one service port, whichever of the space's maps holds it.
	space string
}

var mapDefs = map[string]mapDef{
	mapServiceIPs:          {keyAddrProtoPort, true, "cluster-ips"},
	mapServiceNodePorts:    {keyProtoPort, true, "node-ports"},
	mapNoEndpointServices:  {keyAddrProtoPort, true, "cluster-ips"},
	mapNoEndpointNodePorts: {keyProtoPort, true, "node-ports"},
	setNodePortIPs:         {keyAddr, false, "node-ips"},
}

// spaceMaps lists the maps of each key space.
var spaceMaps = map[string][]string{
	"cluster-ips": {mapServiceIPs, mapNoEndpointServices},
	"node-ports":  {mapServiceNodePorts, mapNoEndpointNodePorts},
}

// The fixed regular chains.
const (
	chainServices        = "services"
	chainServiceEPCheck  = "service-endpoints-check"
	chainNodePortEPCheck = "nodeport-endpoints-check"
	chainMasquerading    = "masquerading"
	chainMarkForMasq     = "mark-for-masquerade"
	chainReject          = "reject-chain"
	chainNATPrerouting   = "nat-prerouting"
	chainNATOutput       = "nat-output"
	chainNATPostrouting  = "nat-postrouting"
	chainFilterInput     = "filter-input"
	chainFilterForward   = "filter-forward"
	chainFilterOutput    = "filter-output"
	priorityFilterProxy  = -110 // before the filter priority, as kube-proxy
	priorityNATDest      = -100
	priorityNATSource    = 100
)

// Hook names a netfilter hook for a base chain.
type Hook int

// The hooks base chains attach to.
const (
	HookPrerouting Hook = iota
	HookInput
	HookForward
	HookOutput
	HookPostrouting
)

// BaseChain is a chain attached to a hook.
type BaseChain struct {
	Chain
	NAT      bool // type nat, else type filter
	Hook     Hook
	Priority int32
}

// static is the part of the table that does not depend on the services.
type static struct {
	base    []BaseChain
	regular []Chain
	nodeIPs []Element
}

func staticRules(cfg *Config) static {
	mark := uint32(1) << cfg.MasqueradeBit
	newConn := func(chains ...string) []Rule {
		var rs []Rule
		for _, c := range chains {
			rs = append(rs, Rule{CtStateNew{}, Verdict{Jump, c}})
		}
		return rs
	}
	s := static{
		base: []BaseChain{
			{Chain{chainFilterInput, newConn(chainNodePortEPCheck, chainServiceEPCheck)}, false, HookInput, priorityFilterProxy},
			{Chain{chainFilterForward, newConn(chainServiceEPCheck)}, false, HookForward, priorityFilterProxy},
			{Chain{chainFilterOutput, newConn(chainNodePortEPCheck, chainServiceEPCheck)}, false, HookOutput, priorityFilterProxy},
			{Chain{chainNATPrerouting, []Rule{{Verdict{Jump, chainServices}}}}, true, HookPrerouting, priorityNATDest},
			{Chain{chainNATOutput, []Rule{{Verdict{Jump, chainServices}}}}, true, HookOutput, priorityNATDest},
			{Chain{chainNATPostrouting, []Rule{{Verdict{Jump, chainMasquerading}}}}, true, HookPostrouting, priorityNATSource},
		},
		regular: []Chain{
			{chainServices, []Rule{
				{Vmap{KeyAddrProtoPort, mapServiceIPs}},
				{DAddrInSet{setNodePortIPs}, Vmap{KeyProtoPort, mapServiceNodePorts}},
			}},
			{chainServiceEPCheck, []Rule{{Vmap{KeyAddrProtoPort, mapNoEndpointServices}}}},
			{chainNodePortEPCheck, []Rule{{DAddrInSet{setNodePortIPs}, Vmap{KeyProtoPort, mapNoEndpointNodePorts}}}},
			{chainMasquerading, []Rule{
				{MarkClear{mark}, Verdict{Kind: Return}},
				// Clear the bit, so a packet that is encapsulated or
				// forwarded again is not masqueraded twice.
				{MarkXor{mark}},
				{Masquerade{}},
			}},
			{chainMarkForMasq, []Rule{{MarkOr{mark}}}},
			{chainReject, []Rule{
				{L4Proto{TCP}, Reject{TCPReset: true}},
				{Reject{}},
			}},
		},
	}
	for _, ip := range cfg.NodeIPs {
		s.nodeIPs = append(s.nodeIPs, Element{Map: setNodePortIPs, Key: Key{Addr: ip}})
	}
	return s
}

// hashName is kube-proxy's hash for chain names: the first 8 characters of
// the base32 SHA-256.
func hashName(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:8]
}
