package serviceproxy

import (
	"cmp"
	"slices"
)

// desired is the whole table's service-dependent content: one fragment per
// service port, and the elements of all named maps indexed by map and key.
type desired struct {
	frags    map[string]*fragment
	elements map[elemKey]Element
}

type elemKey struct {
	Map string
	Key Key
}

// compute builds the desired state for ports, reusing prev's fragment of
// every port whose inputs did not change, so that only changed ports cost
// rule computation. Two ports claiming the same map key (two Services with
// the same cluster IP and port, possible for a moment while one is being
// replaced) are resolved in favour of the smaller name, deterministically,
// and logged.
func compute(cfg *Config, prev *desired, ports map[string]*svcPort) *desired {
	d := &desired{frags: make(map[string]*fragment, len(ports)), elements: make(map[elemKey]Element)}
	// Claims are per key space: a cluster IP and port is either in
	// service-ips or in no-endpoint-services, never in both.
	owner := make(map[elemKey]string)
	for name, p := range ports {
		f := (*fragment)(nil)
		if prev != nil {
			if old := prev.frags[name]; old != nil && old.in.equal(p) {
				f = old
			}
		}
		if f == nil {
			f = buildFragment(cfg, p)
		}
		d.frags[name] = f
		for _, e := range f.elements {
			k, claim := elemKey{e.Map, e.Key}, elemKey{mapDefs[e.Map].space, e.Key}
			if o, ok := owner[claim]; ok {
				winner, loser := min(o, name), max(o, name)
				cfg.Logger.Warn("two service ports claim the same address, port and protocol; ignoring one",
					"service", loser, "kept", winner, "key", e.String())
				if winner == o {
					continue
				}
				for _, m := range spaceMaps[claim.Map] {
					delete(d.elements, elemKey{m, e.Key})
				}
			}
			owner[claim] = name
			d.elements[k] = e
		}
	}
	return d
}

// plan is one netlink transaction, in the order the kernel needs it:
// references go before what they refer to is deleted, and after what they
// refer to is created.
type plan struct {
	// Step 1: map elements to delete (they may point at chains deleted below).
	delElements []Element
	// Step 2: chains to flush, because their rules change or they go away.
	flushChains []string
	// Step 3: chains and sets to delete (now unreferenced).
	delChains []string
	delSets   []string
	// Step 4: sets and chains to create.
	addSets   []AffinitySet
	addChains []string
	// Step 5: rules to write into chains that are new or were flushed.
	rules []Chain
	// Step 6: map elements to add.
	addElements []Element
}

func (p *plan) empty() bool {
	return len(p.delElements)+len(p.flushChains)+len(p.delChains)+len(p.delSets)+
		len(p.addSets)+len(p.addChains)+len(p.rules)+len(p.addElements) == 0
}

// diff computes the plan that turns old into new. Fragments that are the
// same (unchanged inputs) are skipped by pointer, so the work on chains
// grows with the number of changed service ports. Element changes are found
// by comparing the two element indexes.
func diff(old, new *desired) *plan {
	p := &plan{}
	for name, nf := range new.frags {
		of := old.frags[name]
		if of == nf {
			continue
		}
		diffFragment(p, of, nf)
	}
	for name, of := range old.frags {
		if _, ok := new.frags[name]; !ok {
			diffFragment(p, of, nil)
		}
	}
	for k, ne := range new.elements {
		oe, ok := old.elements[k]
		if ok && oe.Verdict == ne.Verdict {
			continue
		}
		if ok {
			p.delElements = append(p.delElements, oe)
		}
		p.addElements = append(p.addElements, ne)
	}
	for k, oe := range old.elements {
		if _, ok := new.elements[k]; !ok {
			p.delElements = append(p.delElements, oe)
		}
	}
	return p
}

// diffFragment adds to p what turns of into nf; either may be nil.
func diffFragment(p *plan, of, nf *fragment) {
	oldChains := map[string][]Rule{}
	if of != nil {
		for _, c := range of.chains {
			oldChains[c.Name] = c.Rules
		}
	}
	if nf != nil {
		for _, c := range nf.chains {
			rules, existed := oldChains[c.Name]
			delete(oldChains, c.Name)
			switch {
			case !existed:
				p.addChains = append(p.addChains, c.Name)
				p.rules = append(p.rules, c)
			case !sameRules(rules, c.Rules):
				p.flushChains = append(p.flushChains, c.Name)
				p.rules = append(p.rules, c)
			}
		}
	}
	for name := range oldChains {
		p.flushChains = append(p.flushChains, name)
		p.delChains = append(p.delChains, name)
	}

	oldSets := map[string]AffinitySet{}
	if of != nil {
		for _, s := range of.sets {
			oldSets[s.Name] = s
		}
	}
	if nf != nil {
		for _, s := range nf.sets {
			o, existed := oldSets[s.Name]
			delete(oldSets, s.Name)
			if existed && o == s {
				continue
			}
			if existed {
				// A new timeout: recreate the set (its entries are lost,
				// as kube-proxy loses them too).
				p.delSets = append(p.delSets, s.Name)
			}
			p.addSets = append(p.addSets, s)
		}
	}
	for name := range oldSets {
		p.delSets = append(p.delSets, name)
	}
}

// sort orders every list, so that a plan is deterministic (tests, logs).
func (p *plan) sort() {
	byString := func(a, b Element) int { return cmp.Compare(a.String(), b.String()) }
	slices.SortFunc(p.delElements, byString)
	slices.SortFunc(p.addElements, byString)
	slices.Sort(p.flushChains)
	slices.Sort(p.delChains)
	slices.Sort(p.delSets)
	slices.Sort(p.addChains)
	slices.SortFunc(p.addSets, func(a, b AffinitySet) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(p.rules, func(a, b Chain) int { return cmp.Compare(a.Name, b.Name) })
}
