package runtime

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// A configMap volume whose ConfigMap is missing holds the pod in
// ContainerCreating with kubelet's FailedMount event; once the ConfigMap
// appears the pod starts with the files, mounted read-only, and a change
// of the ConfigMap reaches the running pod's volume.
func TestConfigMapVolumeWaitsThenFollows(t *testing.T) {
	objs := newObjectState()
	h := newHarnessWithObjects(t, objs)
	p := testPod("cm", "a")
	p.Spec.Volumes = []api.Volume{{Name: "cfg", VolumeSource: api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app"},
		Items:                []api.KeyToPath{{Key: "conf", Path: "etc/app.conf", Mode: ptr(int32(0o600))}, {Key: "level", Path: "level"}}}}}}
	p.Spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "cfg", MountPath: "/config"}}
	h.r.SyncPods([]*api.Pod{p})
	uid := string(p.UID)
	waitUntil(t, "FailedMount", func() bool {
		for _, e := range h.eventsOf(uid) {
			if e.Reason == eventFailedMount && e.Message == `MountVolume.SetUp failed for volume "cfg" : configmap "app" not found` {
				return true
			}
		}
		return false
	})
	u := h.waitPhase(uid, api.PodPending)
	if w := u.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("state %+v", u.Status.ContainerStatuses[0].State)
	}
	if h.rt.createdCount() != 0 {
		t.Error("sandbox created without its volumes")
	}

	// A ConfigMap without one of the items' keys: still waiting, and why.
	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "app", Namespace: p.Namespace}, Data: map[string]string{"conf": "x=1"}})
	waitUntil(t, "FailedMount for the key", func() bool {
		for _, e := range h.eventsOf(uid) {
			if e.Message == `MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: level` {
				return true
			}
		}
		return false
	})
	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "app", Namespace: p.Namespace},
		Data: map[string]string{"conf": "x=1"}, BinaryData: map[string][]byte{"level": []byte("debug")}})
	h.waitPhase(uid, api.PodRunning)

	dir := filepath.Join(h.root, "pods", uid, "volumes", "cfg")
	read := func(p string) string { b, _ := os.ReadFile(filepath.Join(dir, p)); return string(b) }
	if got := read("etc/app.conf"); got != "x=1" {
		t.Errorf("etc/app.conf = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "etc/app.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("etc/app.conf mode: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "level")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("level mode (default 0644): %v %v", fi, err)
	}
	c := h.container(uid, "a", 0)
	found := false
	for _, m := range c.spec.Mounts {
		if m.Destination == "/config" {
			found = true
			if m.Source != dir || !m.ReadOnly {
				t.Errorf("mount %+v, want %s read-only", m, dir)
			}
		}
	}
	if !found {
		t.Errorf("no /config mount in %+v", c.spec.Mounts)
	}

	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "app", Namespace: p.Namespace},
		Data: map[string]string{"conf": "x=2", "level": "info"}})
	waitUntil(t, "the volume follows the ConfigMap", func() bool {
		return read("etc/app.conf") == "x=2" && read("level") == "info"
	})
	if h.rt.createdCount() != 1 {
		t.Errorf("%d sandboxes: an update must not restart the pod", h.rt.createdCount())
	}

	// Deleted while the pod runs: the files stay, a FailedMount says why.
	notFound := func() int {
		n := 0
		for _, e := range h.eventsOf(uid) {
			if e.Reason == eventFailedMount && e.Message == `MountVolume.SetUp failed for volume "cfg" : configmap "app" not found` {
				n++
			}
		}
		return n
	}
	before := notFound()
	objs.mu.Lock()
	delete(objs.configMaps, p.Namespace+"/app")
	objs.mu.Unlock()
	waitUntil(t, "FailedMount after the deletion", func() bool { return notFound() > before })
	if got := read("etc/app.conf"); got != "x=2" {
		t.Errorf("etc/app.conf after the deletion = %q, want the last version", got)
	}
}

// The downward API volume writes the pod's fields in kubelet's format.
func TestDownwardAPIPayload(t *testing.T) {
	p := testPod("dw", "a")
	p.Labels = map[string]string{"b": "2", "a": `q"1`}
	p.Spec.Containers[0].Resources.Limits = api.ResourceList{api.ResourceMemory: resource.MustParse("64Mi")}
	p.Spec.Containers[0].Resources.Requests = api.ResourceList{api.ResourceCPU: resource.MustParse("250m")}
	w := &podWorker{st: &podState{Pod: p}}
	out := map[string]fileProjection{}
	err := w.downwardAPIFiles(out, p, []api.DownwardAPIVolumeFile{
		{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
		{Path: "uid", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}},
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: ptr(int32(0o400))},
		{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "a", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "a", Resource: "requests.cpu", Divisor: resource.MustParse("1m")}},
		{Path: "cores", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "a", Resource: "requests.cpu"}},
	}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "dw", "ns": p.Namespace, "uid": string(p.UID),
		"labels": "a=\"q\\\"1\"\nb=\"2\"", "mem": "64", "cpu": "250", "cores": "1"}
	for k, v := range want {
		if got := string(out[k].Data); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if out["labels"].Mode != 0o400 || out["name"].Mode != 0o644 {
		t.Errorf("modes %o %o", out["labels"].Mode, out["name"].Mode)
	}
	if len(out) != len(want) {
		t.Errorf("files %v", strings.Join(keysOf(out), ","))
	}
}

func keysOf(m map[string]fileProjection) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSubPathSource(t *testing.T) {
	root := t.TempDir()
	vol := filepath.Join(root, "vol")
	if err := os.MkdirAll(filepath.Join(vol, "logs"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("logs", filepath.Join(vol, "inside")); err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(root, "proj")
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := writeAtomic(proj, map[string]fileProjection{"key": {Data: []byte("v1"), Mode: 0o644}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	tsDir, _ := os.Readlink(filepath.Join(proj, dataDirName))
	tests := []struct {
		name, root, sub string
		create          bool
		want            string // resolved path, or the start of the error
	}{
		{"existing dir", vol, "logs", true, filepath.Join(vol, "logs")},
		{"missing dir created", vol, "new/deep", true, filepath.Join(vol, "new/deep")},
		{"link inside the volume", vol, "inside", true, filepath.Join(vol, "logs")},
		{"link out of the volume", vol, "escape", true, "error: subpath \"/etc\" not within volume path"},
		{"created through a link out", vol, "escape/x", true, "error: subpath \"/etc/x\" not within volume path"},
		{"dot-dot", vol, "../x", true, "error: invalid subPath"},
		{"absolute", vol, "/etc", true, "error: invalid subPath"},
		{"configMap key resolves to the current version", proj, "key", false, filepath.Join(proj, tsDir, "key")},
		{"missing key of a configMap is not created", proj, "nokey", false, "error: lstat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subPathSource(tt.root, tt.sub, tt.create)
			if err != nil {
				got = "error: " + err.Error()
			}
			if !strings.HasPrefix(got, tt.want) || (err == nil && got != tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err == nil {
				if fi, err := os.Stat(got); err != nil {
					t.Errorf("resolved path: %v", err)
				} else if tt.name == "missing dir created" && fi.Mode().Perm() != 0o750 {
					t.Errorf("created with mode %v, want the volume's 0750", fi.Mode().Perm())
				}
			}
		})
	}
	if _, err := os.Stat("/etc/x"); err == nil {
		t.Error("/etc/x created through the link")
	}
}

// volumePayload maps ConfigMaps and Secrets to files as kubelet's volume
// plugins do: all keys or the items, modes, optional, kubelet's errors.
func TestVolumePayload(t *testing.T) {
	objs := newObjectState()
	objs.setConfigMap(&api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: "cm", Namespace: "ns"},
		Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": {0, 1}}})
	objs.secrets["ns/s"] = &api.Secret{ObjectMeta: api.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"pw": []byte("x")}}
	cmRef := corev1.LocalObjectReference{Name: "cm"}
	tests := []struct {
		name string
		src  api.VolumeSource
		want string // "path=data/mode ..." sorted, or "error: ..."
	}{
		{"configMap, all keys, default mode", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: cmRef}},
			"a=1/644 b=\x00\x01/644"},
		{"configMap, items and modes", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: cmRef, DefaultMode: ptr(int32(0o440)),
			Items: []api.KeyToPath{{Key: "a", Path: "d/a.txt"}, {Key: "b", Path: "b", Mode: ptr(int32(0o400))}}}},
			"b=\x00\x01/400 d/a.txt=1/440"},
		{"configMap missing", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}},
			`error: configmap "nope" not found`},
		{"configMap missing, optional", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Optional: ptr(true)}},
			""},
		{"configMap key missing", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: cmRef, Items: []api.KeyToPath{{Key: "z", Path: "z"}}}},
			"error: configmap references non-existent config key: z"},
		{"configMap key missing, optional", api.VolumeSource{ConfigMap: &api.ConfigMapVolumeSource{LocalObjectReference: cmRef, Optional: ptr(true),
			Items: []api.KeyToPath{{Key: "z", Path: "z"}, {Key: "a", Path: "a"}}}}, "a=1/644"},
		{"secret", api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "s", DefaultMode: ptr(int32(0o400))}}, "pw=x/400"},
		{"secret missing", api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "gone"}}, `error: secret "gone" not found`},
		{"secret key missing", api.VolumeSource{Secret: &api.SecretVolumeSource{SecretName: "s", Items: []api.KeyToPath{{Key: "k", Path: "k"}}}},
			"error: references non-existent secret key: k"},
		{"projected merges sources under its default mode", api.VolumeSource{Projected: &api.ProjectedVolumeSource{DefaultMode: ptr(int32(0o600)), Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: cmRef, Items: []api.KeyToPath{{Key: "a", Path: "cfg/a"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []api.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}}}}},
			"cfg/a=1/600 ns=ns/600 pw=x/600"},
		{"projected with a missing secret", api.VolumeSource{Projected: &api.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}}},
			`error: secret "gone" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPod("p", "a")
			p.Namespace = "ns"
			r := &Runtime{cfg: Config{ConfigMap: objs.configMap, Secret: objs.secret}}
			w := &podWorker{r: r, st: &podState{Pod: p}}
			v := api.Volume{Name: "v", VolumeSource: tt.src}
			out, err := w.volumePayload(&v)
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				var parts []string
				for k, f := range out {
					parts = append(parts, fmt.Sprintf("%s=%s/%o", k, f.Data, f.Mode))
				}
				slices.Sort(parts)
				got = strings.Join(parts, " ")
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// A projected token is asked for once and kept until kubelet's token
// manager would refresh it (80 % of its life); a failed refresh keeps the
// current token while it is valid, and a token that cannot be had fails the
// volume with kubelet's message.
func TestServiceAccountTokenSource(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var asked []string
	var failWith error
	issue := func(pod *api.Pod, audience string, exp time.Duration) (string, time.Time, error) {
		if failWith != nil {
			return "", time.Time{}, failWith
		}
		tok := fmt.Sprintf("token-%d-%s-%s", len(asked)+1, pod.Spec.ServiceAccountName, audience)
		asked = append(asked, tok)
		return tok, now.Add(exp), nil
	}
	p := testPod("p", "a")
	p.Spec.ServiceAccountName = "reader"
	r := &Runtime{cfg: Config{ServiceAccountToken: issue}, now: func() time.Time { return now }}
	w := &podWorker{r: r, st: &podState{Pod: p}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	v := api.Volume{Name: "kube-api-access-x", VolumeSource: api.VolumeSource{Projected: &api.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(1000))}},
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "vault-token", Audience: "vault"}}}}}}
	read := func() (string, string, error) {
		t.Helper()
		out, err := w.volumePayload(&v)
		if err != nil {
			return "", "", err
		}
		if out["token"].Mode != defaultProjectedMode {
			t.Errorf("token mode %o, want %o", out["token"].Mode, defaultProjectedMode)
		}
		return string(out["token"].Data), string(out["vault-token"].Data), nil
	}
	api1, vault1, err := read()
	if err != nil || api1 != "token-1-reader-" || vault1 != "token-2-reader-vault" {
		t.Fatalf("first read: %q %q %v", api1, vault1, err)
	}
	now = now.Add(790 * time.Second) // 79 % of the 1000 s token
	if a, v, _ := read(); a != api1 || v != vault1 || len(asked) != 2 {
		t.Fatalf("at 79 %%: %q %q after %d requests, want the same tokens", a, v, len(asked))
	}
	now = now.Add(20 * time.Second) // 81 %: the short token is renewed, the hour-long one is not
	if a, v, _ := read(); a != "token-3-reader-" || v != vault1 {
		t.Fatalf("at 81 %%: %q %q, want a fresh API token and the same vault token", a, v)
	}
	failWith = errors.New(`serviceaccounts "reader" not found`)
	now = now.Add(900 * time.Second) // due again, not yet expired: kept
	if a, _, err := read(); err != nil || a != "token-3-reader-" {
		t.Fatalf("failed refresh of a valid token: %q, %v; want the current token kept", a, err)
	}
	now = now.Add(200 * time.Second) // expired, and no new one
	if _, _, err := read(); err == nil || err.Error() != `failed to fetch token: serviceaccounts "reader" not found` {
		t.Fatalf("expired token and no new one: %v", err)
	}
	w2 := &podWorker{r: &Runtime{now: r.now}, st: &podState{Pod: p}}
	if _, err := w2.volumePayload(&v); err == nil || !strings.Contains(err.Error(), "failed to fetch token") {
		t.Fatalf("a node without a token issuer: %v", err)
	}
}
