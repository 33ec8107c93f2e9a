package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// victim is a directory with a file, outside the runtime's Root, that a
// crafted name would reach: Root/pods/../../victim.
func victim(t *testing.T, h *harness) string {
	t.Helper()
	dir := filepath.Join(filepath.Dir(h.root), "victim")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// A pod whose uid, volume or container names would walk out of the data
// dir is never run: no sandbox, no directory, and nothing outside Root is
// touched, neither when it arrives nor when it goes.
func TestUnsafeNamesNeverBecomePaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  func(*api.Pod)
	}{
		{"uid", func(p *api.Pod) { p.UID = "../../victim" }},
		{"uid dot-dot", func(p *api.Pod) { p.UID = ".." }},
		{"uid absolute", func(p *api.Pod) { p.UID = "/tmp" }},
		{"empty volume name", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}},
		{"volume name", func(p *api.Pod) {
			p.Spec.Volumes = []api.Volume{{Name: "../../../../victim", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
		}},
		{"container name", func(p *api.Pod) { p.Spec.Containers[0].Name = "../../../../victim" }},
		{"namespace", func(p *api.Pod) { p.Namespace = "../victim" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			v := victim(t, h)
			outside := entries(t, filepath.Dir(h.root))
			p := testPod("crafted", "a")
			tc.pod(p)
			if err := checkPodPathNames(p); !errors.Is(err, errUnsafeName) {
				t.Fatalf("checkPodPathNames = %v, want errUnsafeName", err)
			}
			good := testPod("good", "a")
			h.r.SyncPods([]*api.Pod{p, good})
			h.waitPhase(string(good.UID), api.PodRunning)
			if n := h.rt.createdCount(); n != 1 {
				t.Errorf("%d sandboxes created, want only the valid pod's", n)
			}
			h.r.SyncPods(nil)
			h.waitFor(string(good.UID), "removed", func(u PodUpdate) bool { return u.Removed })
			time.Sleep(50 * time.Millisecond) // any stray worker would act by now
			if _, err := os.Stat(filepath.Join(v, "precious")); err != nil {
				t.Errorf("file outside the data dir touched: %v", err)
			}
			if got := entries(t, filepath.Dir(h.root)); strings.Join(got, ",") != strings.Join(outside, ",") {
				t.Errorf("outside the data dir: %v, was %v", got, outside)
			}
			if got := entries(t, h.r.cfg.podsDir()); len(got) != 0 {
				t.Errorf("pods dir holds %v", got)
			}
		})
	}
}

// removePodDir checks the uid itself before it removes anything.
func TestRemovePodDirRefusesUnsafeUID(t *testing.T) {
	h := newHarness(t)
	v := victim(t, h)
	for _, uid := range []string{"../../victim", "..", "", "a/../../..", "/"} {
		if err := h.r.removePodDir(uid); !errors.Is(err, errUnsafeName) {
			t.Errorf("removePodDir(%q) = %v, want errUnsafeName", uid, err)
		}
	}
	if _, err := os.Stat(filepath.Join(v, "precious")); err != nil {
		t.Errorf("victim removed: %v", err)
	}
}

// A directory under Root/pods whose name is not a uid is not the
// runtime's: a restarted runtime neither adopts nor removes it.
func TestForeignPodDirIsLeftAlone(t *testing.T) {
	h := newHarness(t)
	foreign := filepath.Join(h.r.cfg.podsDir(), "not.a.uid")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	h.restart()
	p := testPod("next", "a")
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign directory removed: %v", err)
	}
}

// A hostPath outside the node's AllowedHostPaths is never set up or
// mounted: the pod waits with a FailedMount event naming the flag, as
// kubelet reports a mount failure, and nothing is created on the host.
func TestHostPathOutsideAllowedIsRefused(t *testing.T) {
	base := t.TempDir()
	allowed := filepath.Join(base, "data")
	outside := filepath.Join(base, "etc")
	for _, d := range []string{allowed, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(allowed, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
		allowed          []string
	}{
		{"disabled by default", outside, outside + " is not under any of the agent's --allowed-host-paths (empty: hostPath volumes are disabled)", nil},
		{"outside", outside, outside + " is not under any of the agent's --allowed-host-paths (" + allowed + ")", []string{allowed}},
		{"sibling with the same prefix", allowed + "2/x", "is not under any of the agent's --allowed-host-paths", []string{allowed}},
		{"dot-dot", allowed + "/../etc/new", "is not under any of the agent's --allowed-host-paths", []string{allowed}},
		{"symlink out", filepath.Join(allowed, "link", "new"), "(it resolves to " + filepath.Join(outside, "new") + ")", []string{allowed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessAllowing(t, tc.allowed...)
			p := testPod("host", "a")
			p.Spec.Volumes = []api.Volume{{Name: "h", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: tc.path, Type: ptr(api.HostPathType("DirectoryOrCreate"))}}}}
			p.Spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "h", MountPath: "/h"}}
			h.r.SyncPods([]*api.Pod{p})
			waitUntil(t, "FailedMount", func() bool {
				for _, e := range h.eventsOf(string(p.UID)) {
					if e.Reason == eventFailedMount && strings.HasPrefix(e.Message, `MountVolume.SetUp failed for volume "h" : `) &&
						strings.Contains(e.Message, tc.want) {
						return true
					}
				}
				return false
			})
			if h.rt.createdCount() != 0 {
				t.Error("sandbox created with a refused hostPath")
			}
			if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("created outside the allowed paths: %v", err)
			}
			if _, err := os.Stat(allowed + "2"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("created a sibling of the allowed path: %v", err)
			}
		})
	}
}

func TestConfigChecksAllowedHostPaths(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/data", true},
		{"/", true},
		{"data", false},
		{"/data/", false},
		{"/data/../etc", false},
		{"", false},
	} {
		cfg := DefaultConfig()
		cfg.NodeName = "n"
		cfg.AllowedHostPaths = []string{tc.path}
		err := cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("AllowedHostPaths %q: Validate() = %v, want ok %v", tc.path, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "AllowedHostPaths") {
			t.Errorf("error %q does not name the field", err)
		}
	}
}
