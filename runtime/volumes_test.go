package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

func TestSetupHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, typ string
		wantErr   string // "" for success
		wantDir   bool
		wantFile  bool
	}{
		{filepath.Join(dir, "anything"), "", "", false, false},
		{filepath.Join(dir, "new/dir"), "DirectoryOrCreate", "", true, false},
		{dir, "Directory", "", true, false},
		{filepath.Join(dir, "missing"), "Directory", "is not a directory", false, false},
		{file, "Directory", "is not a directory", false, false},
		{filepath.Join(dir, "newfile"), "FileOrCreate", "", false, true},
		{file, "File", "", false, true},
		{dir, "File", "is not a file", false, false},
		{filepath.Join(dir, "nofile"), "File", "is not a file", false, false},
		{dir, "Socket", "not supported", false, false},
	} {
		err := setupHostPath(&api.HostPathVolumeSource{Path: tc.path, Type: ptr(api.HostPathType(tc.typ))})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %s: %v", tc.typ, tc.path, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %s: error %v, want %q", tc.typ, tc.path, err, tc.wantErr)
		}
		if fi, err := os.Stat(tc.path); tc.wantDir && (err != nil || !fi.IsDir()) || tc.wantFile && (err != nil || !fi.Mode().IsRegular()) {
			t.Errorf("%s %s: not created (%v)", tc.typ, tc.path, err)
		}
	}
}

// Volumes become bind mounts: an emptyDir under the pod's directory, a
// hostPath as it is, readOnly kept; the pod's managed files come first,
// idmapped in a pod with a user namespace of its own (the node writes
// them; emptyDirs are the pod's root's instead).
func TestVolumeMounts(t *testing.T) {
	host := t.TempDir()
	h := newHarnessAllowing(t, host)
	p := testPod("vols", "a")
	p.Spec.Volumes = []api.Volume{
		{Name: "scratch", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: filepath.Join(host, "data"), Type: ptr(api.HostPathType("DirectoryOrCreate"))}}},
	}
	p.Spec.Containers[0].VolumeMounts = []api.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "host", MountPath: "/data", ReadOnly: true},
	}
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	got := h.container(string(p.UID), "a", 0).spec.Mounts
	want := []mount{
		{Source: filepath.Join(h.r.podDir(string(p.UID)), "etc/hosts"), Destination: "/etc/hosts", IDMapped: true},
		{Source: filepath.Join(h.r.podDir(string(p.UID)), "etc/hostname"), Destination: "/etc/hostname", IDMapped: true},
		{Source: filepath.Join(h.r.podDir(string(p.UID)), "etc/resolv.conf"), Destination: "/etc/resolv.conf", IDMapped: true},
		{Source: filepath.Join(h.r.podDir(string(p.UID)), "volumes/scratch"), Destination: "/scratch"},
		{Source: filepath.Join(host, "data"), Destination: "/data", ReadOnly: true},
	}
	if len(got) != len(want) {
		t.Fatalf("mounts %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	hosts, err := os.ReadFile(want[0].Source)
	if err != nil || !strings.Contains(string(hosts), "127.0.0.1\tlocalhost\n") {
		t.Errorf("managed /etc/hosts: %q %v", hosts, err)
	}
	if hn, _ := os.ReadFile(want[1].Source); string(hn) != "vols\n" {
		t.Errorf("managed /etc/hostname: %q", hn)
	}
	if fi, err := os.Stat(want[3].Source); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v %v", fi, err)
	}
	// The emptyDir goes with the pod; the hostPath stays.
	h.r.SyncPods(nil)
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	assertNoDir(t, h.r.podDir(string(p.UID)))
	if _, err := os.Stat(filepath.Join(host, "data")); err != nil {
		t.Errorf("hostPath removed with the pod: %v", err)
	}
}

// A volume that cannot be set up holds the pod in ContainerCreating and
// says why with a FailedMount event; it starts once the volume can be.
func TestVolumeFailureHoldsPod(t *testing.T) {
	allowed := t.TempDir()
	h := newHarnessAllowing(t, allowed)
	dir := filepath.Join(allowed, "later")
	p := testPod("held", "a")
	p.Spec.Volumes = []api.Volume{{Name: "d", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: dir, Type: ptr(api.HostPathType("Directory"))}}}}
	h.r.SyncPods([]*api.Pod{p})
	waitUntil(t, "FailedMount", func() bool {
		for _, e := range h.eventsOf(string(p.UID)) {
			if e.Reason == eventFailedMount && strings.Contains(e.Message, `MountVolume.SetUp failed for volume "d" : hostPath type check failed: `+dir+" is not a directory") {
				return true
			}
		}
		return false
	})
	u := h.waitPhase(string(p.UID), api.PodPending)
	if w := u.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("state %+v", u.Status.ContainerStatuses[0].State)
	}
	if h.rt.createdCount() != 0 {
		t.Error("sandbox created without its volumes")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.waitPhase(string(p.UID), api.PodRunning)
}

// A deletion interrupts a pull that hangs: the pod goes at once.
func TestDeletionInterruptsPull(t *testing.T) {
	h := newHarness(t)
	h.images.mu.Lock()
	h.images.block = true
	h.images.mu.Unlock()
	p := testPod("stuck", "a")
	p.Spec.Containers[0].Image = "registry.example:5000/slow:1"
	h.r.SyncPods([]*api.Pod{p})
	waitUntil(t, "pull started", func() bool { return h.images.pullCount("registry.example:5000/slow:1") > 0 })
	h.waitSeen(string(p.UID), "Pulling shown while pulling", func(u PodUpdate) bool {
		for _, e := range u.Events {
			if e.Reason == eventPulling {
				return true
			}
		}
		return false
	})
	d := p.DeepCopy()
	now := api.NewTime(time.Now())
	d.DeletionTimestamp = &now
	start := time.Now()
	h.r.SyncPods([]*api.Pod{d})
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("removal took %v", took)
	}
}

// A pod deleted before it ever ran is removed (nothing to stop) and
// reported Removed.
func TestDeletedBeforeStart(t *testing.T) {
	h := newHarness(t)
	p := testPod("early", "a")
	now := api.NewTime(time.Now())
	p.DeletionTimestamp = &now
	h.r.SyncPods([]*api.Pod{p})
	h.waitFor(string(p.UID), "removed", func(u PodUpdate) bool { return u.Removed })
	if h.rt.createdCount() != 0 {
		t.Error("a pod deleted before it ran was started")
	}
}

// Run keeps the logs of running containers under LogMaxBytes.
func TestRunRotatesLogs(t *testing.T) {
	h := newHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.LogMaxBytes = minLogMaxBytes
			r.logRotateInterval = 20 * time.Millisecond
		}
		return r, err
	}
	h.start()
	p := testPod("chatty", "a")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	path := h.r.logPath(string(p.UID), "a", 0)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 1000 {
		f.WriteString("0123456789012345678901234567890123456789\n")
	}
	waitUntil(t, "rotation", func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() <= minLogMaxBytes
	})
}

func ptr[T any](v T) *T { return &v }
