package serviceproxy

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Registers, as nft uses them: the verdict register, the first 128-bit
// register, and the 32-bit registers that concatenations are laid out in
// (NFT_REG32_00 overlaps NFT_REG_1).
const (
	regVerdict = 0
	reg1       = 1
	reg2       = 2
	reg32_01   = 9
	reg32_02   = 10

	// icmpPortUnreachable is ICMP's code 3 of type 3 (RFC 792), nft's
	// default for reject.
	icmpPortUnreachable = 3
)

// writer turns the rule language into netlink messages on one Conn; it
// only buffers, Flush sends the transaction.
type writer struct {
	conn  *nftables.Conn
	table *nftables.Table
}

var (
	typeAddrProtoPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	typeProtoPort     = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
)

// namedSet describes a named map or set of the table, enough to create it
// or to add and delete its elements.
func (w *writer) namedSet(name string) *nftables.Set {
	def := mapDefs[name]
	s := &nftables.Set{Table: w.table, Name: name}
	switch def.key {
	case keyAddrProtoPort:
		s.KeyType, s.Concatenation = typeAddrProtoPort, true
	case keyProtoPort:
		s.KeyType, s.Concatenation = typeProtoPort, true
	case keyAddr:
		s.KeyType = nftables.TypeIPAddr
	}
	if def.vmap {
		s.IsMap, s.DataType = true, nftables.TypeVerdict
	}
	return s
}

func (w *writer) affinitySet(a AffinitySet) *nftables.Set {
	return &nftables.Set{
		Table: w.table, Name: a.Name, KeyType: nftables.TypeIPAddr,
		Dynamic: true, HasTimeout: true, Timeout: a.Timeout,
	}
}

func (w *writer) chain(name string) *nftables.Chain {
	return &nftables.Chain{Table: w.table, Name: name}
}

func (w *writer) baseChain(b BaseChain) *nftables.Chain {
	c := &nftables.Chain{Table: w.table, Name: b.Name, Type: nftables.ChainTypeFilter}
	if b.NAT {
		c.Type = nftables.ChainTypeNAT
	}
	switch b.Hook {
	case HookPrerouting:
		c.Hooknum = nftables.ChainHookPrerouting
	case HookInput:
		c.Hooknum = nftables.ChainHookInput
	case HookForward:
		c.Hooknum = nftables.ChainHookForward
	case HookOutput:
		c.Hooknum = nftables.ChainHookOutput
	case HookPostrouting:
		c.Hooknum = nftables.ChainHookPostrouting
	}
	c.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(b.Priority))
	return c
}

// keyBytes encodes an element key as the kernel compares it: each field of
// a concatenation padded to 4 bytes, ports in network order.
func keyBytes(kind keyKind, k Key) []byte {
	proto := []byte{byte(k.Proto), 0, 0, 0}
	port := []byte{byte(k.Port >> 8), byte(k.Port), 0, 0}
	if kind == keyProtoPort {
		return append(proto, port...)
	}
	a4 := k.Addr.As4()
	if kind == keyAddr {
		return a4[:]
	}
	return append(append(a4[:], proto...), port...)
}

func (w *writer) setElements(els []Element) map[string][]nftables.SetElement {
	out := make(map[string][]nftables.SetElement)
	for _, e := range els {
		def := mapDefs[e.Map]
		se := nftables.SetElement{Key: keyBytes(def.key, e.Key)}
		if def.vmap {
			se.VerdictData = verdictExpr(e.Verdict)
		}
		out[e.Map] = append(out[e.Map], se)
	}
	return out
}

func (w *writer) addElements(els []Element) error {
	for name, ses := range w.setElements(els) {
		if err := w.conn.SetAddElements(w.namedSet(name), ses); err != nil {
			return fmt.Errorf("add elements to %s: %w", name, err)
		}
	}
	return nil
}

func (w *writer) delElements(els []Element) error {
	for name, ses := range w.setElements(els) {
		if err := w.conn.SetDeleteElements(w.namedSet(name), ses); err != nil {
			return fmt.Errorf("delete elements from %s: %w", name, err)
		}
	}
	return nil
}

func verdictExpr(v Verdict) *expr.Verdict {
	switch v.Kind {
	case Jump:
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain}
	case Goto:
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Chain}
	case Return:
		return &expr.Verdict{Kind: expr.VerdictReturn}
	default:
		return &expr.Verdict{Kind: expr.VerdictDrop}
	}
}

// addRules appends c's rules to the chain c.Name.
func (w *writer) addRules(c Chain) error {
	ch := w.chain(c.Name)
	for _, r := range c.Rules {
		var exprs []expr.Any
		for _, s := range r {
			e, err := w.stmtExprs(s)
			if err != nil {
				return fmt.Errorf("chain %s, rule %q: %w", c.Name, r, err)
			}
			exprs = append(exprs, e...)
		}
		w.conn.AddRule(&nftables.Rule{Table: w.table, Chain: ch, Exprs: exprs})
	}
	return nil
}

func mark32(v uint32) []byte { return binaryutil.NativeEndian.PutUint32(v) }

// stmtExprs is the netlink form of one statement, laid out the way nft
// lays out the same statement.
func (w *writer) stmtExprs(s Stmt) ([]expr.Any, error) {
	switch s := s.(type) {
	case CtStateNew:
		return []expr.Any{
			&expr.Ct{Register: reg1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4,
				Mask: mark32(expr.CtStateBitNEW), Xor: mark32(0)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: mark32(0)},
		}, nil
	case SAddr:
		load := &expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
		op := expr.CmpOpEq
		if s.Not {
			op = expr.CmpOpNeq
		}
		a := s.Prefix.Addr().As4()
		if s.Prefix.IsSingleIP() {
			return []expr.Any{load, &expr.Cmp{Op: op, Register: reg1, Data: a[:]}}, nil
		}
		mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-s.Prefix.Bits()))
		return []expr.Any{load,
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			&expr.Cmp{Op: op, Register: reg1, Data: a[:]},
		}, nil
	case DAddrInSet:
		return []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Lookup{SourceRegister: reg1, SetName: s.Set},
		}, nil
	case SAddrInSet:
		return []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Lookup{SourceRegister: reg1, SetName: s.Set},
		}, nil
	case FibSAddrLocal:
		return []expr.Any{
			&expr.Fib{Register: reg1, FlagSADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: mark32(unix.RTN_LOCAL)},
		}, nil
	case L4Proto:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{byte(s.Proto)}},
		}, nil
	case MarkClear:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mark32(s.Mark), Xor: mark32(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: mark32(0)},
		}, nil
	case MarkOr:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mark32(^s.Mark), Xor: mark32(s.Mark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
		}, nil
	case MarkXor:
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: mark32(^uint32(0)), Xor: mark32(s.Mark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: reg1},
		}, nil
	case Vmap:
		var load []expr.Any
		if s.Key == KeyAddrProtoPort {
			load = []expr.Any{
				&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg32_01},
				&expr.Payload{DestRegister: reg32_02, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			}
		} else {
			load = []expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
				&expr.Payload{DestRegister: reg32_01, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			}
		}
		return append(load, &expr.Lookup{SourceRegister: reg1, DestRegister: regVerdict, IsDestRegSet: true, SetName: s.Map}), nil
	case NumgenVmap:
		m := &nftables.Set{
			Table: w.table, Anonymous: true, Constant: true, IsMap: true,
			KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict,
			KeyByteOrder: binaryutil.NativeEndian,
		}
		els := make([]nftables.SetElement, len(s.Chains))
		for i, c := range s.Chains {
			els[i] = nftables.SetElement{Key: mark32(uint32(i)), VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: c}}
		}
		if err := w.conn.AddSet(m, els); err != nil {
			return nil, err
		}
		return []expr.Any{
			&expr.Numgen{Register: reg1, Modulus: uint32(len(s.Chains)), Type: unix.NFT_NG_RANDOM},
			&expr.Lookup{SourceRegister: reg1, DestRegister: regVerdict, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
		}, nil
	case UpdateAffinity:
		return []expr.Any{
			&expr.Payload{DestRegister: reg1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: reg1, SetName: s.Set, Operation: unix.NFT_DYNSET_OP_UPDATE},
		}, nil
	case DNAT:
		a := s.To.Addr().As4()
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{byte(s.Proto)}},
			&expr.Immediate{Register: reg1, Data: a[:]},
			&expr.Immediate{Register: reg2, Data: binaryutil.BigEndian.PutUint16(s.To.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4,
				RegAddrMin: reg1, RegProtoMin: reg2, Specified: true},
		}, nil
	case Masquerade:
		return []expr.Any{&expr.Masq{FullyRandom: true}}, nil
	case Reject:
		if s.TCPReset {
			return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}, nil
		}
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: icmpPortUnreachable}}, nil
	case Verdict:
		return []expr.Any{verdictExpr(s)}, nil
	}
	return nil, fmt.Errorf("statement %T has no netlink form", s)
}

// writeStatic buffers the table's fixed part: named maps and sets, the
// regular chains, the base chains, the node addresses.
func (w *writer) writeStatic(st static) error {
	for _, name := range []string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointServices, mapNoEndpointNodePorts, setNodePortIPs} {
		if err := w.conn.AddSet(w.namedSet(name), nil); err != nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
	}
	for _, c := range st.regular {
		w.conn.AddChain(w.chain(c.Name))
	}
	for _, b := range st.base {
		w.conn.AddChain(w.baseChain(b))
	}
	for _, c := range st.regular {
		if err := w.addRules(c); err != nil {
			return err
		}
	}
	for _, b := range st.base {
		if err := w.addRules(b.Chain); err != nil {
			return err
		}
	}
	return w.addElements(st.nodeIPs)
}

// writePlan buffers p in its steps' order (see plan).
func (w *writer) writePlan(p *plan) error {
	if err := w.delElements(p.delElements); err != nil {
		return err
	}
	for _, c := range p.flushChains {
		w.conn.FlushChain(w.chain(c))
	}
	for _, c := range p.delChains {
		w.conn.DelChain(w.chain(c))
	}
	for _, s := range p.delSets {
		w.conn.DelSet(&nftables.Set{Table: w.table, Name: s})
	}
	for _, s := range p.addSets {
		if err := w.conn.AddSet(w.affinitySet(s), nil); err != nil {
			return fmt.Errorf("add set %s: %w", s.Name, err)
		}
	}
	for _, c := range p.addChains {
		w.conn.AddChain(w.chain(c))
	}
	for _, c := range p.rules {
		if err := w.addRules(c); err != nil {
			return err
		}
	}
	return w.addElements(p.addElements)
}
