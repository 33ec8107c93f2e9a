package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// Member is one entry of `gossipod members -o json`: the gossip view of one agent.
type Member struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Status string `json:"status"` // "alive", "suspect", "dead" or "left"
	Role   string `json:"role"`   // "leader", "voter", "nonvoter", or "" if not in Raft
}

// RaftPeer is one entry of `gossipod raft peers -o json`: a server in the Raft
// configuration as the queried agent sees it.
type RaftPeer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // "voter" or "nonvoter"
	Leader   bool   `json:"leader"`
}

// NodeList is the part of `gossipod get nodes -o json` (a Kubernetes NodeList) the
// tests read. It is decoded here rather than with the api package so the tests check
// the wire format a kubectl user would see, not our own types' round trip.
type NodeList struct {
	Items []Node `json:"items"`
}

// Node is one item of a NodeList.
type Node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Conditions []NodeCondition `json:"conditions"`
	} `json:"status"`
}

// NodeCondition is a Kubernetes node condition such as Ready=True.
type NodeCondition struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

// Ready reports whether the node's Ready condition is True.
func (n Node) Ready() bool {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// RunOn runs a client command against host i's API (it adds --kubeconfig with the
// cluster's admin credentials and --addr), from the root namespace, the way a user on
// another machine would.
func (c *Cluster) RunOn(i int, args ...string) Result {
	c.t.Helper()
	return Run(c.t, append([]string{"--kubeconfig", c.Kubeconfig(), "--addr", c.APIAddr(i)}, args...)...)
}

// Members returns host i's view of the gossip membership. It returns an error rather
// than failing the test, so it can be polled with Eventually.
func (c *Cluster) Members(i int) ([]Member, error) {
	c.t.Helper()
	var ms []Member
	return ms, c.decodeJSON(i, &ms, "members", "-o", "json")
}

// RaftPeers returns the Raft configuration as host i sees it; like Members, it returns
// errors for polling.
func (c *Cluster) RaftPeers(i int) ([]RaftPeer, error) {
	c.t.Helper()
	var ps []RaftPeer
	return ps, c.decodeJSON(i, &ps, "raft", "peers", "-o", "json")
}

// Nodes returns the Node objects in host i's replica of the state.
func (c *Cluster) Nodes(i int) (NodeList, error) {
	c.t.Helper()
	var nl NodeList
	return nl, c.decodeJSON(i, &nl, "get", "nodes", "-o", "json")
}

// decodeJSON runs a client command on host i and decodes its stdout into v.
func (c *Cluster) decodeJSON(i int, v any, args ...string) error {
	c.t.Helper()
	res := c.RunOn(i, args...)
	if err := res.Err(); err != nil {
		return fmt.Errorf("%s: %w", c.Name(i), err)
	}
	if err := json.Unmarshal([]byte(res.Stdout), v); err != nil {
		return fmt.Errorf("%s: decode output of %q: %w\n%s", c.Name(i), args, err, res.Stdout)
	}
	return nil
}

// pollInterval is how often Eventually retries. Every try runs CLI commands, so
// polling faster would mostly measure the CLI's start-up.
const pollInterval = 250 * time.Millisecond

// Eventually calls fn until it returns nil, and fails the test with fn's last error if
// that does not happen within timeout. Distributed state converges rather than
// changing at once, so tests assert "eventually" with a generous bound; the bound is a
// hang detector, not a performance target.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	start := time.Now()
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("not true within %v; last error: %v", timeout, err)
		}
		time.Sleep(pollInterval)
	}
}
