package agent

import (
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/gossipod/gossipod/api"
)

// member is what the agent knows about one other agent from gossip.
type member struct {
	Name   string
	Addr   net.IP
	Port   uint16
	Meta   nodeMeta
	MetaOK bool
	Status api.MemberStatus
	// Since is when Status last changed.
	Since time.Time
}

func (m member) gossipAddr() string {
	return net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))
}

func (m member) raftAddr() string {
	return net.JoinHostPort(m.Addr.String(), strconv.Itoa(m.Meta.RaftPort))
}

func (m member) apiURL() string {
	return "https://" + net.JoinHostPort(m.Addr.String(), strconv.Itoa(m.Meta.APIPort))
}

// memberTable is the agent's view of the cluster's members, fed by
// memberlist's event callbacks. memberlist removes dead members from its own
// list and does not expose "left" versus "dead", so the table keeps both,
// and tells the difference from the Leaving flag a member gossips before a
// clean shutdown.
//
// It implements memberlist.EventDelegate: the Notify methods are called from
// memberlist's goroutines, must be thread-safe and must not block.
type memberTable struct {
	mu      sync.Mutex
	members map[string]*member
	now     func() time.Time
	// changed is closed and replaced at every change, so loops can wait for
	// the next one without polling.
	changed chan struct{}
	onError func(name string, err error)
}

func newMemberTable(onError func(name string, err error)) *memberTable {
	return &memberTable{
		members: map[string]*member{},
		now:     time.Now,
		changed: make(chan struct{}),
		onError: onError,
	}
}

// NotifyJoin records a member that joined or came back.
func (t *memberTable) NotifyJoin(n *memberlist.Node) { t.upsert(n, api.MemberAlive) }

// NotifyUpdate records a member's new metadata.
func (t *memberTable) NotifyUpdate(n *memberlist.Node) { t.upsert(n, api.MemberAlive) }

// NotifyLeave records a member that left cleanly or was declared dead.
func (t *memberTable) NotifyLeave(n *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[n.Name]
	if !ok {
		return
	}
	status := api.MemberDead
	if m.Meta.Leaving {
		status = api.MemberLeft
	}
	t.setStatus(m, status)
	t.signal()
}

func (t *memberTable) upsert(n *memberlist.Node, status api.MemberStatus) {
	meta, err := decodeMeta(n.Meta)
	if err != nil && t.onError != nil {
		t.onError(n.Name, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[n.Name]
	if !ok {
		m = &member{Name: n.Name, Since: t.now()}
		t.members[n.Name] = m
	}
	m.Addr = slices.Clone(n.Addr)
	m.Port = n.Port
	m.Meta, m.MetaOK = meta, err == nil
	t.setStatus(m, status)
	t.signal()
}

func (t *memberTable) setStatus(m *member, s api.MemberStatus) {
	if m.Status != s {
		m.Status = s
		m.Since = t.now()
	}
}

func (t *memberTable) signal() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of the table.
func (t *memberTable) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// List returns copies of all members, sorted by name.
func (t *memberTable) List() []member {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]member, 0, len(t.members))
	for _, name := range slices.Sorted(maps.Keys(t.members)) {
		m := *t.members[name]
		m.Meta.Labels = maps.Clone(m.Meta.Labels)
		out = append(out, m)
	}
	return out
}

// Get returns a copy of the named member.
func (t *memberTable) Get(name string) (member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[name]
	if !ok {
		return member{}, false
	}
	return *m, true
}

// APIServerAddresses are the API addresses of the live members that
// gossip valid metadata, sorted by member name: the API servers of the
// kubernetes Service's endpoints (controllers.APIServerService).
func (t *memberTable) APIServerAddresses() []netip.AddrPort {
	var out []netip.AddrPort
	for _, m := range t.List() {
		if m.Status != api.MemberAlive || !m.MetaOK || m.Meta.APIPort <= 0 || m.Meta.APIPort > 65535 {
			continue
		}
		if ip, ok := netip.AddrFromSlice(m.Addr); ok {
			out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(m.Meta.APIPort)))
		}
	}
	return out
}

// Liveness is what gossip says of the named node, for the node lifecycle
// controller: its member's status and since when, or known false.
func (t *memberTable) Liveness(name string) (api.MemberStatus, time.Time, bool) {
	m, ok := t.Get(name)
	return m.Status, m.Since, ok
}

// Free returns the resources the named node last gossiped as free, for
// the scheduler, or ok false when it has gossiped no metadata.
func (t *memberTable) Free(name string) (api.Resources, bool) {
	m, ok := t.Get(name)
	if !ok || !m.MetaOK {
		return api.Resources{}, false
	}
	return api.Resources{MilliCPU: m.Meta.CPU[1], Memory: m.Meta.Mem[1], Pods: m.Meta.Pods[1], EphemeralStorage: m.Meta.Eph[1]}, true
}

// Prune forgets members that have been dead or left for longer than age,
// as Consul reaps failed members, so a cluster with churning names does not
// grow its table without bound.
func (t *memberTable) Prune(age time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := false
	for name, m := range t.members {
		if (m.Status == api.MemberDead || m.Status == api.MemberLeft) && t.now().Sub(m.Since) > age {
			delete(t.members, name)
			changed = true
		}
	}
	if changed {
		t.signal()
	}
}
