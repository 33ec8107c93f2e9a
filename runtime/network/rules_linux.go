package network

import (
	"fmt"
	"net/netip"
)

// syncRules ensures the iptables rules for the current pod CIDR (see syncRulesLocked).
func (m *Manager) syncRules() error {
	m.mu.RLock()
	closed, own := m.closed, m.podCIDR
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	return m.syncRulesLocked(own)
}

// syncRulesLocked makes MasqChain and ForwardChain hold exactly the rules for podCIDR
// (no MASQUERADE rule while it is unknown) and ensures the jumps to them. The caller
// holds syncMu.
func (m *Manager) syncRulesLocked(podCIDR netip.Prefix) error {
	cluster := m.cluster.String()
	masq := [][]string{
		{"-d", cluster, "-m", "comment", "--comment", "gossipod: pod-to-pod traffic keeps its source", "-j", "RETURN"},
	}
	if podCIDR.IsValid() {
		masq = append(masq, []string{"-s", podCIDR.String(), "-m", "comment", "--comment",
			"gossipod: pods to outside the cluster", "-j", "MASQUERADE"})
	}
	fwd := [][]string{
		{"-s", cluster, "-m", "comment", "--comment", "gossipod: from pods", "-j", "ACCEPT"},
		{"-d", cluster, "-m", "comment", "--comment", "gossipod: to pods", "-j", "ACCEPT"},
	}
	if err := m.ensureChain("nat", MasqChain, masq); err != nil {
		return err
	}
	if err := m.ensureJump("nat", "POSTROUTING", MasqChain); err != nil {
		return err
	}
	if err := m.ensureChain("filter", ForwardChain, fwd); err != nil {
		return err
	}
	return m.ensureJump("filter", "FORWARD", ForwardChain)
}

// ensureChain makes chain hold exactly rules, rewriting it only if it differs.
func (m *Manager) ensureChain(table, chain string, rules [][]string) error {
	exists, err := m.ipt.ChainExists(table, chain)
	if err != nil {
		return fmt.Errorf("iptables -t %s: %w", table, err)
	}
	if exists {
		cur, err := m.ipt.List(table, chain)
		if err != nil {
			return fmt.Errorf("iptables -t %s -S %s: %w", table, chain, err)
		}
		same := len(cur) == len(rules)+1 // List includes "-N chain"
		for _, r := range rules {
			if !same {
				break
			}
			if same, err = m.ipt.Exists(table, chain, r...); err != nil {
				return fmt.Errorf("iptables -t %s -C %s: %w", table, chain, err)
			}
		}
		if same {
			return nil
		}
	}
	if err := m.ipt.ClearChain(table, chain); err != nil { // creates it if missing
		return fmt.Errorf("iptables -t %s -F %s: %w", table, chain, err)
	}
	for _, r := range rules {
		if err := m.ipt.Append(table, chain, r...); err != nil {
			return fmt.Errorf("iptables -t %s -A %s: %w", table, chain, err)
		}
	}
	m.log.Info("iptables chain written", "table", table, "chain", chain, "rules", len(rules))
	return nil
}

// ensureJump makes from's first rule jump to chain, unless from already jumps there.
// First, so that a DROP or another MASQUERADE earlier in from cannot take precedence.
func (m *Manager) ensureJump(table, from, chain string) error {
	spec := []string{"-m", "comment", "--comment", "gossipod", "-j", chain}
	ok, err := m.ipt.Exists(table, from, spec...)
	if err != nil {
		return fmt.Errorf("iptables -t %s -C %s: %w", table, from, err)
	}
	if ok {
		return nil
	}
	if err := m.ipt.Insert(table, from, 1, spec...); err != nil {
		return fmt.Errorf("iptables -t %s -I %s: %w", table, from, err)
	}
	return nil
}
