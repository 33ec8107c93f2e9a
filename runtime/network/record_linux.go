package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// sandboxRecord is what the Manager keeps under Root/sandboxes/<id>.json for each
// sandbox from just before its CNI ADD until its CNI DEL succeeded. Written first, it
// covers an ADD interrupted by a crash (libcni caches a result only after success),
// and it remembers what Teardown needs when the caller knows only the id: the
// namespace's identity, the hostPorts and the exact configuration the ADD used.
type sandboxRecord struct {
	ID        string          `json:"id"`
	Namespace string          `json:"namespace,omitempty"`
	Name      string          `json:"name,omitempty"`
	NetNSPath string          `json:"netnsPath"`
	NetNS     nsIdentity      `json:"netns"`
	HostPorts []PortMapping   `json:"hostPorts,omitempty"`
	ConfList  json.RawMessage `json:"confList"`
}

// nsIdentity identifies a network namespace: the device and inode of its nsfs file,
// the same whichever path (/proc/<pid>/ns/net, a bind mount under /run/netns) names it.
type nsIdentity struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// errNotNetNS is returned by netnsIdentity for a path that exists but is not a
// namespace (e.g. the file left after `ip netns delete` lost a race).
var errNotNetNS = errors.New("not a network namespace")

// netnsIdentity stats path, which must name a network namespace.
func netnsIdentity(path string) (nsIdentity, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return nsIdentity{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	if fs.Type != unix.NSFS_MAGIC {
		return nsIdentity{}, fmt.Errorf("%s: %w", path, errNotNetNS)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsIdentity{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return nsIdentity{Dev: st.Dev, Ino: st.Ino}, nil
}

// ownNetNS identifies the calling thread's network namespace: the one the Manager
// changes, which must never be handed to the plugins as a pod's.
func ownNetNS() (nsIdentity, error) {
	return netnsIdentity("/proc/thread-self/ns/net")
}

// validID is libcni's rule for container ids; it also makes the id a safe file name.
var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

// maxIDLen keeps ids (and so record and cache file names) well inside NAME_MAX.
const maxIDLen = 200

func validateID(id string) error {
	if len(id) > maxIDLen || !validID.MatchString(id) {
		return fmt.Errorf("%w: sandbox id %q: want letters, digits, '_', '.', '-' (starting with a letter or digit), at most %d bytes",
			ErrInvalidPod, id, maxIDLen)
	}
	return nil
}

func (m *Manager) recordPath(id string) string {
	return filepath.Join(m.recordDir(), id+".json")
}

// readRecord returns id's record, or nil if it has none.
func (m *Manager) readRecord(id string) (*sandboxRecord, error) {
	b, err := os.ReadFile(m.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read network record of sandbox %q: %w", id, err)
	}
	var rec sandboxRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		// A torn record still proves the sandbox may hold resources: keep the id so
		// that Teardown still releases them through the CNI cache.
		m.log.Warn("unreadable sandbox record; tearing down from the CNI cache", "sandbox", id, "err", err)
		return &sandboxRecord{ID: id}, nil
	}
	return &rec, nil
}

func (m *Manager) writeRecord(rec *sandboxRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(m.recordPath(rec.ID), b); err != nil {
		return fmt.Errorf("write network record of sandbox %q: %w", rec.ID, err)
	}
	return nil
}

func (m *Manager) removeRecord(id string) error {
	if err := os.Remove(m.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network record of sandbox %q: %w", id, err)
	}
	return nil
}

// Sandboxes lists the ids of sandboxes that may hold network resources on this node:
// those with a record (Setup started and Teardown has not finished), a CNI cache
// entry of the Manager's networks, or an address lease. After a restart the runtime calls Teardown for each
// id whose pod is no longer wanted here. Sorted; safe to call concurrently with Setup
// and Teardown (an id being set up or torn down may or may not be listed).
func (m *Manager) Sandboxes() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	return m.sandboxIDs()
}

// sandboxIDs implements Sandboxes; the caller holds mu.
func (m *Manager) sandboxIDs() ([]string, error) {
	seen := map[string]bool{}
	entries, err := os.ReadDir(m.recordDir())
	if err != nil {
		return nil, fmt.Errorf("list sandbox records: %w", err)
	}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && validateID(id) == nil {
			seen[id] = true
		}
	}
	atts, err := m.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("list CNI cache: %w", err)
	}
	for _, a := range atts {
		if a.Network == NetworkName || a.Network == LoopbackNetworkName {
			seen[a.ContainerID] = true
		}
	}
	for id := range m.leased() {
		seen[id] = true
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// leased returns the ids host-local holds addresses for: it keeps one file per leased
// address under <dataDir>/<network>/, named after the address, whose first line is the
// container id (then "\r\n" and the interface name).
func (m *Manager) leased() map[string]bool {
	dir := filepath.Join(m.ipamDir(), NetworkName)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err != nil {
			continue // "lock", "last_reserved_ip.0"
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		id, _, _ := strings.Cut(string(b), "\n")
		if id = strings.TrimSpace(id); validateID(id) == nil {
			ids[id] = true
		}
	}
	return ids
}
