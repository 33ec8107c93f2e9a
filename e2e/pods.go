package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gossipod/gossipod/internal/testimage"
)

// PodList is the part of `gossipod get pods -o json` (a Kubernetes PodList) the tests
// read. Like NodeList, it is decoded from the wire format a kubectl user sees, not with
// the api package's types.
type PodList struct {
	Items []Pod `json:"items"`
}

// Pod is one pod as `get pods NAME -o json` prints it.
type Pod struct {
	Metadata struct {
		Name              string `json:"name"`
		Namespace         string `json:"namespace"`
		UID               string `json:"uid"`
		ResourceVersion   string `json:"resourceVersion"`
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase                 string            `json:"phase"`
		Reason                string            `json:"reason"`
		Message               string            `json:"message"`
		Conditions            []PodCondition    `json:"conditions"`
		HostIP                string            `json:"hostIP"`
		PodIP                 string            `json:"podIP"`
		StartTime             string            `json:"startTime"`
		InitContainerStatuses []ContainerStatus `json:"initContainerStatuses"`
		ContainerStatuses     []ContainerStatus `json:"containerStatuses"`
	} `json:"status"`
}

// PodCondition is a Kubernetes pod condition such as PodScheduled=False.
type PodCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// ContainerStatus is one entry of a pod's (init) container statuses.
type ContainerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int            `json:"restartCount"`
	ContainerID  string         `json:"containerID"`
	State        ContainerState `json:"state"`
}

// ContainerState is a container's state; exactly one member is set.
type ContainerState struct {
	Waiting *struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"waiting"`
	Running *struct {
		StartedAt string `json:"startedAt"`
	} `json:"running"`
	Terminated *struct {
		ExitCode   int    `json:"exitCode"`
		Reason     string `json:"reason"`
		StartedAt  string `json:"startedAt"`
		FinishedAt string `json:"finishedAt"`
	} `json:"terminated"`
}

// Condition returns the pod's condition of that type.
func (p Pod) Condition(typ string) (PodCondition, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c, true
		}
	}
	return PodCondition{}, false
}

// Container returns the status of the app container called name.
func (p Pod) Container(name string) (ContainerStatus, bool) {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == name {
			return s, true
		}
	}
	return ContainerStatus{}, false
}

// Running is nil when the pod is Running with every app container running (and none
// restarted), the usual "it works" wait of a test, and otherwise says what is missing.
func (p Pod) Running() error {
	if p.Status.Phase != "Running" {
		return fmt.Errorf("pod %s is %q on node %q, want Running; status %+v", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName, p.Status)
	}
	if len(p.Status.ContainerStatuses) == 0 {
		return fmt.Errorf("pod %s is Running without container statuses", p.Metadata.Name)
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Running == nil {
			return fmt.Errorf("pod %s: container %s is not running: %+v", p.Metadata.Name, s.Name, s.State)
		}
	}
	return nil
}

// podState is what the cluster keeps for the pod helpers, shared by every WithT view.
type podState struct {
	mu    sync.Mutex
	uids  map[string]string // pod UID -> namespace/name, of every pod a helper saw
	image string            // test image archive, built on first use
}

// track remembers the UIDs of pods, so that the final leftover check knows them even
// when the pods are gone from the API.
func (c *Cluster) track(pods ...Pod) {
	c.pods.mu.Lock()
	defer c.pods.mu.Unlock()
	for _, p := range pods {
		if p.Metadata.UID != "" {
			c.pods.uids[p.Metadata.UID] = p.Metadata.Namespace + "/" + p.Metadata.Name
		}
	}
}

// trackedUIDs returns the UIDs of every pod seen so far.
func (c *Cluster) trackedUIDs() []string {
	c.pods.mu.Lock()
	defer c.pods.mu.Unlock()
	var uids []string
	for u := range c.pods.uids {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	return uids
}

// Pods returns the pods in host i's replica: `get pods -o json` plus args (for
// example "-A", "-n", "ns", "-l", "app=x"). Like Members, it returns errors for polling.
func (c *Cluster) Pods(i int, args ...string) (PodList, error) {
	c.t.Helper()
	var pl PodList
	err := c.decodeJSON(i, &pl, append([]string{"get", "pods", "-o", "json"}, args...)...)
	c.track(pl.Items...)
	return pl, err
}

// Pod returns one pod of the default namespace as host i sees it.
func (c *Cluster) Pod(i int, name string) (Pod, error) {
	c.t.Helper()
	var p Pod
	err := c.decodeJSON(i, &p, "get", "pods", name, "-o", "json")
	c.track(p)
	return p, err
}

// WaitPod polls pod name on host i until check accepts it, and returns it; the test
// fails with check's last complaint after timeout.
func (c *Cluster) WaitPod(i int, name string, timeout time.Duration, check func(Pod) error) Pod {
	c.t.Helper()
	var p Pod
	Eventually(c.t, timeout, func() error {
		var err error
		if p, err = c.Pod(i, name); err != nil {
			return err
		}
		return check(p)
	})
	return p
}

// Apply runs `gossipod apply -f` on host i with manifest written to a file of the
// test's temp dir, and returns the result for the caller to judge.
func (c *Cluster) Apply(i int, manifest string) Result {
	c.t.Helper()
	f, err := os.CreateTemp(c.t.TempDir(), "manifest-*.yaml")
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := f.WriteString(manifest); err != nil {
		c.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
	return c.RunOn(i, "apply", "-f", f.Name())
}

// MustApply is Apply that fails the test unless apply succeeds.
func (c *Cluster) MustApply(i int, manifest string) {
	c.t.Helper()
	if res := c.Apply(i, manifest); res.ExitCode != 0 || res.TimedOut {
		c.t.Fatalf("apply on %s failed:\n%s", c.Name(i), res)
	}
}

// PrivilegedNamespace labels namespace ns pod-security.kubernetes.io/enforce=privileged
// through host i, as Kubernetes' e2e framework does for the tests whose pods use the
// host: the cluster's default Pod Security level, baseline, refuses hostPath volumes
// and hostPorts.
func (c *Cluster) PrivilegedNamespace(i int, ns string) {
	c.t.Helper()
	c.MustApply(i, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n", ns))
}

// TestImage returns the path of the busybox test image archive (localhost/busybox:latest),
// built with internal/testimage on first use. Without a static busybox on the machine
// the test skips, or fails under CI=true.
func (c *Cluster) TestImage() string {
	c.t.Helper()
	c.pods.mu.Lock()
	defer c.pods.mu.Unlock()
	if c.pods.image != "" {
		return c.pods.image
	}
	path := filepath.Join(c.tmp, "images", "busybox.tar")
	if err := testimage.Build(path); err != nil {
		if errors.Is(err, testimage.ErrNoBusybox) && os.Getenv("CI") != "true" {
			c.t.Skipf("test image: %v", err)
		}
		c.t.Fatalf("build the test image: %v", err)
	}
	c.pods.image = path
	return path
}

// LoadImage imports the test image into host i's image store with `gossipod image load`
// against host i's API, as an operator would on each machine.
func (c *Cluster) LoadImage(i int) {
	c.t.Helper()
	c.LoadArchive(i, c.TestImage(), testimage.Reference)
}

// LoadArchive imports the docker archive at path, which holds the image ref, into host
// i's image store with `gossipod image load`, e.g. a variant of the test image written
// with testimage.Write.
func (c *Cluster) LoadArchive(i int, path, ref string) {
	c.t.Helper()
	res := c.RunOn(i, "image", "load", path)
	if err := res.Err(); err != nil {
		c.t.Fatalf("load %s into %s: %v", ref, c.Name(i), err)
	}
	if !strings.Contains(res.Stdout, ref) {
		c.t.Fatalf("image load on %s did not report %s:\n%s", c.Name(i), ref, res)
	}
}

// podGoneTimeout bounds a pod's deletion: its containers get --now's one second, then
// the node tears the sandbox down and confirms.
const podGoneTimeout = 60 * time.Second

// DeletePod deletes pod name (default namespace) through host i with `delete pod --now`,
// which waits until the pod is gone from the API, and then waits until nothing of it is
// left on any host: no process, mount or cgroup. It fails the test otherwise.
func (c *Cluster) DeletePod(i int, name string) {
	c.t.Helper()
	p, err := c.Pod(i, name)
	if err != nil {
		c.t.Fatalf("delete pod %s: %v", name, err)
	}
	res := c.RunOn(i, "delete", "pod", name, "--now", "--timeout", podGoneTimeout.String())
	if err := res.Err(); err != nil {
		c.t.Fatalf("delete pod %s through %s: %v", name, c.Name(i), err)
	}
	c.WaitNoLeftovers(p.Metadata.UID)
}

// WaitNoLeftovers waits until no process, mount or cgroup of the pods with these UIDs
// remains on the machine (LeftoversOf), and fails the test with what is left otherwise.
func (c *Cluster) WaitNoLeftovers(uids ...string) {
	c.t.Helper()
	Eventually(c.t, podGoneTimeout, func() error { return c.LeftoversOf(uids...) })
}

// LeftoversOf reports what remains on this machine of the pods with the given UIDs,
// whichever host ran them: processes in their cgroups (the /pause process included),
// mounts under any host's data dir whose path names the pod, their cgroup directories
// (<hierarchy>/gossipod/pod<uid>), and files or directories under the data dirs named
// after them. Nil means nothing is left.
func (c *Cluster) LeftoversOf(uids ...string) error {
	var left []string
	mounts := c.mountsUnderDataDirs()
	for _, u := range uids {
		if u == "" {
			continue
		}
		for _, pr := range processesInPodCgroup(u) {
			left = append(left, fmt.Sprintf("pod %s: process %d %q", u, pr.pid, pr.cmdline))
		}
		for _, m := range mounts {
			if strings.Contains(m, u) {
				left = append(left, fmt.Sprintf("pod %s: mount %s", u, m))
			}
		}
		for _, d := range podCgroupDirs(u) {
			left = append(left, fmt.Sprintf("pod %s: cgroup %s", u, d))
		}
		for _, p := range c.pathsNaming(u) {
			left = append(left, fmt.Sprintf("pod %s: file %s", u, p))
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind:\n  %s", strings.Join(left, "\n  "))
	}
	return nil
}

// Leftovers reports anything left of any pod this cluster had: LeftoversOf every pod
// UID the helpers saw, and any mount at all under a host's data dir. Other clusters'
// pods (other tests on the same machine) are not this cluster's business.
func (c *Cluster) Leftovers() error {
	var left []string
	if err := c.LeftoversOf(c.trackedUIDs()...); err != nil {
		left = append(left, err.Error())
	}
	if mounts := c.mountsUnderDataDirs(); len(mounts) > 0 {
		left = append(left, "mounts under the data dirs:\n  "+strings.Join(mounts, "\n  "))
	}
	if len(left) > 0 {
		return errors.New(strings.Join(left, "\n"))
	}
	return nil
}

// pathsNaming lists the files and directories under the hosts' data dirs whose name
// contains s (a pod UID: the runtime names a pod's directories, state and logs by it).
func (c *Cluster) pathsNaming(s string) []string {
	var found []string
	for _, h := range c.hosts {
		filepath.WalkDir(h.dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // vanished meanwhile, or unreadable: not ours to judge
			}
			if strings.Contains(d.Name(), s) {
				found = append(found, path)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
	}
	return found
}

// CleanupPods registers, to run before the cluster's teardown, the deletion of every
// pod still in the cluster (`delete pods --all --now` in each namespace, through a
// running agent) and a check that nothing of any pod remains (Leftovers). Call it right
// after NewCluster: cleanups run last-in first-out, so the agents are still up. Whatever
// is left is reported as a test error and then removed by force, so that one broken
// test does not leave processes, mounts or cgroups behind for the next.
func (c *Cluster) CleanupPods() {
	c.t.Cleanup(func() {
		c.t.Helper()
		if err := c.deleteAllPods(); err != nil {
			c.t.Errorf("clean up pods: %v", err)
		}
		var err error
		deadline := time.Now().Add(podGoneTimeout)
		for {
			if err = c.Leftovers(); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(pollInterval)
		}
		if err != nil {
			c.t.Errorf("after deleting every pod: %v", err)
			c.forceClean()
		}
	})
}

// deleteAllPods deletes every pod through the first running agent that lists them.
func (c *Cluster) deleteAllPods() error {
	var errs []error
	for i := range c.N() {
		if !c.Running(i) {
			continue
		}
		pl, err := c.Pods(i, "-A")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		namespaces := map[string]bool{}
		for _, p := range pl.Items {
			namespaces[p.Metadata.Namespace] = true
		}
		for ns := range namespaces {
			res := c.RunOn(i, "delete", "pods", "--all", "-n", ns, "--now", "--timeout", podGoneTimeout.String())
			if err := res.Err(); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no running agent lists the pods: %v", errors.Join(errs...))
}

// forceClean kills what Leftovers found and removes the pods' mounts and cgroups.
func (c *Cluster) forceClean() {
	uids := c.trackedUIDs()
	for _, u := range uids {
		for _, pr := range processesInPodCgroup(u) {
			syscall.Kill(pr.pid, syscall.SIGKILL)
		}
	}
	time.Sleep(time.Second)
	mounts := c.mountsUnderDataDirs()
	for j := len(mounts) - 1; j >= 0; j-- { // the deepest last mounted, first
		syscall.Unmount(mounts[j], syscall.MNT_DETACH)
	}
	for _, u := range uids {
		for _, d := range podCgroupDirs(u) {
			removeCgroupTree(d)
		}
	}
}

// underDataDir reports whether path lies under one of the hosts' data dirs.
func (c *Cluster) underDataDir(path string) (string, bool) {
	if path == "" {
		return "", false
	}
	for _, h := range c.hosts {
		if path == h.dataDir || strings.HasPrefix(path, h.dataDir+"/") {
			return h.dataDir, true
		}
	}
	return "", false
}

// mountsUnderDataDirs lists the mount points, in mount order, under any host's data
// dir. The agents run in the root mount namespace (nsenter enters only the network
// namespace), so the test process sees every mount they make.
func (c *Cluster) mountsUnderDataDirs() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{"(cannot read /proc/self/mountinfo: " + err.Error() + ")"}
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if _, ok := c.underDataDir(mp); ok {
			mounts = append(mounts, mp)
		}
	}
	return mounts
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// proc is one process of the machine.
type proc struct {
	pid     int
	cmdline string
	cgroups string // the content of /proc/<pid>/cgroup
}

// allProcesses lists the machine's processes (the test runs in the root PID namespace,
// so pods' processes are visible with their host PIDs).
func allProcesses() []proc {
	entries, _ := os.ReadDir("/proc")
	var ps []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		cmd, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue // gone meanwhile
		}
		cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
		ps = append(ps, proc{
			pid:     pid,
			cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")),
			cgroups: string(cg),
		})
	}
	return ps
}

// processesInPodCgroup lists the processes whose cgroup (any controller) is the pod's
// or below it.
func processesInPodCgroup(uid string) []proc {
	var in []proc
	for _, pr := range allProcesses() {
		if strings.Contains(pr.cgroups, "/pod"+uid+"\n") || strings.Contains(pr.cgroups, "/pod"+uid+"/") {
			in = append(in, pr)
		}
	}
	return in
}

// cgroupRoot is where the agents create pod cgroups (runtime.DefaultCgroupRoot), in
// every hierarchy mounted under /sys/fs/cgroup (v1 controllers, or the v2 root).
const cgroupRoot = "gossipod"

// podCgroupDirs lists the pod<uid> cgroup directories that exist.
func podCgroupDirs(uid string) []string {
	var dirs []string
	for _, pattern := range []string{
		filepath.Join("/sys/fs/cgroup", "*", cgroupRoot, "pod"+uid),
		filepath.Join("/sys/fs/cgroup", cgroupRoot, "pod"+uid),
	} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	return dirs
}

// removeCgroupTree removes a cgroup directory and its children, deepest first (cgroup
// directories are removed with rmdir; their files are not real files).
func removeCgroupTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeCgroupTree(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}
