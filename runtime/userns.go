package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// User namespaces (spec.hostUsers: false), as kubelet's userns manager
// hands them out: every such pod gets usernsLength host IDs of its own,
// container IDs 0..65535 mapped to HostID..HostID+65535, in ranges that
// start at a multiple of usernsLength from usernsFirstRange on, so that
// no two pods on the node and not the host's own IDs (below 65536) share
// one. kubelet's default range (no "kubelet" entry in /etc/subuid) is
// 65536 up to 2^32; gossipod stops one range short of it, where the last
// range would hold 4294967295, the ID that means "none" (-1).
const (
	// usernsLength is the size of a pod's user namespace: kubelet's
	// userNsLength, a 16-bit ID space, what images expect (nobody is
	// 65534).
	usernsLength = 1 << 16
	// usernsFirstRange is the index of the first range: host IDs below
	// 65536 are the node's own.
	usernsFirstRange = 1
	// usernsRanges is how many ranges there are.
	usernsRanges = 1<<16 - 2
)

// errUsernsExhausted is the error of an allocation with every range
// taken; kubelet's words.
var errUsernsExhausted = errors.New("could not find an empty slot to allocate a user namespace")

// idMapping is one line of a user namespace's uid_map or gid_map, in
// kubelet's and the CRI's terms.
type idMapping struct {
	HostID      uint32 `json:"hostId"`
	ContainerID uint32 `json:"containerId"`
	Length      uint32 `json:"length"`
}

// userNamespace is a pod's user namespace, persisted in its record (as
// kubelet persists it in its pod directory) so that a restarted agent
// re-adopts the pod with the mapping its processes and files have.
type userNamespace struct {
	UIDMappings []idMapping `json:"uidMappings"`
	GIDMappings []idMapping `json:"gidMappings"`
}

// hostUID is the host ID of the pod's root.
func (u *userNamespace) hostUID() uint32 { return u.UIDMappings[0].HostID }

// hostGID is the host ID of the pod's root group.
func (u *userNamespace) hostGID() uint32 { return u.GIDMappings[0].HostID }

// rangeIndex is the range a persisted mapping takes, or an error if it
// is not one this allocator hands out (a record edited, or from another
// scheme): such a pod is not re-adopted with it.
func (u *userNamespace) rangeIndex() (int, error) {
	if len(u.UIDMappings) != 1 || len(u.GIDMappings) != 1 {
		return 0, fmt.Errorf("user namespace with %d uid and %d gid mappings, want one each", len(u.UIDMappings), len(u.GIDMappings))
	}
	um, gm := u.UIDMappings[0], u.GIDMappings[0]
	if um != gm {
		return 0, fmt.Errorf("user namespace maps uids %+v and gids %+v differently", um, gm)
	}
	if um.ContainerID != 0 || um.Length != usernsLength || um.HostID%usernsLength != 0 {
		return 0, fmt.Errorf("user namespace mapping %+v is not a %d-ID range at a multiple of %d", um, usernsLength, usernsLength)
	}
	i := int(um.HostID / usernsLength)
	if i < usernsFirstRange || i >= usernsFirstRange+usernsRanges {
		return 0, fmt.Errorf("user namespace mapping %+v is outside the node's range", um)
	}
	return i, nil
}

// newUserNamespace is the mapping of range i.
func newUserNamespace(i int) *userNamespace {
	m := []idMapping{{HostID: uint32(i) * usernsLength, ContainerID: 0, Length: usernsLength}}
	return &userNamespace{UIDMappings: m, GIDMappings: append([]idMapping(nil), m...)}
}

// MakeSearchable creates dir (0711) or adds search permission for others
// to it, as containerd keeps its root 0711: the root of a pod with its own
// user namespace is an unprivileged user on the node, and libcontainer's
// init reaches the pod's root filesystem by path, from inside that
// namespace, through every directory above it. Nothing becomes listable
// or readable; what is private inside stays 0700. The agent calls it on
// its data dir, New on Root.
func MakeSearchable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o001 == 0 {
		if err := os.Chmod(dir, perm|0o001); err != nil {
			return fmt.Errorf("make %s searchable for pods with user namespaces: %w", dir, err)
		}
	}
	return nil
}

// usernsAllocator hands out the ranges, one per pod UID, lowest free
// first. kubelet scans its bitmap from a random place; lowest first
// keeps the allocation easy to read on the node and changes nothing of
// the guarantees (disjoint ranges, none of the host's). Safe for
// concurrent use.
type usernsAllocator struct {
	mu    sync.Mutex
	used  map[int]string // range index → pod UID
	byPod map[string]int
	next  int // no free range below it
}

func newUsernsAllocator() *usernsAllocator {
	return &usernsAllocator{used: map[int]string{}, byPod: map[string]int{}, next: usernsFirstRange}
}

// allocate returns pod uid's user namespace: the one it has, or the
// lowest free range.
func (a *usernsAllocator) allocate(uid string) (*userNamespace, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.byPod[uid]; ok {
		return newUserNamespace(i), nil
	}
	for i := a.next; i < usernsFirstRange+usernsRanges; i++ {
		if _, taken := a.used[i]; !taken {
			a.used[i], a.byPod[uid] = uid, i
			a.next = i + 1
			return newUserNamespace(i), nil
		}
	}
	return nil, errUsernsExhausted
}

// adopt records the user namespace a pod had before the agent restarted
// (its record's). It fails if the mapping is not one of the node's ranges
// or another pod holds it: the pod then cannot keep it.
func (a *usernsAllocator) adopt(uid string, u *userNamespace) error {
	i, err := u.rangeIndex()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if other, taken := a.used[i]; taken && other != uid {
		return fmt.Errorf("user namespace at host ID %d is pod %s's", u.hostUID(), other)
	}
	if j, ok := a.byPod[uid]; ok && j != i {
		return fmt.Errorf("pod already has the user namespace at host ID %d", j*usernsLength)
	}
	a.used[i], a.byPod[uid] = uid, i
	return nil
}

// release frees pod uid's range, once nothing of the pod is left on the
// node (its files were owned by the range's IDs).
func (a *usernsAllocator) release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.byPod[uid]
	if !ok {
		return
	}
	delete(a.byPod, uid)
	delete(a.used, i)
	a.next = min(a.next, i)
}
