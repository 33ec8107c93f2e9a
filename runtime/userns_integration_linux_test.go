package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testenv"
)

// usernsHarness is a real harness whose Root is reachable by a pod's
// root, an unprivileged user on the node (as the agent's data dir is,
// under /var/lib): the temporary directories above it are made
// searchable by others.
func usernsHarness(t *testing.T) *harness {
	t.Helper()
	testenv.NeedRoot(t)
	h := newRealHarness(t)
	for d := filepath.Dir(h.root); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// usernsPod is a busybox pod with an emptyDir at /data, a Memory one
// (tmpfs) at /mem, a downwardAPI volume (written by the node, on a tmpfs)
// at /info, and hostUsers as given (nil: the default, the host's user
// namespace).
func usernsPod(name string, hostUsers *bool) *api.Pod {
	p := busyboxPod(name, api.Container{Name: "app", Command: []string{"sh", "-c", "id -u > /data/created-by; exec sleep 3600"},
		VolumeMounts: []api.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "mem", MountPath: "/mem"}, {Name: "info", MountPath: "/info"}}})
	p.Spec.HostUsers = hostUsers
	p.Spec.Volumes = []api.Volume{
		{Name: "data", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{Medium: "Memory"}}},
		{Name: "info", VolumeSource: api.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
	}
	return p
}

// A pod with hostUsers: false runs as root in a user namespace of its
// own: `id -u` is 0, but /proc/self/uid_map maps it to the 65536 host IDs
// the node allocated, disjoint from another such pod's; what it creates
// in an emptyDir is owned by base+0 on the node; a file the node's root
// owns is not writable although the container is "root", and it cannot
// make a user namespace of its own (RuntimeDefault seccomp). A pod with
// the host's user namespace, the control, maps 0 to 0 and writes the
// host's file. An fsGroup owns the emptyDir as base+fsGroup on the node.
// The allocation is in the pod record and survives an agent restart, the
// pods running on; a container started after it joins the same
// namespace; a pod that goes frees its range.
func TestRealUserNamespace(t *testing.T) {
	h := usernsHarness(t)
	no := false
	a, b, host := usernsPod("userns-a", &no), usernsPod("userns-b", &no), usernsPod("hostusers", nil)
	a.Spec.SecurityContext = &api.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	// b's fsGroup owns its emptyDir: group 2000 in the pod, base+2000 on
	// the node.
	fsGroup := int64(2000)
	b.Spec.SecurityContext = &api.PodSecurityContext{FSGroup: &fsGroup}
	h.r.SyncPods([]*api.Pod{a, b, host})
	for _, p := range []*api.Pod{a, b, host} {
		h.waitPhase(string(p.UID), api.PodRunning)
	}
	// base is the pod's range as its record on disk has it.
	base := func(p *api.Pod) uint32 {
		t.Helper()
		st, err := readRecord(filepath.Join(h.r.podDir(string(p.UID)), recordFile))
		if err != nil {
			t.Fatal(err)
		}
		if st.UserNamespace == nil {
			t.Fatalf("pod %s has no user namespace in its record", p.Name)
		}
		return st.UserNamespace.hostUID()
	}
	baseA, baseB := base(a), base(b)
	if baseA == baseB || baseA%usernsLength != 0 || baseB%usernsLength != 0 || baseA < usernsLength || baseB < usernsLength {
		t.Fatalf("user namespaces at host IDs %d and %d: want two distinct multiples of 65536, above the host's", baseA, baseB)
	}

	hostFile := func(p *api.Pod) string {
		f := filepath.Join(h.r.podDir(string(p.UID)), "volumes", "data", "host-owned")
		if err := os.WriteFile(f, []byte("node\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, tc := range []struct {
		pod      *api.Pod
		uidMap   string // the fields of /proc/self/uid_map
		owner    uint32 // on the node, of what the pod created in the emptyDir
		group    uint32 // its group there
		hostFile bool   // whether its root may write a file the node's root owns
		// owners is what the pod sees of /etc/hosts, the downwardAPI file
		// (fsGroup's) and the image's /bin/sh
		owners string
	}{
		{a, fmt.Sprintf("0 %d 65536", baseA), baseA, baseA, false, "0:0\n0:0\n0:0\n"},
		{b, fmt.Sprintf("0 %d 65536", baseB), baseB, baseB + 2000, false, "0:0\n0:2000\n0:0\n"},
		{host, "0 0 4294967295", 0, 0, true, "0:0\n0:0\n0:0\n"},
	} {
		t.Run(tc.pod.Name, func(t *testing.T) {
			if out, code := h.exec(tc.pod.Name, "app", "id", "-u"); code != 0 || out != "0\n" {
				t.Errorf("id -u = %q (exit %d), want 0", out, code)
			}
			out, code := h.exec(tc.pod.Name, "app", "cat", "/proc/self/uid_map")
			if got := strings.Join(strings.Fields(out), " "); code != 0 || got != tc.uidMap {
				t.Errorf("/proc/self/uid_map = %q (exit %d), want %q", got, code, tc.uidMap)
			}
			createdBy := filepath.Join(h.r.podDir(string(tc.pod.UID)), "volumes", "data", "created-by")
			waitUntilFor(t, 10*time.Second, "the container to write /data/created-by", func() bool {
				b, _ := os.ReadFile(createdBy)
				return len(b) > 0
			})
			if out, _ := h.exec(tc.pod.Name, "app", "cat", "/data/created-by"); out != "0\n" {
				t.Errorf("/data/created-by = %q, want the container's uid 0", out)
			}
			var st syscall.Stat_t
			if err := syscall.Stat(createdBy, &st); err != nil {
				t.Fatal(err)
			}
			if st.Uid != tc.owner || st.Gid != tc.group {
				t.Errorf("the file the pod created is %d:%d on the node, want %d:%d", st.Uid, st.Gid, tc.owner, tc.group)
			}
			// The node's files (/etc/hosts, the downwardAPI volume) are
			// root's in the pod, as are the image's; the Memory emptyDir
			// is writable.
			for _, c := range []struct{ cmd, want string }{
				{"stat -c %u:%g /etc/hosts /info/name /bin/sh", tc.owners},
				{"cat /info/name", tc.pod.Name},
				{"touch /mem/x && stat -c %u /mem/x", "0\n"},
			} {
				if out, code := h.exec(tc.pod.Name, "app", "sh", "-c", c.cmd); code != 0 || out != c.want {
					t.Errorf("%s = %q (exit %d), want %q", c.cmd, out, code, c.want)
				}
			}
			f := hostFile(tc.pod)
			out, code = h.exec(tc.pod.Name, "app", "sh", "-c", "echo pod >> /data/host-owned")
			if wrote := code == 0; wrote != tc.hostFile {
				t.Errorf("writing a file the node's root owns: exit %d %q, want allowed=%v", code, out, tc.hostFile)
			}
			if b, _ := os.ReadFile(f); tc.hostFile != strings.Contains(string(b), "pod") {
				t.Errorf("the node's file is %q after the pod's write (allowed=%v)", b, tc.hostFile)
			}
		})
	}
	// RuntimeDefault refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN:
	// the pod cannot nest a namespace in which it would hold every
	// capability.
	if out, code := h.exec(a.Name, "app", "unshare", "-U", "true"); code == 0 {
		t.Errorf("unshare -U in a hostUsers: false pod succeeded: %q", out)
	}

	// The agent restarts; the pods run on, and keep their ranges.
	pidA := h.pidOf(a.Name, "app")
	h.restart()
	h.r.SyncPods([]*api.Pod{a, b})
	h.waitPhase(string(a.UID), api.PodRunning)
	if got := h.pidOf(a.Name, "app"); got != pidA {
		t.Errorf("pod a's container is pid %d after the restart, was %d", got, pidA)
	}
	if got := base(a); got != baseA {
		t.Errorf("pod a's user namespace moved from %d to %d across the restart", baseA, got)
	}
	if got := base(b); got != baseB {
		t.Errorf("pod b's user namespace moved from %d to %d across the restart", baseB, got)
	}
	// A container the new agent starts in an adopted sandbox joins the
	// pod's user namespace too (the sandbox's record keeps it).
	if err := syscall.Kill(pidA, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.waitFor(string(a.UID), "a's app restarted", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Running != nil
	})
	if out, _ := h.exec(a.Name, "app", "cat", "/proc/self/uid_map"); strings.Join(strings.Fields(out), " ") != fmt.Sprintf("0 %d 65536", baseA) {
		t.Errorf("a's restarted container: uid_map %q, want 0 %d 65536", out, baseA)
	}
	if out, code := h.exec(a.Name, "app", "sh", "-c", "cat /data/created-by && touch /data/again && stat -c %u /data/again"); code != 0 || out != "0\n0\n" {
		t.Errorf("a's restarted container with its emptyDir: %q (exit %d)", out, code)
	}
	// A new pod does not get a range the adopted ones hold; once b is
	// gone, its range is free again.
	c := usernsPod("userns-c", &no)
	h.r.SyncPods([]*api.Pod{a, b, c})
	h.waitPhase(string(c.UID), api.PodRunning)
	if got := base(c); got == baseA || got == baseB {
		t.Errorf("pod c got host ID %d, which an adopted pod holds", got)
	}
	if out, _ := h.exec(c.Name, "app", "cat", "/proc/self/uid_map"); !strings.Contains(out, fmt.Sprint(base(c))) {
		t.Errorf("pod c's uid_map %q does not map to its range %d", out, base(c))
	}
	h.r.SyncPods([]*api.Pod{a, c})
	waitUntilFor(t, time.Minute, "pod b removed", func() bool {
		_, err := os.Stat(h.r.podDir(string(b.UID)))
		return err != nil
	})
	if u, err := h.r.userns.allocate("probe"); err != nil || u.hostUID() != baseB {
		t.Errorf("after pod b went, the next range is %v (%v), want b's %d", u, err, baseB)
	}
	h.r.userns.release("probe")
}

// On a node whose pod directories are on a filesystem without idmapped
// mounts (ramfs here), a pod with hostUsers: false is refused at its
// sandbox with kubelet's FailedCreatePodSandBox event saying what cannot
// and where, and keeps trying (back-off); a pod with the host's users
// runs there as before.
func TestRealUserNamespaceUnsupported(t *testing.T) {
	testenv.NeedRoot(t)
	var pods string
	h := newRealHarnessWith(t, func(cfg *Config) {
		if pods != "" {
			return
		}
		pods = cfg.podsDir()
		if err := os.MkdirAll(pods, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("ramfs", pods, "ramfs", 0, "mode=0700"); err != nil {
			t.Fatalf("mount ramfs: %v", err)
		}
		// After the harness's own cleanup, which removes the pods.
		t.Cleanup(func() { _ = syscall.Unmount(pods, syscall.MNT_DETACH) })
	})
	for d := filepath.Dir(h.root); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	userns, plain := usernsPod("userns", &no), usernsPod("plain", nil)
	h.r.SyncPods([]*api.Pod{userns, plain})
	h.waitPhase(string(plain.UID), api.PodRunning)
	var msg string
	waitUntilFor(t, 30*time.Second, "FailedCreatePodSandBox", func() bool {
		for _, e := range h.eventsOf(string(userns.UID)) {
			if e.Reason == eventFailedCreatePod {
				msg = e.Message
				return true
			}
		}
		return false
	})
	t.Logf("event: %s", msg)
	for _, want := range []string{"Failed to create pod sandbox: ", "the container runtime does not support user namespaces",
		"idmapped mounts are not supported on " + pods + " (ramfs)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("event %q does not say %q", msg, want)
		}
	}
	if u := h.waitSeen(string(userns.UID), "a status", func(PodUpdate) bool { return true }); u.Status.Phase != api.PodPending {
		t.Errorf("the refused pod is %s, want Pending", describe(u))
	}
}

// A container whose user is outside its pod's user namespace (runAsUser
// 70000 with hostUsers: false) waits in CreateContainerConfigError with
// the ID and the namespace's range, not libcontainer's "chown
// /dev/stdout: invalid argument".
func TestRealUserNamespaceIDOutside(t *testing.T) {
	h := usernsHarness(t)
	no := false
	p := usernsPod("high", &no)
	uid := int64(70000)
	p.Spec.SecurityContext = &api.PodSecurityContext{RunAsUser: &uid}
	h.r.SyncPods([]*api.Pod{p})
	u := h.waitFor(string(p.UID), "CreateContainerConfigError", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
	msg := u.Status.ContainerStatuses[0].State.Waiting.Message
	if want := "user 70000 is outside the pod's user namespace (hostUsers: false maps IDs 0 to 65535)"; !strings.Contains(msg, want) {
		t.Errorf("waiting message %q does not say %q", msg, want)
	}
}
