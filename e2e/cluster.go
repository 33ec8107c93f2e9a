package e2e

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Ports the agents listen on. Every host has its own address, so all agents use the
// defaults, as they would on real machines.
const (
	GossipPort = 7946
	RaftPort   = 7947
	APIPort    = 7948
)

// LogDirEnv names an environment variable: when set to a directory, the full agent
// logs of a failed cluster test are copied there (one subdirectory per test), so CI can
// keep them as artifacts after the temp dirs are gone.
const LogDirEnv = "GOSSIPOD_E2E_LOG_DIR"

// Timeouts of host operations. They bound waits so that a hung agent fails the test
// with its log instead of stalling the run; they are not performance targets.
const (
	healthTimeout = 30 * time.Second
	stopTimeout   = 15 * time.Second
	logTailLines  = 80
)

// Options configures NewCluster.
type Options struct {
	// Hosts is the number of hosts (network namespaces), at least 1.
	Hosts int
	// AgentArgs returns the arguments added, for host i, after the defaults
	// (--name host<i> --bind <ip> --data-dir <dir> --log-level debug). The cluster is
	// passed so the function can name other hosts' addresses. Nil means: every host
	// but host 0 joins host 0 (no bootstrap flag); see BootstrapExpect for the usual
	// choice.
	AgentArgs func(c *Cluster, i int) []string
	// NoAgents builds the hosts' network but starts no agent, for tests of the
	// harness itself or tests that start agents later with Start.
	NoAgents bool
}

// BootstrapExpect returns an AgentArgs that gives every host `--bootstrap-expect n`
// and a `--join` for each of the seed hosts (host 0 when none are named): the normal
// way to form a cluster, where no agent is special and the first n to meet bootstrap
// Raft together. Naming every host as a seed, as a production deployment would, lets
// any agent find the others again after a restart; a single seed reproduces the
// minimal setup where the seed itself has nobody else to join.
func BootstrapExpect(n int, seeds ...int) func(c *Cluster, i int) []string {
	if len(seeds) == 0 {
		seeds = []int{0}
	}
	return func(c *Cluster, i int) []string {
		args := []string{"--bootstrap-expect", strconv.Itoa(n)}
		for _, s := range seeds {
			args = append(args, "--join", c.IP(s))
		}
		return args
	}
}

// Cluster is a set of hosts, each a network namespace on a private bridge running one
// gossipod agent. Hosts are numbered from 0; host i's agent is named "host<i>". All of
// it is removed when the test ends, pass or fail. Its methods must be called from the
// test's goroutine, since they fail the test on error.
type Cluster struct {
	t      testing.TB
	opts   Options
	net    *network
	hosts  []*host
	client *http.Client // admin client of the API, 2 s timeout
	stream *http.Client // the same credentials without a timeout, for watches
	health *http.Client // /healthz only: any agent's certificate, see WaitHealthy
	tmp    string       // the test's temp dir holding the hosts' dirs
	creds  *credentials
	pods   *podState // the pod helpers' bookkeeping (pods.go)
}

// host is one host's agent state.
type host struct {
	name    string
	dataDir string
	logPath string
	agent   *Process // nil when the agent is not running
}

// NewCluster builds the network for opts.Hosts hosts and starts an agent on each,
// waiting until every agent answers /healthz. Teardown (agents killed, namespaces,
// veths and bridge deleted) is registered with t.Cleanup; when the test has failed,
// the tail of every agent's log is logged first.
func NewCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	RequireRoot(t)
	tmp := t.TempDir() // registered before our cleanup, so logs outlive the dump below
	nw, err := newNetwork(opts.Hosts)
	if err != nil {
		t.Fatalf("build test network: %v", err)
	}
	creds, err := newCredentials(tmp)
	if err != nil {
		nw.teardown()
		t.Fatalf("cluster credentials: %v", err)
	}
	c := &Cluster{
		t: t, opts: opts, net: nw, tmp: tmp, creds: creds,
		pods:   &podState{uids: map[string]string{}},
		client: &http.Client{Timeout: 2 * time.Second, Transport: creds.transport},
		stream: &http.Client{Transport: creds.transport},
		health: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}},
	}
	t.Cleanup(c.teardown)
	for i := range opts.Hosts {
		h := &host{name: fmt.Sprintf("host%d", i), dataDir: filepath.Join(tmp, fmt.Sprintf("host%d", i), "data")}
		h.logPath = filepath.Join(tmp, fmt.Sprintf("host%d", i), "agent.log")
		if err := os.MkdirAll(h.dataDir, 0o755); err != nil {
			t.Fatalf("make data dir: %v", err)
		}
		if err := searchableAbove(h.dataDir); err != nil {
			t.Fatal(err)
		}
		c.hosts = append(c.hosts, h)
	}
	t.Logf("cluster: %d hosts on bridge %s, %s/24 (root namespace is %s)",
		opts.Hosts, nw.bridge, fmt.Sprintf(subnetFmt, nw.slot, 0), nw.gateway())
	if opts.NoAgents {
		return c
	}
	for i := range c.hosts {
		c.launch(i)
	}
	for i := range c.hosts {
		c.WaitHealthy(i)
	}
	return c
}

// teardown stops everything NewCluster started. It reports leaks as test errors,
// because a leaked namespace or bridge would make later runs flaky.
func (c *Cluster) teardown() {
	if c.t.Failed() {
		c.reportLogs()
	}
	for _, h := range c.hosts {
		if h.agent != nil {
			h.agent.Kill()
		}
	}
	c.creds.transport.CloseIdleConnections()
	c.health.CloseIdleConnections()
	if err := c.net.teardown(); err != nil {
		c.t.Errorf("tear down test network: %v", err)
	}
}

// WithT returns a view of the cluster that reports to t, for use inside a t.Run
// subtest: failing a test must happen on its own goroutine, so a subtest cannot use the
// parent's Cluster. The view shares the hosts and network; teardown stays with the
// parent.
func (c *Cluster) WithT(t testing.TB) *Cluster {
	view := *c
	view.t = t
	return &view
}

// reportLogs shows the end of every agent's log in the test output, leaving out debug
// lines (they bury the state changes that explain a failure), and copies the whole logs
// to $GOSSIPOD_E2E_LOG_DIR when it is set, since the test's temp dir is about to go.
func (c *Cluster) reportLogs() {
	keep := os.Getenv(LogDirEnv)
	if keep != "" {
		keep = filepath.Join(keep, strings.ReplaceAll(c.t.Name(), "/", "_"))
		if err := os.MkdirAll(keep, 0o755); err != nil {
			c.t.Logf("keep logs: %v", err)
			keep = ""
		}
	}
	for i, h := range c.hosts {
		log, err := os.ReadFile(h.logPath)
		if err != nil {
			continue // never started: nothing to show
		}
		where := h.logPath + " (removed with the test's temp dir; set " + LogDirEnv + " to keep it)"
		if keep != "" {
			where = filepath.Join(keep, h.name+".log")
			if err := os.WriteFile(where, log, 0o644); err != nil {
				where = fmt.Sprintf("%s (copy failed: %v)", where, err)
			}
		}
		c.t.Logf("--- %s (%s) log without debug lines, full log: %s ---\n%s",
			h.name, c.IP(i), where, tailLines(withoutDebug(string(log)), logTailLines))
	}
}

// N is the number of hosts.
func (c *Cluster) N() int { return len(c.hosts) }

// Name is host i's agent name (and Raft server ID): "host<i>".
func (c *Cluster) Name(i int) string { return c.host(i).name }

// Index returns the index of the host whose agent is called name, or -1, to map a
// leader's name from `raft peers` back to a host to kill or cut.
func (c *Cluster) Index(name string) int {
	for i, h := range c.hosts {
		if h.name == name {
			return i
		}
	}
	return -1
}

// IP is host i's address on the bridge.
func (c *Cluster) IP(i int) string { c.host(i); return c.net.hosts[i].ip }

// APIAddr is the URL of host i's HTTPS API, as given to the CLI's --addr.
func (c *Cluster) APIAddr(i int) string { return fmt.Sprintf("https://%s:%d", c.IP(i), APIPort) }

// DataDir is host i's --data-dir; it survives Stop, Kill and Restart.
func (c *Cluster) DataDir(i int) string { return c.host(i).dataDir }

// Netns is the name of host i's network namespace (under /run/netns).
func (c *Cluster) Netns(i int) string { c.host(i); return c.net.hosts[i].netns }

// LogPath is the file receiving host i's agent stdout and stderr, across restarts.
func (c *Cluster) LogPath(i int) string { return c.host(i).logPath }

// Log returns host i's agent log so far (all runs of the agent).
func (c *Cluster) Log(i int) string { return readFile(c.host(i).logPath) }

// Running reports whether host i's agent process is alive.
func (c *Cluster) Running(i int) bool {
	h := c.host(i)
	return h.agent != nil && !h.agent.Exited()
}

// AgentPid is the process id of host i's running agent, or 0 when none runs, e.g. to
// read its memory use from /proc. nsenter execs the agent in place, so this is the
// agent itself.
func (c *Cluster) AgentPid(i int) int {
	if !c.Running(i) {
		return 0
	}
	return c.host(i).agent.Pid()
}

// AgentArgv is the full command line host i's agent runs with (without nsenter), for
// test messages and for tests that need to see what was passed.
func (c *Cluster) AgentArgv(i int) []string {
	h := c.host(i)
	argv := []string{BuildBinary(c.t), "agent",
		"--name", h.name,
		"--bind", c.IP(i),
		"--data-dir", h.dataDir,
		"--log-level", "debug",
		"--token-file", c.creds.tokenFile,
	}
	switch {
	case c.opts.AgentArgs != nil:
		argv = append(argv, c.opts.AgentArgs(c, i)...)
	case i > 0:
		argv = append(argv, "--join", c.IP(0))
	}
	return argv
}

// Start starts host i's agent with the same name, address and data dir it had, and
// waits for /healthz. It is how a test brings a host back after Stop or Kill.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	if c.Running(i) {
		c.t.Fatalf("start %s: agent already running", c.Name(i))
	}
	c.launch(i)
	c.WaitHealthy(i)
}

// launch starts host i's agent inside its namespace without waiting. nsenter is used
// rather than `ip netns exec`, which remounts /sys and would hide the cgroup
// hierarchies from the agent; with only --net, nsenter execs the agent in place, so
// signals go straight to it.
func (c *Cluster) launch(i int) {
	c.t.Helper()
	p, err := startProcess(c.LogPath(i), c.nsenter(i, c.AgentArgv(i)))
	if err != nil {
		c.t.Fatalf("start %s: %v", c.Name(i), err)
	}
	c.host(i).agent = p
}

// Stop sends host i's agent SIGTERM and waits for it to exit; failing to exit in time
// fails the test (the agent is then killed).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	h := c.host(i)
	if h.agent == nil {
		c.t.Fatalf("stop %s: not started", h.name)
	}
	if err := h.agent.Stop(stopTimeout); err != nil {
		c.t.Fatalf("stop %s: %v", h.name, err)
	}
}

// Kill SIGKILLs host i's agent, as a crash or power loss would.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	h := c.host(i)
	if h.agent == nil {
		c.t.Fatalf("kill %s: not started", h.name)
	}
	if err := h.agent.Kill(); err != nil {
		c.t.Fatalf("kill %s: %v", h.name, err)
	}
}

// Restart stops host i's agent gracefully and starts it again on the same data dir.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	c.Start(i)
}

// Cut partitions host i from everyone (other hosts and the test process) by taking its
// link to the bridge down; its agent keeps running, as on a machine whose cable was
// pulled.
func (c *Cluster) Cut(i int) {
	c.t.Helper()
	c.host(i)
	if err := setLink(c.net.hosts[i].veth, false); err != nil {
		c.t.Fatalf("cut %s: %v", c.Name(i), err)
	}
}

// Heal reconnects a host cut off by Cut.
func (c *Cluster) Heal(i int) {
	c.t.Helper()
	c.host(i)
	if err := setLink(c.net.hosts[i].veth, true); err != nil {
		c.t.Fatalf("heal %s: %v", c.Name(i), err)
	}
}

// WaitHealthy waits until host i's agent answers GET /healthz with 200. It fails the
// test at once, with the agent's log, if the agent exits meanwhile.
func (c *Cluster) WaitHealthy(i int) {
	c.t.Helper()
	h := c.host(i)
	url := c.APIAddr(i) + "/healthz"
	deadline := time.Now().Add(healthTimeout)
	var last error
	for time.Now().Before(deadline) {
		if h.agent == nil || h.agent.Exited() {
			var exit error
			if h.agent != nil {
				exit = h.agent.ExitError()
			}
			c.t.Fatalf("%s: agent exited before serving %s (%v); log:\n%s", h.name, url, exit, tailLines(c.Log(i), logTailLines))
		}
		// /healthz is open and says only that the process serves; a test may start an
		// agent with another cluster's token (and so another CA), which must still
		// count as up. Whom to trust is checked by every other request.
		resp, err := c.health.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s: %s not healthy within %v: %v", h.name, url, healthTimeout, last)
}

// Exec runs a command inside host i's network namespace and waits for it, e.g. to
// probe another host from this one's point of view.
func (c *Cluster) Exec(i int, timeout time.Duration, argv ...string) Result {
	c.t.Helper()
	return runCommand(c.t, timeout, c.nsenter(i, argv))
}

// StartIn starts a long-running command inside host i's network namespace, logging to
// a file named logName in the test's temp dir; it is killed when the test ends.
func (c *Cluster) StartIn(i int, logName string, argv ...string) *Process {
	c.t.Helper()
	return StartProcess(c.t, filepath.Join(c.t.TempDir(), logName), c.nsenter(i, argv)...)
}

// nsenter prefixes argv to run inside host i's network namespace.
func (c *Cluster) nsenter(i int, argv []string) []string {
	return append([]string{"nsenter", "--net=" + filepath.Join(netnsDir, c.Netns(i)), "--"}, argv...)
}

// host returns host i, failing the test on a bad index (a bug in the test).
func (c *Cluster) host(i int) *host {
	if i < 0 || i >= len(c.hosts) {
		c.t.Fatalf("host index %d out of range 0..%d", i, len(c.hosts)-1)
	}
	return c.hosts[i]
}

// searchableAbove adds search permission for others to every directory above dataDir
// up to the system's temp dir, as a real node's /var/lib has it. The root of a pod with
// `hostUsers: false` is an unprivileged user on the node, and reaches the pod's root
// filesystem under the data dir by path; the agent makes its data dir searchable
// (runtime.MakeSearchable), but the test's temp dirs above it are 0700. Nothing
// becomes listable or readable to others.
func searchableAbove(dataDir string) error {
	top := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dataDir); d != top && d != filepath.Dir(d); d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("make the data dir's parents searchable: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o001 == 0 {
			if err := os.Chmod(d, perm|0o001); err != nil {
				return fmt.Errorf("make %s searchable for pods with user namespaces: %w", d, err)
			}
		}
	}
	return nil
}

// withoutDebug drops the slog debug lines of a log.
func withoutDebug(log string) string {
	lines := strings.Split(log, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if !strings.Contains(l, " level=DEBUG ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// readFile returns a file's content, or a note saying why it could not be read.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return string(b)
}
