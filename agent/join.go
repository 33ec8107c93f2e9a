package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
)

// peersFile is where the agent remembers the gossip addresses of the
// members it last saw alive, so that after a restart it can rejoin them
// even when its only --join seed is itself or gone (Consul keeps a Serf
// snapshot for the same reason).
const peersFile = "peers.json"

// joinLoop joins the cluster through the --join seeds, plus the peers
// remembered from the last run, and retries until one answers, like
// Consul's retry-join: agents can then be started in any order. A seed
// that is this agent itself is skipped. It returns once joined or when
// ctx ends.
func (a *Agent) joinLoop(ctx context.Context) {
	self := net.JoinHostPort(a.cfg.advertiseIP(), strconv.Itoa(a.cfg.GossipPort))
	bind := net.JoinHostPort(a.cfg.BindAddr, strconv.Itoa(a.cfg.GossipPort))
	var seeds []string
	for _, j := range a.cfg.Join {
		host, port, _ := splitJoinAddr(j, a.cfg.GossipPort) // validated in Config.Validate
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		if addr != self && addr != bind && !slices.Contains(seeds, addr) {
			seeds = append(seeds, addr)
		}
	}
	for _, p := range a.loadPeers() {
		if p != self && p != bind && !slices.Contains(seeds, p) {
			seeds = append(seeds, p)
		}
	}
	if len(seeds) == 0 {
		return
	}
	for attempt := 1; ; attempt++ {
		n, err := a.ml.Join(seeds)
		if n > 0 {
			a.log.Info("joined cluster", "seeds", seeds, "contacted", n, "members", a.ml.NumMembers())
			return
		}
		a.log.Warn("join failed, will retry", "seeds", seeds, "attempt", attempt, "retry_in", a.cfg.RetryJoinInterval, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.RetryJoinInterval):
		}
	}
}

// loadPeers reads the remembered peers; a missing or unreadable file means
// none (the --join seeds still apply).
func (a *Agent) loadPeers() []string {
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, peersFile))
	if err != nil {
		return nil
	}
	var peers []string
	if err := json.Unmarshal(b, &peers); err != nil {
		a.log.Warn("ignoring unreadable remembered peers", "file", filepath.Join(a.cfg.DataDir, peersFile), "error", err)
		return nil
	}
	return peers
}

// savePeers remembers the alive members' gossip addresses, atomically, if
// they changed since last saved.
func (a *Agent) savePeers(last []string) ([]string, error) {
	var peers []string
	for _, m := range a.members.List() {
		if m.Status == api.MemberAlive && m.Name != a.cfg.NodeName {
			peers = append(peers, m.gossipAddr())
		}
	}
	if len(peers) == 0 || slices.Equal(peers, last) {
		return last, nil
	}
	b, err := json.Marshal(peers)
	if err != nil {
		return last, err
	}
	path := filepath.Join(a.cfg.DataDir, peersFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return last, fmt.Errorf("remember peers: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return last, fmt.Errorf("remember peers: %w", err)
	}
	return peers, nil
}
