package serviceproxy

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

var hashed = regexp.MustCompile(`\b(service|local|external|endpoint|affinity)-[A-Z2-7]{8}-`)

// unhash drops the hash from object names, so expectations stay readable;
// TestNames checks the hashes themselves.
func unhash(s string) string { return hashed.ReplaceAllString(s, "$1-") }

// dump renders the service-dependent part of a desired state as sorted
// lines: chains with their rules, affinity sets, map elements.
func dump(d *desired) string {
	var chains, sets, els []string
	for _, f := range d.frags {
		for _, c := range f.chains {
			lines := []string{"chain " + c.Name}
			for _, r := range c.Rules {
				lines = append(lines, "  "+r.String())
			}
			chains = append(chains, unhash(strings.Join(lines, "\n")))
		}
		for _, s := range f.sets {
			sets = append(sets, unhash(fmt.Sprintf("set %s timeout %s", s.Name, s.Timeout)))
		}
	}
	for _, e := range d.elements {
		els = append(els, unhash("element "+e.String()))
	}
	slices.Sort(chains)
	slices.Sort(sets)
	slices.Sort(els)
	return strings.Join(slices.Concat(chains, sets, els), "\n")
}

// String renders a plan in its step order, for tests and logs.
func (p *plan) String() string {
	p.sort()
	var b strings.Builder
	for _, e := range p.delElements {
		fmt.Fprintf(&b, "delete element %s\n", e)
	}
	for _, c := range p.flushChains {
		fmt.Fprintf(&b, "flush chain %s\n", c)
	}
	for _, c := range p.delChains {
		fmt.Fprintf(&b, "delete chain %s\n", c)
	}
	for _, s := range p.delSets {
		fmt.Fprintf(&b, "delete set %s\n", s)
	}
	for _, s := range p.addSets {
		fmt.Fprintf(&b, "add set %s timeout %s\n", s.Name, s.Timeout)
	}
	for _, c := range p.addChains {
		fmt.Fprintf(&b, "add chain %s\n", c)
	}
	for _, c := range p.rules {
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "add rule %s %s\n", c.Name, r)
		}
	}
	for _, e := range p.addElements {
		fmt.Fprintf(&b, "add element %s\n", e)
	}
	return unhash(strings.TrimSuffix(b.String(), "\n"))
}

func testConfig() Config {
	cfg := Config{
		NodeName:    "node-a",
		NodeIPs:     []netip.Addr{netip.MustParseAddr("192.168.77.1")},
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		Logger:      slog.New(slog.DiscardHandler),
	}.withDefaults()
	return cfg
}

// desiredOf computes the desired state from scratch, as the first Sync does.
func desiredOf(t *testing.T, cfg *Config, prev *desired, services []*corev1.Service, eps []*discoveryv1.EndpointSlice) *desired {
	t.Helper()
	ports, _ := servicePorts(cfg.NodeName, services, eps)
	return compute(cfg, prev, ports)
}
