package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
)

const webReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-abc
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: busybox:1
`

func TestReplicaSetCommands(t *testing.T) {
	f := newTestServer(t)
	file := writeFile(t, t.TempDir(), "rs.yaml", webReplicaSet)
	for _, want := range []string{"replicaset.apps/web-abc created\n", "replicaset.apps/web-abc unchanged\n"} {
		if out, errOut, err := f.run("", "apply", "-f", file); err != nil || out != want {
			t.Fatalf("apply = %q, %q, %v; want %q", out, errOut, err, want)
		}
	}
	scaled := writeFile(t, t.TempDir(), "rs.yaml", strings.Replace(webReplicaSet, "replicas: 2", "replicas: 3", 1))
	if out, _, err := f.run("", "apply", "-f", scaled); err != nil || out != "replicaset.apps/web-abc configured\n" {
		t.Fatalf("apply of a new replica count = %q, %v", out, err)
	}

	out, _, err := f.run("", "get", "rs")
	if err != nil || !hasLine(out, "NAME DESIRED CURRENT READY AGE") || !strings.Contains(out, "web-abc   3         0         0") {
		t.Errorf("get rs = %q, %v", out, err)
	}
	out, _, err = f.run("", "get", "replicasets", "web-abc", "-o", "wide")
	if err != nil || !hasLine(strings.Split(out, "\n")[0], "NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR") || !strings.Contains(out, "httpd        busybox:1   app=web") {
		t.Errorf("get rs -o wide = %q, %v", out, err)
	}
	if out, _, err = f.run("", "get", "rs", "-o", "name"); err != nil || out != "replicaset.apps/web-abc\n" {
		t.Errorf("get rs -o name = %q, %v", out, err)
	}

	// A pod of the ReplicaSet, for describe's counts and delete's wait.
	p := fixturePod(1, 0, api.PodStatus{Phase: api.PodRunning})
	p.Name, p.Labels, p.Spec.NodeName = "web-abc-x1", map[string]string{"app": "web"}, "node-1"
	f.add(ownedBy(p, f.replicaSet("default", "web-abc")))
	out, _, err = f.run("", "describe", "rs", "web-abc")
	if err != nil || !hasLine(out, "Replicas: 0 current / 3 desired") || !hasLine(out, "Pods Status: 1 Running / 0 Waiting / 0 Succeeded / 0 Failed") ||
		!hasLine(out, "Selector: app=web") {
		t.Errorf("describe rs = %q, %v", out, err)
	}

	if _, _, err := f.run("", "delete", "rs", "web-abc", "--cascade=sideways"); err == nil {
		t.Errorf("an unknown --cascade was accepted")
	}
	out, _, err = f.run("", "delete", "rs", "web-abc", "--cascade=orphan")
	if err != nil || out != "replicaset.apps \"web-abc\" deleted\n" || f.pod("default", "web-abc-x1") == nil {
		t.Errorf("delete rs --cascade=orphan = %q, %v; pod kept: %v", out, err, f.pod("default", "web-abc-x1") != nil)
	}
	bodies := f.bodiesOf("DELETE", "/apis/apps/v1/namespaces/default/replicasets/web-abc")
	if !slices.Equal(bodies, []string{`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"}`}) {
		t.Errorf("DELETE bodies %q, want kubectl's DeleteOptions", bodies)
	}
	// Orphaned: the pod stays, without its controller.
	if p := f.pod("default", "web-abc-x1"); p == nil || len(p.OwnerReferences) != 0 {
		t.Errorf("the orphaned pod: %+v", p)
	}
}
