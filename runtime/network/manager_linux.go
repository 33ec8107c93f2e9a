package network

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/coreos/go-iptables/iptables"
	"golang.org/x/sys/unix"
)

// requiredPlugins are the CNI plugins Setup and Teardown execute.
var requiredPlugins = []string{"loopback", "bridge", "host-local", "portmap"}

// Manager attaches pods to the node's pod network and keeps the node's routes and
// forwarding rules. All its methods are safe for concurrent use: calls for the same pod
// id are serialized, the CNI plugins of different pods run one after the other (see
// cniMu), and SetPodCIDR waits for running Setups and Teardowns.
//
// Every method acts in the network namespace of the calling OS thread; in the agent
// that is the host's. (Tests run one Manager per simulated host by calling it from a
// goroutine locked to a thread inside that host's namespace.)
type Manager struct {
	cfg     Config
	log     *slog.Logger
	cluster netip.Prefix
	cni     *libcni.CNIConfig
	ipt     *iptables.IPTables
	lock    *os.File // flock on Root/lock, held until Close
	pods    keyedMutex

	// cniMu runs the plugins one pod at a time. portmap creates its shared chains
	// with check-then-append, which races between concurrent plugin processes (seen
	// here: CNI-HOSTPORT-SETMARK got its rule twice); an ADD takes ~15 ms, so
	// serializing costs little.
	cniMu sync.Mutex

	// mu guards the fields below. Setup and Teardown hold it for reading while they
	// run, SetPodCIDR and Close for writing.
	mu      sync.RWMutex
	podCIDR netip.Prefix              // zero until SetPodCIDR
	podList *libcni.NetworkConfigList // bridge + portmap, for pods with hostPorts
	// podListNoPorts is podList without portmap, for pods without hostPorts.
	podListNoPorts *libcni.NetworkConfigList
	closed         bool
	// guardNS is the network namespace GuardAgentPorts installed FilterTable in,
	// from which Close removes it; nil when it did not.
	guardNS *os.File

	// syncMu serializes SyncRoutes and the iptables rule sync it shares with
	// SetPodCIDR.
	syncMu sync.Mutex
}

// New validates cfg, checks that the plugins and iptables are installed, creates Root
// and takes its lock, and loads the pod CIDR persisted by an earlier run, so that
// Teardown works after a restart even before SetPodCIDR. It changes nothing in the
// kernel.
func New(cfg Config) (_ *Manager, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.PluginDirs = append([]string(nil), cfg.PluginDirs...) // never share the caller's slice
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m.log = m.log.With("component", "network")
	m.cluster, _ = parseCIDR(cfg.ClusterCIDR, 30) // validated above

	for _, p := range requiredPlugins {
		if _, err := findPlugin(cfg.PluginDirs, p); err != nil {
			return nil, err
		}
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil, fmt.Errorf("iptables is needed for masquerading and hostPorts (apt-get install iptables): %w", err)
	}
	if m.ipt, err = iptables.NewWithProtocol(iptables.ProtocolIPv4); err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}

	for _, d := range []string{cfg.Root, m.cacheDir(), m.ipamDir(), m.recordDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create network state directory: %w", err)
		}
	}
	if m.lock, err = lockRoot(filepath.Join(cfg.Root, "lock")); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.lock.Close()
		}
	}()
	// Holding the lock, no other writer is left: a temporary file is what
	// a killed agent was writing (writeFileAtomic), never to be renamed.
	for _, d := range []string{cfg.Root, m.recordDir()} {
		if err := removeStaleTemps(d); err != nil {
			return nil, err
		}
	}
	m.cni = libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, m.cacheDir(), nil)

	prefix, err := m.loadPodCIDR()
	if err != nil {
		return nil, err
	}
	if prefix.IsValid() {
		if err := m.usePodCIDR(prefix); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Close removes FilterTable if GuardAgentPorts installed it (the agent is stopping
// cleanly: its ports close with it) and releases Root's lock. It leaves the pods'
// networking, routes and iptables rules in place: pods keep running while the agent
// restarts. Calling it again is a no-op.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return errors.Join(m.closeGuard(), m.lock.Close())
}

// Paths under Root.
func (m *Manager) cacheDir() string    { return filepath.Join(m.cfg.Root, "cache") }
func (m *Manager) ipamDir() string     { return filepath.Join(m.cfg.Root, "ipam") }
func (m *Manager) recordDir() string   { return filepath.Join(m.cfg.Root, "sandboxes") }
func (m *Manager) podCIDRFile() string { return filepath.Join(m.cfg.Root, "pod-cidr") }
func (m *Manager) confListFile() string {
	return filepath.Join(m.cfg.Root, NetworkName+".conflist")
}

// findPlugin returns the path of plugin in the first of dirs that has it.
func findPlugin(dirs []string, plugin string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, plugin)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("CNI plugin %q not found in %v (apt-get install containernetworking-plugins)", plugin, dirs)
}

// lockRoot takes an exclusive, non-blocking flock on path: two agents sharing one
// state directory would hand out the same addresses.
func lockRoot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open network state lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// keyedMutex serializes work per key (a pod id) without a lock per pod forever.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
