package agent

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gossipod/gossipod/internal/logbridge"
	"github.com/gossipod/gossipod/pki"
)

// localMeta holds this agent's gossip metadata. It implements
// memberlist.Delegate: memberlist calls NodeMeta from its own goroutines
// whenever it announces this node, so reads and updates are locked.
type localMeta struct {
	mu   sync.Mutex
	meta nodeMeta
}

// NodeMeta returns the encoded metadata. The size was checked when the
// metadata was set, so the limit is never exceeded here.
func (l *localMeta) NodeMeta(limit int) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := l.meta.encode()
	if err != nil || len(b) > limit {
		return nil
	}
	return b
}

// NotifyMsg ignores user messages: gossipod sends none.
func (l *localMeta) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast besides memberlist's own messages.
func (l *localMeta) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState has no extra state for push/pull exchanges.
func (l *localMeta) LocalState(join bool) []byte { return nil }

// MergeRemoteState has nothing to merge.
func (l *localMeta) MergeRemoteState(buf []byte, join bool) {}

func (l *localMeta) get() nodeMeta {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.meta
}

// update applies change to the metadata if the result still fits in
// gossip, and reports whether anything changed.
func (l *localMeta) update(change func(*nodeMeta)) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.meta
	change(&next)
	if _, err := next.encode(); err != nil {
		return false, err
	}
	before, _ := l.meta.encode()
	after, _ := next.encode()
	l.meta = next
	return string(before) != string(after), nil
}

// newMemberlist creates the gossip layer on the configured address; it
// starts listening at once but joins nobody until join is called.
func newMemberlist(cfg *Config, meta *localMeta, events memberlist.EventDelegate) (*memberlist.Memberlist, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.GossipPort
	mc.AdvertiseAddr = cfg.advertiseIP()
	mc.AdvertisePort = cfg.GossipPort
	// Every message, UDP and TCP, is encrypted and authenticated with a key
	// derived from the cluster token (memberlist verifies incoming and
	// outgoing by default once a key is set): an agent with another token,
	// or none, cannot read or inject gossip, so it never becomes a member.
	key, err := pki.GossipKey(cfg.Token)
	if err != nil {
		return nil, err
	}
	mc.SecretKey = key
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Delegate = meta
	mc.Events = events
	mc.Logger = logbridge.StdLogger(cfg.Logger.With("component", "memberlist"))
	// A node that was dead and comes back under the same name at another
	// address (a rebuilt VM) is accepted at once instead of after 30 s.
	mc.DeadNodeReclaimTime = time.Second
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", net.JoinHostPort(cfg.BindAddr, fmt.Sprint(cfg.GossipPort)), err)
	}
	return ml, nil
}
