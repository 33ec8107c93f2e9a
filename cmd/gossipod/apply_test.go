package main

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

const webPod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: app
    image: nginx:1.27
    resources:
      requests:
        memory: 1024Mi
`

func TestApplyCreateUnchangedConfigured(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "web.yaml", webPod)

	steps := []struct {
		name     string
		manifest string
		want     string
		writes   []string
	}{
		{"absent: created", webPod, "pod/web created\n",
			[]string{"POST /api/v1/namespaces/default/pods"}},
		{"same again (1024Mi is the stored 1Gi, defaults left out): unchanged", webPod, "pod/web unchanged\n", nil},
		{"new image: configured", strings.Replace(webPod, "nginx:1.27", "nginx:1.28", 1), "pod/web configured\n",
			[]string{"PUT /api/v1/namespaces/default/pods/web"}},
		{"the new image again: unchanged", strings.Replace(webPod, "nginx:1.27", "nginx:1.28", 1), "pod/web unchanged\n", nil},
		{"label changed: configured", strings.NewReplacer("nginx:1.27", "nginx:1.28", "app: web", "app: shop").Replace(webPod),
			"pod/web configured\n", []string{"PUT /api/v1/namespaces/default/pods/web"}},
		{"annotation added: configured", strings.NewReplacer("nginx:1.27", "nginx:1.28", "app: web", "app: shop",
			"  labels:", "  annotations:\n    note: hi\n  labels:").Replace(webPod),
			"pod/web configured\n", []string{"PUT /api/v1/namespaces/default/pods/web"}},
	}
	for _, s := range steps {
		writeFile(t, dir, "web.yaml", s.manifest)
		f.takeRequests()
		before := f.pod("default", "web")
		out, errOut, err := f.run("", "apply", "-f", file)
		if err != nil || out != s.want {
			t.Fatalf("%s: apply = %q, stderr %q, err %v; want %q", s.name, out, errOut, err, s.want)
		}
		if got := writes(f.takeRequests()); !slices.Equal(got, s.writes) {
			t.Errorf("%s: writes %q, want %q", s.name, got, s.writes)
		}
		after := f.pod("default", "web")
		if len(s.writes) == 0 && before != nil && after.ResourceVersion != before.ResourceVersion {
			t.Errorf("%s: resourceVersion moved from %s to %s", s.name, before.ResourceVersion, after.ResourceVersion)
		}
	}
	p := f.pod("default", "web")
	if p.Spec.Containers[0].Image != "nginx:1.28" || p.Labels["app"] != "shop" || p.Annotations["note"] != "hi" {
		t.Errorf("stored pod: image %s, labels %v, annotations %v", p.Spec.Containers[0].Image, p.Labels, p.Annotations)
	}
}

func TestApplyForbiddenChangeIsServersInvalid(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "web.yaml", webPod)
	if _, errOut, err := f.run("", "apply", "-f", file); err != nil {
		t.Fatalf("create: %v %s", err, errOut)
	}
	before := f.pod("default", "web")
	writeFile(t, dir, "web.yaml", strings.Replace(webPod, "1024Mi", "2Gi", 1))
	out, errOut, err := f.run("", "apply", "-f", file)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("apply of a resources change: err %v, want exit 1", err)
	}
	wantErr := `Error from server (Invalid): error when updating "` + file + `": Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than`
	if out != "" || !strings.HasPrefix(errOut, wantErr) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stdout %q, stderr %q; want stderr starting %q, once", out, errOut, wantErr)
	}
	if after := f.pod("default", "web"); after.ResourceVersion != before.ResourceVersion {
		t.Error("the pod changed")
	}
}

func TestApplyUpdateCarriesResourceVersionAndUID(t *testing.T) {
	live := &api.Pod{
		TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", UID: "u-1", ResourceVersion: "42", Labels: map[string]string{"app": "web"}},
		Spec: api.PodSpec{NodeName: "node-1", Containers: []api.Container{{Name: "app", Image: "nginx:1.27",
			Resources: api.ResourceRequirements{Requests: api.ResourceList{api.ResourceMemory: resource.MustParse("1Gi")}}}}},
		Status: api.PodStatus{Phase: api.PodRunning},
	}
	api.SetPodDefaults(live)
	objs, err := api.DecodeManifests([]byte(webPod))
	if err != nil {
		t.Fatal(err)
	}
	desired := objs[0].(*api.Pod)
	desired.Namespace = "default"

	if _, changed := podUpdate(desired, live); changed {
		t.Error("the manifest of the live pod is a change")
	}
	desired.Spec.Containers[0].Image = "nginx:1.28"
	upd, changed := podUpdate(desired, live)
	if !changed {
		t.Fatal("a new image is not a change")
	}
	if upd.ResourceVersion != "42" || upd.UID != "u-1" || upd.Spec.Containers[0].Image != "nginx:1.28" ||
		upd.Status.Phase != "" || upd.Spec.NodeName != "" {
		t.Errorf("update = rv %q uid %q image %q phase %q node %q", upd.ResourceVersion, upd.UID,
			upd.Spec.Containers[0].Image, upd.Status.Phase, upd.Spec.NodeName)
	}
	if desired.ResourceVersion != "" {
		t.Error("podUpdate changed the manifest")
	}

	// A manifest naming the node the pod is on is no change either; one
	// naming another node is (and the server will refuse it).
	desired.Spec.Containers[0].Image = "nginx:1.27"
	desired.Spec.NodeName = "node-1"
	if _, changed := podUpdate(desired, live); changed {
		t.Error("naming the pod's own node is a change")
	}
	desired.Spec.NodeName = "node-2"
	if _, changed := podUpdate(desired, live); !changed {
		t.Error("naming another node is no change")
	}

	// The pull secrets the pod's ServiceAccount gave it are kept by a
	// manifest that names none, as the node is; one naming others is a
	// change (the server refuses it: pod updates may not change them).
	desired.Spec.NodeName = ""
	live.Spec.ImagePullSecrets = []api.LocalObjectReference{{Name: "regcred"}}
	if _, changed := podUpdate(desired, live); changed {
		t.Error("the ServiceAccount's pull secrets, absent from the manifest, are a change")
	}
	desired.Spec.Containers[0].Image = "nginx:1.28"
	if upd, _ := podUpdate(desired, live); len(upd.Spec.ImagePullSecrets) != 1 || upd.Spec.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("update drops the live pull secrets: %+v", upd.Spec.ImagePullSecrets)
	}
	desired.Spec.Containers[0].Image = "nginx:1.27"
	desired.Spec.ImagePullSecrets = []api.LocalObjectReference{{Name: "other"}}
	if _, changed := podUpdate(desired, live); !changed {
		t.Error("other pull secrets are no change")
	}
}

func TestApplyDecodeErrorChangesNothing(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "a.yaml", webPod)
	bad := writeFile(t, dir, "b.yaml", strings.Replace(webPod, "name: web", "name: other", 1)+
		"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\nspec:\n  containers:\n  - name: c\n    image: x\n    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]\n")
	out, errOut, err := f.run("", "apply", "-f", good, "-f", bad)
	if err == nil {
		t.Fatal("apply of a bad manifest succeeded")
	}
	if out != "" || !strings.Contains(errOut, "error parsing "+bad+": document 2 (Pod \"broken\"): spec.containers[0].resizePolicy") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if reqs := f.takeRequests(); len(reqs) != 0 {
		t.Errorf("requests sent: %q", reqs)
	}
}

func TestApplyDirectoryStdinAndNamespace(t *testing.T) {
	f := newTestServer(t)
	f.namespace("staging")
	f.namespace("prod")
	dir := t.TempDir()
	pod := func(name string) string { return strings.Replace(webPod, "name: web", "name: "+name, 1) }
	writeFile(t, dir, "b.yml", pod("b"))
	writeFile(t, dir, "a.yaml", pod("a"))
	writeFile(t, dir, "c.json", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c1"},"spec":{"containers":[{"name":"x","image":"busybox:1"}]}}]}`)
	writeFile(t, dir, "notes.txt", "not a manifest")
	writeFile(t, dir, "sub/d.yaml", pod("d"))

	out, errOut, err := f.run("", "apply", "-f", dir, "-n", "staging")
	if err != nil {
		t.Fatalf("apply -f DIR: %v %s", err, errOut)
	}
	if want := "pod/a created\npod/b created\npod/c1 created\n"; out != want {
		t.Errorf("apply -f DIR = %q, want %q", out, want)
	}
	if p := f.pod("staging", "a"); p == nil {
		t.Error("pod a is not in namespace staging")
	}
	out, _, err = f.run("", "apply", "-R", "-f", dir, "-n", "staging")
	if want := "pod/a unchanged\npod/b unchanged\npod/c1 unchanged\npod/d created\n"; err != nil || out != want {
		t.Errorf("apply -R = %q, %v; want %q", out, err, want)
	}

	out, _, err = f.run(pod("e"), "apply", "-f", "-")
	if err != nil || out != "pod/e created\n" || f.pod("default", "e") == nil {
		t.Errorf("apply -f - = %q, %v", out, err)
	}

	// An object's own namespace against an explicit, different -n: refused
	// before anything is sent, in kubectl's words.
	f.takeRequests()
	withNS := strings.Replace(pod("f"), "metadata:\n", "metadata:\n  namespace: prod\n", 1)
	_, errOut, err = f.run(withNS, "apply", "-f", "-", "-n", "staging")
	if err == nil || !strings.Contains(errOut, `the namespace from the provided object "prod" does not match the namespace "staging"`) {
		t.Errorf("namespace mismatch: %v %q", err, errOut)
	}
	if reqs := f.takeRequests(); len(reqs) != 0 {
		t.Errorf("requests sent: %q", reqs)
	}
	// Without -n it is the object's own.
	if out, _, err = f.run(withNS, "apply", "-f", "-"); err != nil || f.pod("prod", "f") == nil {
		t.Errorf("apply of a pod with its namespace: %q %v", out, err)
	}
}

func TestApplyGoesOnAfterAFailedObject(t *testing.T) {
	f := newTestServer(t)
	manifest := strings.Replace(webPod, "name: web", "name: Bad_Name", 1) + "---\n" + webPod
	out, errOut, err := f.run(manifest, "apply", "-f", "-")
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	if out != "pod/web created\n" {
		t.Errorf("stdout %q", out)
	}
	if !strings.HasPrefix(errOut, `Error from server (Invalid): error when creating "STDIN": Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"`) {
		t.Errorf("stderr %q", errOut)
	}
}

func TestApplyOutputName(t *testing.T) {
	f := newTestServer(t)
	out, _, err := f.run(webPod, "apply", "-f", "-", "-o", "name")
	if err != nil || out != "pod/web\n" {
		t.Errorf("apply -o name = %q, %v", out, err)
	}
	out, _, err = f.run(webPod, "apply", "-f", "-", "-o", "json")
	if err != nil || !strings.Contains(out, `"kind": "Pod"`) || !strings.Contains(out, `"uid": "`+string(f.pod("default", "web").UID)+`"`) {
		t.Errorf("apply -o json = %q, %v", out, err)
	}
}

func TestApplyNeedsAFile(t *testing.T) {
	f := newTestServer(t)
	if _, _, err := f.run("", "apply"); err == nil {
		t.Error("apply without -f succeeded")
	}
	if _, _, err := f.run("", "apply", "-f", "/nonexistent/x.yaml"); err == nil {
		t.Error("apply of a missing file succeeded")
	}
	if _, errOut, err := f.run("# nothing\n", "apply", "-f", "-"); err == nil || !strings.Contains(errOut, "no objects passed to apply") {
		t.Errorf("apply of nothing: %v %q", err, errOut)
	}
}

// podFromManifest decodes a one-pod manifest.
func podFromManifest(t *testing.T, manifest string) *api.Pod {
	t.Helper()
	objs, err := api.DecodeManifests([]byte(manifest))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v (%d objects)", err, len(objs))
	}
	return objs[0].(*api.Pod)
}

// apply of an existing namespace sets the manifest's labels and annotations
// (a Pod Security level), and is unchanged when they are already there.
func TestApplyNamespaceLabels(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	ns := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
	labelled := ns + "  labels:\n    pod-security.kubernetes.io/enforce: privileged\n"
	steps := []struct {
		name, manifest, want string
		writes               []string
	}{
		{"absent: created", ns, "namespace/shop created\n", []string{"POST /api/v1/namespaces"}},
		{"same again: unchanged", ns, "namespace/shop unchanged\n", nil},
		{"a label: configured", labelled, "namespace/shop configured\n", []string{"PUT /api/v1/namespaces/shop"}},
		{"the label again: unchanged", labelled, "namespace/shop unchanged\n", nil},
	}
	for _, s := range steps {
		file := writeFile(t, dir, "ns.yaml", s.manifest)
		f.takeRequests()
		out, errOut, err := f.run("", "apply", "-f", file)
		if err != nil || out != s.want {
			t.Fatalf("%s: apply = %q, stderr %q, err %v; want %q", s.name, out, errOut, err, s.want)
		}
		if got := writes(f.takeRequests()); !slices.Equal(got, s.writes) {
			t.Errorf("%s: writes %q, want %q", s.name, got, s.writes)
		}
	}
	out, _, err := f.run("", "get", "ns", "shop", "-o", "json")
	if err != nil || !strings.Contains(out, `"pod-security.kubernetes.io/enforce": "privileged"`) || !strings.Contains(out, `"kubernetes.io/metadata.name": "shop"`) {
		t.Fatalf("labels after apply: %q, %v", out, err)
	}
}
