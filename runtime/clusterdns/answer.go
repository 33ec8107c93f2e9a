package clusterdns

import (
	"math"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// dnsSchemaVersion is the version of the Kubernetes DNS specification
// answered at dns-version.<zone> (TXT), as the specification asks.
const dnsSchemaVersion = "1.1.0"

// maxCNAMEChain bounds ExternalName chains followed inside the zone
// (CoreDNS' maxCnameChainLength).
const maxCNAMEChain = 10

// answerLocal answers a query that is the server's to answer: every name
// under the cluster domain, and PTR queries for addresses it knows. It
// returns nil for a query to forward. name is the query name in lower case.
func (s *Server) answerLocal(req *dns.Msg, name string) *dns.Msg {
	q := req.Question[0]
	zone := s.cfg.ClusterDomain
	idx := s.idx.Load()
	inZone := name == zone || strings.HasSuffix(name, "."+zone)
	if !inZone {
		// Reverse zones fall through to the upstreams for addresses that
		// are not the cluster's (CoreDNS' "fallthrough in-addr.arpa
		// ip6.arpa" in the default Corefile).
		if q.Qtype != dns.TypePTR || idx == nil {
			return nil
		}
		a, ok := reverseAddr(name)
		if !ok {
			return nil
		}
		names := idx.ptrNames(a, s.cfg.ClusterDomain)
		if len(names) == 0 {
			return nil
		}
		m := s.newReply(req)
		for _, target := range names {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: s.hdr(q.Name, dns.TypePTR), Ptr: target})
		}
		return m
	}
	if idx == nil {
		// Not synced yet: no negative answer a client would cache.
		m := s.newReply(req)
		m.Rcode = dns.RcodeServerFailure
		return m
	}
	base := ""
	if name != zone {
		base = strings.TrimSuffix(name, "."+zone)
	}
	m := s.newReply(req)
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused
		return m
	case dns.TypeSOA:
		if base == "" {
			m.Answer = []dns.RR{s.soa(idx)}
		}
		return s.negative(m, idx, true)
	case dns.TypeNS:
		if base == "" {
			ns := "ns.dns." + zone
			m.Answer = []dns.RR{&dns.NS{Hdr: s.hdr(q.Name, dns.TypeNS), Ns: ns}}
			m.Extra = s.nameserverRRs(ns)
			return m
		}
	case dns.TypeTXT:
		if base == "dns-version" {
			hdr := s.hdr(q.Name, dns.TypeTXT)
			hdr.Ttl = 28800
			m.Answer = []dns.RR{&dns.TXT{Hdr: hdr, Txt: []string{dnsSchemaVersion}}}
			return m
		}
	}
	recs, exists := s.lookup(idx, base)
	switch q.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		m.Answer = s.addresses(idx, q.Name, recs, q.Qtype, nil)
	case dns.TypeSRV:
		m.Answer, m.Extra = s.srv(q.Name, recs)
	case dns.TypeCNAME:
		if len(recs) > 0 && recs[0].cname != "" {
			m.Answer = []dns.RR{&dns.CNAME{Hdr: s.hdr(q.Name, dns.TypeCNAME), Target: recs[0].cname}}
		}
	case dns.TypeTXT:
		// A name with records of another type is NODATA, anything else
		// NXDOMAIN, as CoreDNS answers TXT.
		exists = len(recs) > 0
	}
	return s.negative(m, idx, exists)
}

// lookup resolves base, the query name without the zone.
func (s *Server) lookup(idx *index, base string) ([]rec, bool) {
	if base == "ns.dns" {
		recs := make([]rec, 0, len(s.cfg.NameserverIPs))
		for _, a := range s.cfg.NameserverIPs {
			recs = append(recs, rec{addr: a.Unmap(), port: -1})
		}
		return recs, true
	}
	r, ok := parse(base)
	if !ok {
		return nil, false
	}
	return s.records(idx, r)
}

// newReply starts an authoritative answer to req. Recursion Available
// stays unset, as in CoreDNS' own answers for its zones.
func (s *Server) newReply(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.Compress = true
	return m
}

// negative turns an empty answer into NODATA (the name exists) or
// NXDOMAIN, with the zone's SOA in the authority section so resolvers
// cache the negative answer for the SOA minimum (RFC 2308).
func (s *Server) negative(m *dns.Msg, idx *index, exists bool) *dns.Msg {
	if len(m.Answer) > 0 {
		return m
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	m.Ns = []dns.RR{s.soa(idx)}
	return m
}

// soa is CoreDNS' SOA for the zone: ns.dns.<zone>, hostmaster.<zone>, the
// serial of the last Update, and the record TTL as TTL and minimum.
func (s *Server) soa(idx *index) dns.RR {
	zone := s.cfg.ClusterDomain
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: min(s.cfg.TTL, 300)},
		Ns:      "ns.dns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  idx.serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  s.cfg.TTL,
	}
}

func (s *Server) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: s.cfg.TTL}
}

func (s *Server) address(name string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: s.hdr(name, dns.TypeA), A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: s.hdr(name, dns.TypeAAAA), AAAA: a.AsSlice()}
}

// nameserverRRs are the glue records of ns.dns.<zone> for the apex NS.
func (s *Server) nameserverRRs(name string) []dns.RR {
	var rrs []dns.RR
	for _, a := range s.cfg.NameserverIPs {
		rrs = append(rrs, s.address(name, a.Unmap()))
	}
	return rrs
}

// addresses makes the A or AAAA answer for owner from recs. An
// ExternalName becomes a CNAME followed by the target's addresses: looked
// up in the index when the target is in the zone, upstream otherwise; a
// CNAME whose target cannot be looked up is left out, as CoreDNS does.
func (s *Server) addresses(idx *index, owner string, recs []rec, qtype uint16, chain []dns.RR) []dns.RR {
	var out []dns.RR
	seen := make(map[netip.Addr]bool, len(recs))
	zone := s.cfg.ClusterDomain
	for _, r := range recs {
		if r.cname == "" {
			if r.addr.Is4() != (qtype == dns.TypeA) || seen[r.addr] {
				continue
			}
			seen[r.addr] = true
			out = append(out, s.address(owner, r.addr))
			continue
		}
		if strings.EqualFold(r.cname, owner) || len(chain) > maxCNAMEChain || inChain(chain, r.cname) {
			continue // a loop, or too long
		}
		cname := &dns.CNAME{Hdr: s.hdr(owner, dns.TypeCNAME), Target: r.cname}
		if r.cname == zone || strings.HasSuffix(r.cname, "."+zone) {
			base := ""
			if r.cname != zone {
				base = strings.TrimSuffix(r.cname, "."+zone)
			}
			next, _ := s.lookup(idx, base)
			if rrs := s.addresses(idx, r.cname, next, qtype, append(chain, cname)); len(rrs) > 0 {
				out = append(out, cname)
				out = append(out, rrs...)
			}
			continue
		}
		q := new(dns.Msg).SetQuestion(r.cname, qtype)
		resp, err := s.fwd.exchange(s.ctx, q)
		if err != nil {
			s.warn(&s.logForward, "cluster DNS: resolving an ExternalName target failed",
				"name", r.cname, "type", dns.TypeToString[qtype], "error", err)
			continue
		}
		out = append(out, cname)
		out = append(out, resp.Answer...)
	}
	return out
}

func inChain(chain []dns.RR, target string) bool {
	for _, rr := range chain {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Target, target) {
			return true
		}
	}
	return false
}

// srv makes SRV records (priority 0, CoreDNS' weight: 100 split evenly,
// at least 1) and, in the additional section, the targets' addresses.
func (s *Server) srv(owner string, recs []rec) (answer, extra []dns.RR) {
	n := 0
	for _, r := range recs {
		if r.cname == "" {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	weight := uint16(math.Floor(100.0 / float64(n)))
	if weight == 0 {
		weight = 1
	}
	type key struct {
		target string
		port   int32
		addr   netip.Addr
	}
	seen := make(map[key]bool, 2*n)
	for _, r := range recs {
		if r.cname != "" || r.port == -1 {
			continue
		}
		if k := (key{target: r.target, port: r.port}); !seen[k] {
			seen[k] = true
			answer = append(answer, &dns.SRV{Hdr: s.hdr(owner, dns.TypeSRV), Priority: 0, Weight: weight, Port: uint16(r.port), Target: r.target})
		}
		if k := (key{target: r.target, port: -1, addr: r.addr}); !seen[k] {
			seen[k] = true
			extra = append(extra, s.address(r.target, r.addr))
		}
	}
	return answer, extra
}
