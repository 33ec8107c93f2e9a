package serviceproxy

import "net/netip"

// fragment is everything one service port puts into the table: its chains,
// its affinity sets and its map elements. It is computed from the svcPort
// alone (and the Config), so an unchanged svcPort keeps its fragment.
type fragment struct {
	in       svcPort
	served   []endpoint // the endpoints its chains lead to
	chains   []Chain
	sets     []AffinitySet
	elements []Element
}

// buildFragment computes the fragment of one service port. Step by step:
//
//  1. Pick the usable endpoints for cluster traffic (all nodes) and for
//     local traffic (this node only), see usable.
//  2. One endpoint chain per endpoint in either list: mark hairpin traffic
//     for masquerade, update the affinity set, DNAT.
//  3. The service chain (all endpoints) and, if a Local policy asks for it,
//     the local chain (this node's endpoints).
//  4. The cluster IP: an element of service-ips leading to the chain its
//     internal policy picks, or of no-endpoint-services (reject if no
//     endpoint at all, drop if the policy is Local and all are elsewhere).
//  5. The node port: an element of service-nodeports leading to the external
//     chain, or of no-endpoint-nodeports (reject if no endpoint at all, drop
//     if the policy is Local and all endpoints are elsewhere).
func buildFragment(cfg *Config, p *svcPort) *fragment {
	f := &fragment{in: *p}
	// Step 1.
	clusterEPs := usable(p.endpoints, false)
	var localEPs []endpoint
	needLocal := p.internalLocal || (p.externalLocal && p.nodePort != 0)
	if needLocal {
		localEPs = usable(p.endpoints, true)
	}

	// Step 2.
	seen := make(map[endpoint]bool)
	for _, e := range append(append([]endpoint(nil), clusterEPs...), localEPs...) {
		if seen[e] {
			continue
		}
		seen[e] = true
		f.served = append(f.served, e)
		rules := []Rule{{SAddr{Prefix: netip.PrefixFrom(e.addr, 32)}, Verdict{Jump, chainMarkForMasq}}}
		if p.affinity > 0 {
			set := affinitySetName(p, e)
			f.sets = append(f.sets, AffinitySet{Name: set, Timeout: p.affinity})
			rules = append(rules, Rule{UpdateAffinity{set}})
		}
		rules = append(rules, Rule{DNAT{Proto: p.proto, To: netip.AddrPortFrom(e.addr, e.port)}})
		f.chains = append(f.chains, Chain{endpointChainName(p, e), rules})
	}

	// Step 3.
	clusterChain, localChain := chainName("service", p), chainName("local", p)
	if len(clusterEPs) > 0 {
		rules := []Rule{
			// From outside the pods: masquerade, so the reply comes back
			// through this node to be un-DNATed.
			{SAddr{Prefix: cfg.ClusterCIDR, Not: true}, Verdict{Jump, chainMarkForMasq}},
		}
		f.chains = append(f.chains, Chain{clusterChain, append(rules, pickRules(p, clusterEPs)...)})
	}
	if len(localEPs) > 0 {
		// No masquerade here: keeping the client's address is what the
		// Local policies are for.
		f.chains = append(f.chains, Chain{localChain, pickRules(p, localEPs)})
	}

	// Step 4.
	internalChain, internalEPs := clusterChain, clusterEPs
	if p.internalLocal {
		internalChain, internalEPs = localChain, localEPs
	}
	ipKey := Key{Addr: p.clusterIP, Proto: p.proto, Port: p.port}
	switch {
	case len(internalEPs) > 0:
		f.elements = append(f.elements, Element{mapServiceIPs, ipKey, Verdict{Goto, internalChain}})
	case len(clusterEPs) > 0:
		// internalTrafficPolicy Local, endpoints only elsewhere: drop,
		// as kube-proxy does (the service exists, not for this node).
		f.elements = append(f.elements, Element{mapNoEndpointServices, ipKey, Verdict{Kind: Drop}})
	default:
		f.elements = append(f.elements, Element{mapNoEndpointServices, ipKey, Verdict{Goto, chainReject}})
	}

	// Step 5.
	if p.nodePort == 0 {
		return f
	}
	npKey := Key{Proto: p.proto, Port: p.nodePort}
	externalChain := chainName("external", p)
	switch {
	case len(clusterEPs) == 0:
		f.elements = append(f.elements, Element{mapNoEndpointNodePorts, npKey, Verdict{Goto, chainReject}})
	case p.externalLocal && len(localEPs) == 0:
		// kube-proxy drops rather than rejects: the service works, just
		// not through this node, and a load balancer's health check tells
		// it so.
		f.elements = append(f.elements, Element{mapNoEndpointNodePorts, npKey, Verdict{Kind: Drop}})
	case p.externalLocal:
		f.chains = append(f.chains, Chain{externalChain, []Rule{
			// Pods and the node itself reaching a node port are
			// cluster traffic: there is no client address to keep.
			{SAddr{Prefix: cfg.ClusterCIDR}, Verdict{Goto, clusterChain}},
			{FibSAddrLocal{}, Verdict{Jump, chainMarkForMasq}},
			{FibSAddrLocal{}, Verdict{Goto, clusterChain}},
			{Verdict{Goto, localChain}},
		}})
		f.elements = append(f.elements, Element{mapServiceNodePorts, npKey, Verdict{Goto, externalChain}})
	default:
		f.chains = append(f.chains, Chain{externalChain, []Rule{
			{Verdict{Jump, chainMarkForMasq}},
			{Verdict{Goto, clusterChain}},
		}})
		f.elements = append(f.elements, Element{mapServiceNodePorts, npKey, Verdict{Goto, externalChain}})
	}
	return f
}

// pickRules are the rules that choose one of eps: first a client already
// bound to an endpoint (session affinity), then a random one.
func pickRules(p *svcPort, eps []endpoint) []Rule {
	var rules []Rule
	targets := make([]string, len(eps))
	for i, e := range eps {
		targets[i] = endpointChainName(p, e)
		if p.affinity > 0 {
			rules = append(rules, Rule{SAddrInSet{affinitySetName(p, e)}, Verdict{Goto, targets[i]}})
		}
	}
	return append(rules, Rule{NumgenVmap{targets}})
}
