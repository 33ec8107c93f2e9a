package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Naming and addressing of the test networks. A cluster owns one "slot" X in 1..254:
// bridge gpe<X>b, host i's namespace gpe<X>h<i>, its root-side veth gpe<X>v<i>, and the
// subnet 10.213.X.0/24 with the bridge on .1 and host i on .(hostOffset+i). Every name
// fits the kernel's 15-character limit, and the slot is reserved with a lock file, so
// parallel test binaries and tests never share names or addresses.
const (
	namePrefix = "gpe"
	subnetFmt  = "10.213.%d.%d"
	maxSlot    = 254
	hostOffset = 11
	// MaxHosts is the most hosts one Cluster can have: the /24 minus the bridge and
	// the addresses below hostOffset.
	MaxHosts = 254 - hostOffset + 1
	lockDir  = "/run/gossipod-e2e"
	netnsDir = "/run/netns"
)

// nameRE parses the names above: slot, kind (b bridge, v veth, h netns), host index.
var nameRE = regexp.MustCompile(`^` + namePrefix + `(\d+)([bvh])(\d*)$`)

// network is one cluster's bridge and hosts, plus the lock that reserves its slot for
// as long as the network exists.
type network struct {
	slot   int
	lock   *os.File
	bridge string
	hosts  []netHost
}

// netHost is one host's plumbing.
type netHost struct {
	netns string // under /run/netns
	veth  string // root-namespace end; its peer is eth0 inside netns
	ip    string
}

// newNetwork reserves a free slot, sweeps leftovers of crashed runs, and builds a bridge
// with n hosts attached. On error it removes whatever it had created.
func newNetwork(n int) (_ *network, err error) {
	if n < 1 || n > MaxHosts {
		return nil, fmt.Errorf("hosts = %d, want 1..%d", n, MaxHosts)
	}
	sweepStale()
	if err := fenceTestSubnets(); err != nil {
		return nil, err
	}
	nw, err := reserveSlot()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, nw.teardown())
		}
	}()
	nw.bridge = fmt.Sprintf("%s%db", namePrefix, nw.slot)
	if err := ip("link", "add", "name", nw.bridge, "type", "bridge"); err != nil {
		return nw, err
	}
	if err := ip("addr", "add", nw.gateway()+"/24", "dev", nw.bridge); err != nil {
		return nw, err
	}
	if err := ip("link", "set", nw.bridge, "up"); err != nil {
		return nw, err
	}
	for i := range n {
		h := netHost{
			netns: fmt.Sprintf("%s%dh%d", namePrefix, nw.slot, i),
			veth:  fmt.Sprintf("%s%dv%d", namePrefix, nw.slot, i),
			ip:    fmt.Sprintf(subnetFmt, nw.slot, hostOffset+i),
		}
		nw.hosts = append(nw.hosts, h)
		if err := addHost(nw.bridge, h); err != nil {
			return nw, fmt.Errorf("host %d: %w", i, err)
		}
	}
	return nw, nil
}

// fenceTestSubnets makes 10.213.0.0/16 unreachable from the root namespace
// except through the test bridges (their /24 routes are more specific). A
// request to a host whose bridge is already gone then fails at once here,
// instead of leaving the machine through the default route towards
// addresses that are not ours. The route stays: it is harmless and other
// test runs need it too.
func fenceTestSubnets() error {
	out, err := exec.Command("ip", "route", "show", "type", "unreachable", "10.213.0.0/16").Output()
	if err != nil {
		return fmt.Errorf("ip route show: %w", err)
	}
	if len(out) > 0 {
		return nil
	}
	if err := ip("route", "add", "unreachable", "10.213.0.0/16"); err != nil {
		// Another test binary may have added it meanwhile.
		if out, _ := exec.Command("ip", "route", "show", "type", "unreachable", "10.213.0.0/16").Output(); len(out) > 0 {
			return nil
		}
		return err
	}
	return nil
}

// addHost creates a host's namespace and wires it to the bridge. The veth peer is
// created directly inside the namespace as eth0, so no second eth0 ever appears in the
// root namespace.
func addHost(bridge string, h netHost) error {
	steps := [][]string{
		{"netns", "add", h.netns},
		{"link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns},
		{"link", "set", h.veth, "master", bridge, "up"},
		{"-n", h.netns, "addr", "add", h.ip + "/24", "dev", "eth0"},
		{"-n", h.netns, "link", "set", "eth0", "up"},
		{"-n", h.netns, "link", "set", "lo", "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// gateway is the bridge's address, through which the root namespace reaches hosts.
func (nw *network) gateway() string { return fmt.Sprintf(subnetFmt, nw.slot, 1) }

// teardown kills what still runs inside the hosts, deletes namespaces, veths and the
// bridge, and only then gives up the slot, so a new owner never sees our leftovers.
func (nw *network) teardown() error {
	err := cleanSlot(nw.slot)
	if nw.lock != nil {
		nw.lock.Close() // releases the flock; the file stays (see reserveSlot)
		nw.lock = nil
	}
	return err
}

// reserveSlot takes the first slot whose lock file it can flock, starting at a point
// derived from the pid so parallel test binaries rarely contend. The lock lives as long
// as the open file: a crashed run's locks vanish with it, which is how leftovers are
// recognised as stale. Lock files are never deleted, because unlinking a lock another
// process is about to take lets two processes own one slot.
func reserveSlot() (*network, error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, fmt.Errorf("make lock dir: %w", err)
	}
	start := os.Getpid() % maxSlot
	for k := range maxSlot {
		slot := (start+k)%maxSlot + 1
		lock, err := lockSlot(slot)
		if err != nil {
			return nil, err
		}
		if lock == nil {
			continue
		}
		if err := cleanSlot(slot); err != nil {
			lock.Close()
			return nil, fmt.Errorf("clear leftovers of slot %d: %w", slot, err)
		}
		if inUse, err := subnetInUse(slot); err != nil || inUse {
			lock.Close()
			if err != nil {
				return nil, err
			}
			continue // something outside the harness uses 10.213.<slot>.0/24
		}
		return &network{slot: slot, lock: lock}, nil
	}
	return nil, fmt.Errorf("no free test network slot in %s (all %d are locked)", lockDir, maxSlot)
}

// lockSlot tries to flock a slot's lock file without blocking; it returns nil, nil when
// another process (or another cluster of this process) holds it.
func lockSlot(slot int) (*os.File, error) {
	path := filepath.Join(lockDir, fmt.Sprintf("slot-%d.lock", slot))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open slot lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// sweepStale removes the leftovers of earlier runs that crashed before their cleanup:
// every slot that has harness-named objects but whose lock nobody holds. Slots in use
// are skipped, and each slot is locked while it is swept, so a concurrent run can never
// lose its network to the sweep. Errors are ignored: a failed sweep only leaves what was
// already there, and reserveSlot cleans again any slot it takes.
func sweepStale() {
	slots, err := harnessSlots()
	if err != nil {
		return
	}
	for _, slot := range slots {
		lock, err := lockSlot(slot)
		if err != nil || lock == nil {
			continue
		}
		cleanSlot(slot)
		lock.Close()
	}
}

// harnessSlots lists the slots that have a harness-named link or namespace.
func harnessSlots() ([]int, error) {
	names, err := linkNames()
	if err != nil {
		return nil, err
	}
	nsNames, err := netnsNames()
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for _, name := range append(names, nsNames...) {
		if m := nameRE.FindStringSubmatch(name); m != nil {
			slot, _ := strconv.Atoi(m[1])
			seen[slot] = true
		}
	}
	var slots []int
	for s := range seen {
		slots = append(slots, s)
	}
	sort.Ints(slots)
	return slots, nil
}

// cleanSlot deletes every object of a slot: it kills the processes left in its
// namespaces (an agent of a crashed run keeps its namespace alive), deletes the
// namespaces (taking their eth0 and so the veth pairs with them), then any veth still
// in the root namespace, then the bridge. The caller holds the slot's lock.
func cleanSlot(slot int) error {
	var errs []error
	nsNames, err := netnsNames()
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range nsNames {
		if m := nameRE.FindStringSubmatch(ns); m == nil || m[1] != strconv.Itoa(slot) || m[2] != "h" {
			continue
		}
		killNetnsProcesses(ns)
		if err := ip("netns", "delete", ns); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := linkNames()
	if err != nil {
		errs = append(errs, err)
	}
	var bridge string
	for _, l := range links {
		m := nameRE.FindStringSubmatch(l)
		if m == nil || m[1] != strconv.Itoa(slot) {
			continue
		}
		if m[2] == "b" {
			bridge = l
			continue
		}
		// A host's veth goes by itself once its namespace is deleted, which
		// the kernel finishes asynchronously: gone between the listing and
		// the delete, it answers "Cannot find device" or "No such device".
		if err := ip("link", "delete", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") &&
			!strings.Contains(err.Error(), "No such device") {
			errs = append(errs, err)
		}
	}
	if bridge != "" {
		if err := ip("link", "delete", bridge); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killNetnsProcesses SIGKILLs every process in a namespace and waits briefly for them to
// go, so that deleting the namespace really frees its interfaces.
func killNetnsProcesses(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// isZombie reports whether pid has exited but not been reaped; such a process no
// longer holds its namespace, so there is no point waiting for it.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// subnetInUse reports whether any root-namespace interface has an address in the slot's
// subnet, i.e. something not made by the harness occupies it.
func subnetInUse(slot int) (bool, error) {
	out, err := exec.Command("ip", "-j", "-4", "addr", "show").Output()
	if err != nil {
		return false, fmt.Errorf("ip -j addr show: %w", err)
	}
	var links []struct {
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return false, fmt.Errorf("decode ip -j addr show: %w", err)
	}
	prefix := netip.MustParsePrefix(fmt.Sprintf(subnetFmt, slot, 0) + "/24")
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if addr, err := netip.ParseAddr(a.Local); err == nil && prefix.Contains(addr) {
				return true, nil
			}
		}
	}
	return false, nil
}

// linkNames lists the root namespace's interfaces.
func linkNames() ([]string, error) {
	out, err := exec.Command("ip", "-j", "link", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -j link show: %w", err)
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("decode ip -j link show: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Name)
	}
	return names, nil
}

// netnsNames lists the named network namespaces (the files `ip netns add` mounts).
func netnsNames() ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", netnsDir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// setLink brings a root-namespace link up or down; Cut and Heal use it on a host's veth.
func setLink(name string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("link", "set", name, state)
}

// ip runs the ip tool and turns a failure into an error carrying its output.
func ip(args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
