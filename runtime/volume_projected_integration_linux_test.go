package runtime

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	corev1 "k8s.io/api/core/v1"
)

// newRealHarnessWithObjects is newRealHarness whose runtime reads
// ConfigMaps and Secrets from the returned fake state.
func newRealHarnessWithObjects(t *testing.T) (*harness, *objectState) {
	t.Helper()
	objs := newObjectState()
	h := newRealHarness(t)
	h.stop()
	build := h.build
	h.build = func() (*Runtime, error) {
		r, err := build()
		if err == nil {
			r.cfg.ConfigMap, r.cfg.Secret = objs.configMap, objs.secret
		}
		return r, err
	}
	h.start()
	h.r.backoff = realBackoff
	return h, objs
}

// A real container reads configMap, secret and projected volumes; the
// secret and projected ones are tmpfs mounts, a ConfigMap change reaches
// the container's file within 10 s, the volumes are read-only, and
// nothing stays mounted after the pod; a subPath of the configMap volume
// keeps the version it was started with, as in Kubernetes.
func TestRealConfigMapSecretVolume(t *testing.T) {
	h, objs := newRealHarnessWithObjects(t)
	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Data: map[string]string{"greeting": "hello"}})
	objs.mu.Lock()
	objs.secrets["default/db"] = &api.Secret{ObjectMeta: api.ObjectMeta{Name: "db", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret-plaintext")}}
	objs.mu.Unlock()

	p := busyboxPod("vols", api.Container{Name: "app", Command: []string{"sleep", "3600"},
		VolumeMounts: []api.VolumeMount{
			{Name: "cfg", MountPath: "/etc/cfg"},
			{Name: "sec", MountPath: "/etc/sec"},
			{Name: "all", MountPath: "/etc/all"},
			{Name: "cfg", MountPath: "/etc/one.conf", SubPath: "greeting"},
		}})
	p.Spec.Volumes = []api.Volume{
		{Name: "cfg", VolumeSource: api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}},
		{Name: "sec", VolumeSource: api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "db", DefaultMode: ptr(int32(0o400))}}},
		{Name: "all", VolumeSource: api.VolumeSource{Projected: &api.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "db"},
				Items: []api.KeyToPath{{Key: "password", Path: "creds/pw"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []api.DownwardAPIVolumeFile{
				{Path: "podname", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
		}}}},
	}
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(string(p.UID), api.PodRunning)

	for file, want := range map[string]string{
		"/etc/cfg/greeting": "hello", "/etc/sec/password": "s3cret-plaintext",
		"/etc/all/creds/pw": "s3cret-plaintext", "/etc/all/podname": "vols",
		"/etc/one.conf": "hello",
	} {
		if out, code := h.exec("vols", "app", "cat", file); code != 0 || out != want {
			t.Errorf("cat %s: %q (exit %d), want %q", file, out, code, want)
		}
	}
	if out, _ := h.exec("vols", "app", "stat", "-L", "-c", "%a", "/etc/sec/password"); strings.TrimSpace(out) != "400" {
		t.Errorf("secret file mode %q, want 400", out)
	}
	// kubelet's layout, seen from inside.
	if out, code := h.exec("vols", "app", "readlink", "/etc/cfg/greeting"); code != 0 || strings.TrimSpace(out) != "..data/greeting" {
		t.Errorf("readlink /etc/cfg/greeting: %q (exit %d)", out, code)
	}
	if out, code := h.exec("vols", "app", "sh", "-c", "echo x > /etc/cfg/new"); code == 0 {
		t.Errorf("wrote into a configMap volume: %q", out)
	}

	// Secret and projected volumes are tmpfs, inside the container and on
	// the node; the configMap one is not.
	procMounts, _ := h.exec("vols", "app", "cat", "/proc/mounts")
	fsOf := func(mp string) string {
		for _, l := range strings.Split(procMounts, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[1] == mp {
				return f[2]
			}
		}
		return ""
	}
	if fsOf("/etc/sec") != "tmpfs" || fsOf("/etc/all") != "tmpfs" || fsOf("/etc/cfg") == "tmpfs" {
		t.Errorf("filesystems: /etc/sec %q, /etc/all %q, /etc/cfg %q; /proc/mounts:\n%s",
			fsOf("/etc/sec"), fsOf("/etc/all"), fsOf("/etc/cfg"), procMounts)
	}
	podDir := h.r.podDir(string(p.UID))
	mounts, err := mountsUnder(podDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mounts {
		names = append(names, m[strings.LastIndex(m, "/")+1:])
	}
	if strings.Join(names, ",") != "sec,all" && strings.Join(names, ",") != "all,sec" {
		t.Errorf("tmpfs mounts under the pod: %v", mounts)
	}

	// The secret's plaintext is in no file of the runtime's root outside
	// those tmpfs mounts (the sandbox's and containers' own mounts are
	// skipped too: the root filesystems are overlays of the image).
	onTmpfs := map[string]bool{}
	for _, m := range mounts {
		onTmpfs[m] = true
	}
	err = filepath.WalkDir(h.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file gone meanwhile
		}
		if d.IsDir() {
			if mp, _ := isMountPoint(path); onTmpfs[path] || (mp && path != h.root) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte("s3cret-plaintext")) {
				t.Errorf("the secret is on the node's disk in %s", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// An update reaches the running container within 10 s.
	start := time.Now()
	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default"},
		Data: map[string]string{"greeting": "bye", "extra": "1"}})
	waitUntilFor(t, 10*time.Second, "the container to see the new ConfigMap", func() bool {
		out, _ := h.exec("vols", "app", "cat", "/etc/cfg/greeting", "/etc/cfg/extra")
		return out == "bye1"
	})
	t.Logf("ConfigMap change seen in the container after %v", time.Since(start).Round(100*time.Millisecond))
	// A subPath mount is not updated, as in Kubernetes.
	if out, code := h.exec("vols", "app", "cat", "/etc/one.conf"); code != 0 || out != "hello" {
		t.Errorf("subPath file after the update: %q (exit %d), want the old \"hello\"", out, code)
	}

	// Removed with the pod: nothing mounted, nothing left.
	h.r.SyncPods(nil)
	waitUntilFor(t, 30*time.Second, "the pod's directory removed", func() bool {
		_, err := os.Stat(podDir)
		return os.IsNotExist(err)
	})
	if m, _ := mountsUnder(podDir); len(m) != 0 {
		t.Errorf("still mounted: %v", m)
	}
}
