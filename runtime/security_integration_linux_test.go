package runtime

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
)

// loadUserImage loads, as localhost/busybox-user:<tag>, the test image with
// USER user and a layer on top whose /etc/passwd has "app" (1000, primary
// group 1000) and whose /etc/group makes app a member of "extra" (1500).
func loadUserImage(t *testing.T, h *harness, tag, user string) string {
	t.Helper()
	img, err := testimage.Image()
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, f := range []struct{ name, body string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"},
		{"etc/group", "root:x:0:\napp:x:1000:\nextra:x:1500:app\nnogroup:x:65534:\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, l); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	cfg.User = user
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	ref := "localhost/busybox-user:" + tag
	nt, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := tarball.Write(nt, img, &archive); err != nil {
		t.Fatal(err)
	}
	if _, err := h.r.LoadImage(&archive); err != nil {
		t.Fatal(err)
	}
	return ref
}

// procStatus returns a field of /proc/<pid>/status ("Uid", "Groups"...).
func procStatus(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return ""
}

func waitingOf(u PodUpdate) *api.ContainerStateWaiting {
	if len(u.Status.ContainerStatuses) == 0 {
		return nil
	}
	return u.Status.ContainerStatuses[0].State.Waiting
}

// The image's USER (a uid, a name) is who the container runs as, with the
// groups of the image's /etc/group; runAsUser, runAsGroup, fsGroup and
// supplementalGroups change it; an unknown name, and runAsNonRoot with a
// root image, leave the container in CreateContainerConfigError with
// containerd's and kubelet's messages.
func TestRealImageUserAndRunAs(t *testing.T) {
	h := newRealHarness(t)
	numeric := loadUserImage(t, h, "uid", "1000")
	named := loadUserImage(t, h, "name", "app")
	ghost := loadUserImage(t, h, "ghost", "ghost")

	sleeper := api.Container{Name: "app", Command: []string{"sleep", "3600"}}
	withImage := func(p *api.Pod, ref string) *api.Pod { p.Spec.Containers[0].Image = ref; return p }
	byUID := withImage(busyboxPod("by-uid", sleeper), numeric)
	byName := withImage(busyboxPod("by-name", sleeper), named)
	override := withImage(busyboxPod("override", sleeper), numeric)
	override.Spec.SecurityContext = &api.PodSecurityContext{RunAsUser: ptr(int64(2000)), FSGroup: ptr(int64(3000)),
		SupplementalGroups: []int64{4000}}
	override.Spec.Containers[0].SecurityContext = &api.SecurityContext{RunAsGroup: ptr(int64(2500))}
	unknown := withImage(busyboxPod("unknown-user", sleeper), ghost)
	nonRoot := busyboxPod("non-root", sleeper)
	nonRoot.Spec.SecurityContext = &api.PodSecurityContext{RunAsNonRoot: ptr(true)}
	nonRootOK := withImage(busyboxPod("non-root-ok", sleeper), numeric)
	nonRootOK.Spec.SecurityContext = &api.PodSecurityContext{RunAsNonRoot: ptr(true)}
	h.r.SyncPods([]*api.Pod{byUID, byName, override, unknown, nonRoot, nonRootOK})

	for _, tt := range []struct {
		pod          *api.Pod
		uid, gid     string
		groups       string // /proc/<pid>/status Groups
		idU, idGroup string // what `id -u` and `id -G` print in an exec
	}{
		{pod: byUID, uid: "1000", gid: "1000", groups: "1000 1500", idU: "1000", idGroup: "1000 1500"},
		{pod: byName, uid: "1000", gid: "1000", groups: "1000 1500", idU: "1000", idGroup: "1000 1500"},
		// runAsUser 2000 has no passwd entry: no /etc/group memberships.
		{pod: override, uid: "2000", gid: "2500", groups: "2500 3000 4000", idU: "2000", idGroup: "2500 3000 4000"},
		{pod: nonRootOK, uid: "1000", gid: "1000", groups: "1000 1500", idU: "1000", idGroup: "1000 1500"},
	} {
		h.waitPhase(string(tt.pod.UID), api.PodRunning)
		pid := h.pidOf(tt.pod.Name, "app")
		if got := procStatus(t, pid, "Uid"); got != strings.Repeat(tt.uid+" ", 3)+tt.uid {
			t.Errorf("%s: Uid %q, want %s everywhere", tt.pod.Name, got, tt.uid)
		}
		if got := procStatus(t, pid, "Gid"); got != strings.Repeat(tt.gid+" ", 3)+tt.gid {
			t.Errorf("%s: Gid %q, want %s everywhere", tt.pod.Name, got, tt.gid)
		}
		if got := procStatus(t, pid, "Groups"); got != tt.groups {
			t.Errorf("%s: Groups %q, want %q", tt.pod.Name, got, tt.groups)
		}
		if out, code := h.exec(tt.pod.Name, "app", "id", "-u"); code != 0 || strings.TrimSpace(out) != tt.idU {
			t.Errorf("%s: exec id -u: %q, exit %d; want %s", tt.pod.Name, out, code, tt.idU)
		}
		if out, code := h.exec(tt.pod.Name, "app", "id", "-G"); code != 0 || strings.TrimSpace(out) != tt.idGroup {
			t.Errorf("%s: exec id -G: %q, exit %d; want %s", tt.pod.Name, out, code, tt.idGroup)
		}
	}

	// An agent restart re-adopts the container; an exec still runs as its
	// user.
	h.restart()
	h.r.SyncPods([]*api.Pod{byUID, byName, override, unknown, nonRoot, nonRootOK})
	h.waitPhase(string(override.UID), api.PodRunning)
	if out, code := h.exec("override", "app", "id"); code != 0 || !strings.HasPrefix(out, "uid=2000 gid=2500 groups=2500,3000,4000") {
		t.Errorf("exec after an agent restart: %q, exit %d", out, code)
	}

	for _, tt := range []struct {
		pod  *api.Pod
		want string
	}{
		{unknown, `unable to resolve user "ghost" in the image: no users found`},
		{nonRoot, fmt.Sprintf(`container has runAsNonRoot and image will run as root (pod: "non-root_default(%s)", container: app)`, nonRoot.UID)},
	} {
		u := h.waitFor(string(tt.pod.UID), "CreateContainerConfigError", func(u PodUpdate) bool {
			w := waitingOf(u)
			return w != nil && w.Reason == reasonCreateContainerConfigError
		})
		if msg := waitingOf(u).Message; !strings.Contains(msg, tt.want) {
			t.Errorf("%s: waiting message %q lacks %q", tt.pod.Name, msg, tt.want)
		}
	}
}

// readOnlyRootFilesystem makes the image's files read-only and leaves the
// volumes and the pod's /etc/hosts writable; dropping NET_RAW stops ping
// (which works with Docker's defaults); allowPrivilegeEscalation: false
// sets no_new_privs (unset by default, as kubelet); a safe sysctl is set in
// the pod's network namespace; fsGroup owns the emptyDir, setgid.
func TestRealSecurityContext(t *testing.T) {
	h := newRealHarness(t)
	sleeper := func(name string) api.Container {
		return api.Container{Name: name, Command: []string{"sleep", "3600"},
			VolumeMounts: []api.VolumeMount{{Name: "data", MountPath: "/data"}}}
	}
	locked := sleeper("locked")
	locked.SecurityContext = &api.SecurityContext{ReadOnlyRootFilesystem: ptr(true), AllowPrivilegeEscalation: ptr(false),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"NET_RAW"}}}
	priv := sleeper("priv")
	priv.SecurityContext = &api.SecurityContext{Privileged: ptr(true)}
	none := sleeper("none")
	none.SecurityContext = &api.SecurityContext{Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	p := busyboxPod("secured", locked, sleeper("plain"), priv, none)
	p.Spec.Volumes = []api.Volume{{Name: "data", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	p.Spec.SecurityContext = &api.PodSecurityContext{FSGroup: ptr(int64(2000)),
		Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}}}
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)

	for _, tt := range []struct {
		container string
		cmd       []string
		ok        bool
	}{
		{"locked", []string{"touch", "/x"}, false},
		{"locked", []string{"touch", "/data/x"}, true},
		{"locked", []string{"sh", "-c", "echo 10.0.0.9 extra >> /etc/hosts"}, true},
		{"plain", []string{"touch", "/x"}, true},
		{"locked", []string{"ping", "-c1", "-W2", "127.0.0.1"}, false},
		{"plain", []string{"ping", "-c1", "-W2", "127.0.0.1"}, true},
		{"locked", []string{"sh", "-c", "grep -q 'NoNewPrivs:\t1' /proc/self/status"}, true},
		{"plain", []string{"sh", "-c", "grep -q 'NoNewPrivs:\t0' /proc/self/status"}, true},
		{"plain", []string{"sh", "-c", "test $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start) = 0"}, true},
		// fsGroup: the volume's group, setgid, and a supplementary group.
		{"plain", []string{"sh", "-c", "ls -ldn /data | grep -q '^drwxrwsrwx .* 0 *2000 '"}, true},
		{"plain", []string{"sh", "-c", "id -G | grep -qw 2000"}, true},
		// privileged: mounts work, /proc/sys is writable, the node's
		// devices are there; not so by default.
		{"priv", []string{"mount", "-t", "tmpfs", "none", "/tmp"}, true},
		{"plain", []string{"mount", "-t", "tmpfs", "none", "/tmp"}, false},
		{"priv", []string{"sh", "-c", "echo 1 > /proc/sys/net/ipv4/tcp_syncookies"}, true},
		{"plain", []string{"sh", "-c", "echo 1 > /proc/sys/net/ipv4/tcp_syncookies"}, false},
		{"priv", []string{"test", "-e", "/dev/kmsg"}, true},
		{"plain", []string{"test", "-e", "/dev/kmsg"}, false},
		{"priv", []string{"sh", "-c", "grep -q 'CapEff:\t" + hostCaps(t) + "' /proc/self/status"}, true},
		{"none", []string{"sh", "-c", "grep -q 'CapEff:\t0000000000000000' /proc/self/status"}, true},
	} {
		out, code := h.exec("secured", tt.container, tt.cmd...)
		if (code == 0) != tt.ok {
			t.Errorf("%s: %v: exit %d (%s), want success %v", tt.container, tt.cmd, code, strings.TrimSpace(out), tt.ok)
		}
	}
	// The node's own value is untouched.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err != nil || strings.TrimSpace(string(b)) == "0" {
		t.Errorf("the node's ip_unprivileged_port_start: %q, %v", b, err)
	}
}

// setVolumeOwnership gives a volume to the fsGroup as kubelet's
// SetVolumeOwnership: group, group read (and write on a writable volume),
// setgid and search on directories.
func TestSetVolumeOwnership(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		readOnly          bool
		dirMode, fileMode os.FileMode
	}{
		{readOnly: true, dirMode: os.ModeDir | os.ModeSetgid | 0o755, fileMode: 0o640},
		{readOnly: false, dirMode: os.ModeDir | os.ModeSetgid | 0o775, fileMode: 0o660},
	} {
		dir := t.TempDir()
		if err := os.Mkdir(dir+"/a", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/a/b", []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir+"/a", 0o755); err != nil { // whatever the umask
			t.Fatal(err)
		}
		if err := setVolumeOwnership(dir, 2345, tt.readOnly); err != nil {
			t.Fatal(err)
		}
		for p, want := range map[string]os.FileMode{"a": tt.dirMode, "a/b": tt.fileMode} {
			fi, err := os.Stat(dir + "/" + p)
			if err != nil {
				t.Fatal(err)
			}
			if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 2345 || fi.Mode() != want {
				t.Errorf("readOnly %v: %s: gid %d, mode %v; want 2345, %v", tt.readOnly, p, gid, fi.Mode(), want)
			}
		}
	}
}

// A projected volume given to the fsGroup compares equal to its payload
// afterwards: the resync does not write it again every time.
func TestFSGroupProjectedStable(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	payload := map[string]fileProjection{"key": {Data: []byte("v"), Mode: 0o400 | int32(fsGroupRO)}}
	now := time.Now()
	if _, err := writeAtomic(dir, payload, now); err != nil {
		t.Fatal(err)
	}
	if err := setVolumeOwnership(dir, 2345, true); err != nil {
		t.Fatal(err)
	}
	changed, err := writeAtomic(dir, payload, now.Add(time.Second))
	if err != nil || changed {
		t.Fatalf("rewritten after the ownership change: %v, %v", changed, err)
	}
	fi, err := os.Stat(dir + "/key")
	if err != nil {
		t.Fatal(err)
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 2345 || fi.Mode() != 0o440 {
		t.Errorf("key: gid %d, mode %v; want 2345, -r--r-----", gid, fi.Mode())
	}
}

// hostCaps is the agent's own effective set, which is what a privileged
// container gets (containerd's WithAllCurrentCapabilities), as
// /proc/<pid>/status shows it.
func hostCaps(t *testing.T) string {
	return procStatus(t, os.Getpid(), "CapEff")
}
