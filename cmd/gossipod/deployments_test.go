package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

const webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 4
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: httpd
        image: localhost/busybox:latest
        command: ["httpd", "-f", "-p", "8080"]
        ports:
        - containerPort: 8080
        resources:
          requests:
            cpu: 50m
            memory: 16Mi
`

func deploymentFromManifest(t *testing.T, manifest string) *api.Deployment {
	t.Helper()
	objs, err := api.DecodeManifests([]byte(manifest))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	d := objs[0].(*api.Deployment)
	if d.Namespace == "" {
		d.Namespace = "default"
	}
	return d
}

// addWebDeployment stores the web Deployment, created 20 minutes ago, with
// the status given, as its controller would have committed it.
func addWebDeployment(t *testing.T, f *testServer, st api.DeploymentStatus) *api.Deployment {
	defer f.setAgo(20 * time.Minute)()
	d := deploymentFromManifest(t, webDeployment)
	if st.ObservedGeneration == 0 {
		st.ObservedGeneration = 1
	}
	d.Status = st
	return f.addDeployment(d)
}

func TestApplyMixedFile(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	mixed := webPod + "---\n" + webDeployment
	file := writeFile(t, dir, "app.yaml", mixed)

	steps := []struct {
		name     string
		manifest string
		before   func()
		want     string
		writes   []string
	}{
		{"absent: both created", mixed, nil,
			"pod/web created\ndeployment.apps/web created\n",
			[]string{"POST /api/v1/namespaces/default/pods", "POST /apis/apps/v1/namespaces/default/deployments"}},
		{"same again (defaults left out): unchanged", mixed, nil,
			"pod/web unchanged\ndeployment.apps/web unchanged\n", nil},
		{"new template image: the Deployment is configured", strings.Replace(mixed, "localhost/busybox:latest", "localhost/busybox:1.36", 1), nil,
			"pod/web unchanged\ndeployment.apps/web configured\n",
			[]string{"PUT /apis/apps/v1/namespaces/default/deployments/web"}},
		{"replicas changed: configured", strings.NewReplacer("localhost/busybox:latest", "localhost/busybox:1.36", "replicas: 4", "replicas: 2").Replace(mixed), nil,
			"pod/web unchanged\ndeployment.apps/web configured\n",
			[]string{"PUT /apis/apps/v1/namespaces/default/deployments/web"}},
		{"no replicas in the manifest keeps a scaled count: unchanged",
			strings.NewReplacer("localhost/busybox:latest", "localhost/busybox:1.36", "  replicas: 4\n", "").Replace(mixed), nil,
			"pod/web unchanged\ndeployment.apps/web unchanged\n", nil},
	}
	for _, s := range steps {
		writeFile(t, dir, "app.yaml", s.manifest)
		f.takeRequests()
		out, errOut, err := f.run("", "apply", "-f", file)
		if err != nil || out != s.want {
			t.Fatalf("%s: apply = %q, stderr %q, err %v; want %q", s.name, out, errOut, err, s.want)
		}
		if got := writes(f.takeRequests()); !slices.Equal(got, s.writes) {
			t.Errorf("%s: writes %q, want %q", s.name, got, s.writes)
		}
	}
	d := f.deployment("default", "web")
	if d.Spec.Template.Spec.Containers[0].Image != "localhost/busybox:1.36" || desiredReplicas(d) != 2 || d.Generation != 3 {
		t.Errorf("stored Deployment: image %s, replicas %d, generation %d",
			d.Spec.Template.Spec.Containers[0].Image, desiredReplicas(d), d.Generation)
	}

	// The update carries the live uid and resourceVersion.
	f.takeRequests()
	writeFile(t, dir, "app.yaml", webDeployment)
	if _, errOut, err := f.run("", "apply", "-f", file, "-o", "name"); err != nil {
		t.Fatalf("apply -o name: %v %s", err, errOut)
	}

	// The selector is immutable: the server's Invalid, with the file named.
	writeFile(t, dir, "app.yaml", strings.ReplaceAll(webDeployment, "app: web", "app: shop"))
	out, errOut, err := f.run("", "apply", "-f", file)
	if err == nil || out != "" || !strings.HasPrefix(errOut, `Error from server (Invalid): error when updating "`+file+`": Deployment "web" is invalid: `) ||
		!strings.Contains(errOut, "spec.selector: Invalid value") {
		t.Errorf("apply of a new selector = %q, %q, %v", out, errOut, err)
	}
}

func TestApplyDeploymentOutputName(t *testing.T) {
	f := newTestServer(t)
	file := writeFile(t, t.TempDir(), "d.yaml", webDeployment)
	out, _, err := f.run("", "apply", "-f", file, "-o", "name")
	if err != nil || out != "deployment.apps/web\n" {
		t.Errorf("apply -o name = %q, %v", out, err)
	}
	out, _, err = f.run("", "apply", "-f", file, "-o", "json")
	var d api.Deployment
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.UID == "" || d.UID != f.deployment("default", "web").UID || d.Kind != "Deployment" {
		t.Errorf("apply -o json = %q, %v", out, err)
	}
}

func TestGetDeployments(t *testing.T) {
	f := newTestServer(t)
	addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1})
	db := deploymentFromManifest(t, strings.NewReplacer("name: web", "name: db", "app: web", "app: db", "replicas: 4", "replicas: 1").Replace(webDeployment))
	db.Namespace = "data"
	db.Spec.Template.Spec.Containers = append(db.Spec.Template.Spec.Containers, api.Container{Name: "sidecar", Image: "localhost/busybox:1.36"})
	reset := f.setAgo(3 * time.Hour)
	f.addDeployment(db)
	reset()

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "deployments"}, "" +
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n" +
			"web    3/4     4            3           20m\n"},
		{[]string{"get", "deploy", "web", "-o", "wide"}, "" +
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                     SELECTOR\n" +
			"web    3/4     4            3           20m   httpd        localhost/busybox:latest   app=web\n"},
		{[]string{"get", "deployment.apps/db", "-n", "data", "-o", "wide"}, "" +
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS      IMAGES                                            SELECTOR\n" +
			"db     0/1     0            0           3h    httpd,sidecar   localhost/busybox:latest,localhost/busybox:1.36   app=db\n"},
		{[]string{"get", "deployments", "-A", "--show-labels"}, "" +
			"NAMESPACE   NAME   READY   UP-TO-DATE   AVAILABLE   AGE   LABELS\n" +
			"data        db     0/1     0            0           3h    app=db\n" +
			"default     web    3/4     4            3           20m   app=web\n"},
		{[]string{"get", "deployments", "-A", "-o", "name"}, "deployment.apps/db\ndeployment.apps/web\n"},
		{[]string{"get", "deployments", "-A", "-l", "app=db", "--no-headers"}, "data   db   0/1   0   0   3h\n"},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != tt.want {
			t.Errorf("%q:\n%s(stderr %q, err %v)\nwant:\n%s", tt.args, out, errOut, err, tt.want)
		}
	}
	f.takeRequests()
	if _, _, err := f.run("", "get", "deployments", "-l", "app=web"); err != nil {
		t.Fatal(err)
	}
	if got := f.takeRequests(); !slices.Equal(got, []string{"GET /apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Dweb"}) {
		t.Errorf("requests %q", got)
	}

	out, _, err := f.run("", "get", "deployment", "web", "-o", "json")
	var d api.Deployment
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.Name != "web" || d.Status.ReadyReplicas != 3 {
		t.Errorf("get deployment web -o json: %v, %q", err, out)
	}
	out, _, err = f.run("", "get", "deployments", "-o", "yaml")
	if err != nil || !strings.Contains(out, "kind: DeploymentList\n") || !strings.Contains(out, "apiVersion: apps/v1\n") {
		t.Errorf("get deployments -o yaml: %v, %q", err, out)
	}

	out, errOut, err := f.run("", "get", "deployments", "-n", "empty")
	if err != nil || out != "" || errOut != "No resources found in empty namespace.\n" {
		t.Errorf("get deployments of nothing = %q, %q, %v", out, errOut, err)
	}
	out, errOut, err = f.run("", "get", "deployments", "web", "nope")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "web") ||
		errOut != "Error from server (NotFound): deployments.apps \"nope\" not found\n" {
		t.Errorf("get deployments web nope = %q, %q, %v", out, errOut, err)
	}
	for _, args := range [][]string{
		{"get", "deployments", "web", "-A"},
		{"get", "deployments", "web", "-l", "app=web"},
		{"get", "deployments", "-o", "table"},
	} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

func TestGetDeploymentsWatch(t *testing.T) {
	f := newTestServer(t)
	web := addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 4})
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut, wait := f.runAsync(ctx, "get", "deploy", "web", "-w")
	eventually(t, "the watch", func() bool {
		return f.countRequests("GET /apis/apps/v1/namespaces/default/deployments?resourceVersion="+web.ResourceVersion+"&watch=1") == 1
	})
	// Another Deployment of the namespace comes and goes: not shown.
	other := deploymentFromManifest(t, strings.Replace(webDeployment, "name: web", "name: other", 1))
	f.addDeployment(other)
	f.commit(consensus.CmdDeleteDeployment, consensus.DeleteDeployment{Namespace: "default", Name: "other"}, nil)
	// One of web's pods is no longer ready.
	f.setDeploymentStatus(web, api.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 3, AvailableReplicas: 3})
	want := "" +
		"NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n" +
		"web    4/4     4            4           20m\n" +
		"web    3/4     4            3           20m\n"
	eventually(t, "the watch's line", func() bool { return out.String() == want })
	cancel()
	if err := wait(); err != nil {
		t.Errorf("get -w: %v, %s", err, errOut.String())
	}
	if out.String() != want {
		t.Errorf("get -w printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

// The layout is kubectl describe deployment's, checked by eye line by line.
func TestDescribeDeployment(t *testing.T) {
	d := deploymentFromManifest(t, webDeployment)
	api.SetDeploymentDefaults(d)
	d.UID = "u-1"
	d.Annotations = map[string]string{"team": "shop"}
	d.CreationTimestamp = ago(20 * time.Minute)
	d.Spec.Template.Spec.Volumes = []api.Volume{{Name: "cache", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	d.Spec.Template.Spec.Containers[0].VolumeMounts = []api.VolumeMount{{Name: "cache", MountPath: "/cache"}}
	d.Status = api.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1,
		Conditions: []api.DeploymentCondition{
			{Type: api.DeploymentAvailable, Status: api.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: api.DeploymentProgressing, Status: api.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	three, one := int32(3), int32(1)
	rsLines := deploymentRSLines{known: true,
		old: []api.ReplicaSet{{ObjectMeta: api.ObjectMeta{Name: "web-7c5ddbdf54"}, Spec: api.ReplicaSetSpec{Replicas: &one}, Status: api.ReplicaSetStatus{Replicas: 1}}},
		cur: &api.ReplicaSet{ObjectMeta: api.ObjectMeta{Name: "web-6b474476c4"}, Spec: api.ReplicaSetSpec{Replicas: &three}, Status: api.ReplicaSetStatus{Replicas: 3}}}
	golden(t, "describe-deployment.txt", describeDeployment(d, rsLines, []api.Event{}, testNow))
	if out := describeDeployment(d, deploymentRSLines{known: true}, nil, testNow); !hasLine(out, "OldReplicaSets: <none>") || !hasLine(out, "NewReplicaSet: <none>") {
		t.Errorf("without ReplicaSets:\n%s", out)
	}
}

func TestDescribeDeploymentCommand(t *testing.T) {
	f := newTestServer(t)
	addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 4})
	f.takeRequests()
	out, errOut, err := f.run("", "describe", "deployment", "web")
	if err != nil || !strings.HasPrefix(out, "Name:") ||
		!hasLine(out, "Replicas: 4 desired | 4 updated | 4 total | 4 available | 0 unavailable") ||
		!hasLine(out, "RollingUpdateStrategy: 25% max unavailable, 25% max surge") || !hasLine(out, "Events: <none>") {
		t.Errorf("describe deployment web = %q, %q, %v", out, errOut, err)
	}
	want := []string{"GET /apis/apps/v1/namespaces/default/deployments/web",
		"GET /api/v1/namespaces/default/events?fieldSelector=involvedObject.uid%3Duid-web",
		"GET /apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dweb"}
	if got := f.takeRequests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	_, errOut, err = f.run("", "describe", "deploy", "nope")
	if err == nil || errOut != "Error from server (NotFound): deployments.apps \"nope\" not found\n" {
		t.Errorf("describe deploy nope = %q, %v", errOut, err)
	}
	out, _, err = f.run("", "describe", "deployments", "-l", "app=web")
	if err != nil || !strings.HasPrefix(out, "Name:") {
		t.Errorf("describe deployments -l = %q, %v", out, err)
	}
}

// addWebReplicaSet stores the ReplicaSet the controller makes for the web
// Deployment's template (hash abc), unless it exists.
func addWebReplicaSet(f *testServer, d *api.Deployment) *api.ReplicaSet {
	if rs := f.replicaSet(d.Namespace, "web-abc"); rs != nil {
		return rs
	}
	controller := true
	labels := map[string]string{"app": "web", api.LabelPodTemplateHash: "abc"}
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = labels
	return f.addReplicaSet(&api.ReplicaSet{TypeMeta: api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{Name: "web-abc", Namespace: d.Namespace, Labels: labels,
			OwnerReferences: []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller}}},
		Spec: api.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: &api.LabelSelector{MatchLabels: labels}, Template: tmpl}})
}

// readyStatus is what a node reports of a pod whose one container runs
// and is ready.
func readyStatus() api.PodStatus {
	return api.PodStatus{Phase: api.PodRunning, ContainerStatuses: []api.ContainerStatus{running(true, 0)},
		Conditions: []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}}
}

// webPods stores running, ready pods of the Deployment, named and owned as
// the controllers make them (by its ReplicaSet web-abc), bound to node.
func webPods(f *testServer, d *api.Deployment, node string, names ...string) {
	rs := addWebReplicaSet(f, d)
	for _, name := range names {
		p := fixturePod(1, 0, readyStatus())
		p.Name = name
		p.Labels = map[string]string{"app": "web", api.LabelPodTemplateHash: "abc"}
		p.Spec.NodeName = node
		f.add(ownedBy(p, rs))
	}
}

func TestDeleteDeploymentWaitsForItsPods(t *testing.T) {
	f := newTestServer(t)
	d := addWebDeployment(t, f, api.DeploymentStatus{})
	webPods(f, d, "node-1", "web-abc-1", "web-abc-2")
	addFixtures(f) // a bare pod labelled app=web too, which is not the Deployment's
	// The nodes take two of the CLI's reads to stop the pods.
	f.nodesConfirmAfter(2)
	f.takeRequests()
	out, errOut, err := f.run("", "delete", "deployment", "web")
	if err != nil || out != "deployment.apps \"web\" deleted\n" || errOut != "" {
		t.Errorf("delete deployment web = %q, %q, %v", out, errOut, err)
	}
	reqs := f.takeRequests()
	if w := writes(reqs); !slices.Equal(w, []string{"DELETE /apis/apps/v1/namespaces/default/deployments/web"}) {
		t.Errorf("writes %q", w)
	}
	// It listed the Deployment's pods until they were gone; the bare pod
	// stays.
	lists := 0
	for _, r := range reqs {
		if r == "GET /api/v1/namespaces/default/pods?labelSelector=app%3Dweb" {
			lists++
		}
	}
	if lists != 3 || f.pod("default", "web-abc-1") != nil || f.pod("default", "web-abc-2") != nil || f.pod("default", "web") == nil {
		t.Errorf("waited with %d lists (requests %q)", lists, reqs)
	}

	_, errOut, err = f.run("", "delete", "deploy/web")
	if err == nil || errOut != "Error from server (NotFound): deployments.apps \"web\" not found\n" {
		t.Errorf("delete of a missing Deployment = %q, %v", errOut, err)
	}
}

func TestDeleteDeploymentsBySelectorAndFile(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "app.yaml", webPod+"---\n"+webDeployment)
	if _, errOut, err := f.run("", "apply", "-f", file); err != nil {
		t.Fatalf("apply: %v %s", err, errOut)
	}
	out, errOut, err := f.run("", "delete", "-f", file)
	if err != nil || out != "pod \"web\" deleted\ndeployment.apps \"web\" deleted\n" {
		t.Errorf("delete -f = %q, %q, %v", out, errOut, err)
	}
	addWebDeployment(t, f, api.DeploymentStatus{})
	f.takeRequests()
	out, _, err = f.run("", "delete", "deployments", "--all", "--wait=false")
	if err != nil || out != "deployment.apps \"web\" deleted\n" {
		t.Errorf("delete deployments --all = %q, %v", out, err)
	}
	// --wait=false: no pod list after the delete.
	if reqs := f.takeRequests(); !slices.Equal(reqs, []string{"GET /apis/apps/v1/namespaces/default/deployments",
		"DELETE /apis/apps/v1/namespaces/default/deployments/web"}) {
		t.Errorf("requests %q", reqs)
	}
}

func TestScale(t *testing.T) {
	f := newTestServer(t)
	addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4})
	f.takeRequests()
	out, errOut, err := f.run("", "scale", "deployment", "web", "--replicas", "6")
	if err != nil || out != "deployment.apps/web scaled\n" || errOut != "" {
		t.Errorf("scale = %q, %q, %v", out, errOut, err)
	}
	if got := f.takeRequests(); !slices.Equal(got, []string{"PUT /apis/apps/v1/namespaces/default/deployments/web/scale"}) {
		t.Errorf("requests %q", got)
	}
	if d := f.deployment("default", "web"); desiredReplicas(d) != 6 || d.Generation != 2 {
		t.Errorf("replicas %d, generation %d after scale", desiredReplicas(d), d.Generation)
	}

	out, _, err = f.run("", "scale", "deploy/web", "--replicas=2", "--current-replicas=6")
	if err != nil || out != "deployment.apps/web scaled\n" || desiredReplicas(f.deployment("default", "web")) != 2 {
		t.Errorf("scale --current-replicas = %q, %v", out, err)
	}
	if got := f.takeRequests(); !slices.Equal(got, []string{"GET /apis/apps/v1/namespaces/default/deployments/web/scale",
		"PUT /apis/apps/v1/namespaces/default/deployments/web/scale"}) {
		t.Errorf("requests %q", got)
	}
	_, errOut, err = f.run("", "scale", "deploy/web", "--replicas=3", "--current-replicas=6")
	if err == nil || errOut != "error: Expected replicas to be 6, was 2\n" || desiredReplicas(f.deployment("default", "web")) != 2 {
		t.Errorf("scale with a failed precondition = %q, %v", errOut, err)
	}
	_, errOut, err = f.run("", "scale", "deployment", "nope", "--replicas", "1")
	if err == nil || errOut != "Error from server (NotFound): deployments.apps \"nope\" not found\n" {
		t.Errorf("scale of a missing Deployment = %q, %v", errOut, err)
	}
	for _, args := range [][]string{
		{"scale", "deployment", "web"},
		{"scale", "deployment", "web", "--replicas", "-2"},
		{"scale", "pod", "web", "--replicas", "1"},
		{"scale", "deployment", "--replicas", "1"},
		{"scale", "--replicas", "1"},
	} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

func TestRolloutStatusLines(t *testing.T) {
	tests := []struct {
		gen  int64
		st   api.DeploymentStatus
		want string
		done bool
	}{
		{2, api.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4},
			"Waiting for deployment spec update to be observed...\n", false},
		{2, api.DeploymentStatus{ObservedGeneration: 2, Replicas: 5, UpdatedReplicas: 1, AvailableReplicas: 4},
			"Waiting for deployment \"web\" rollout to finish: 1 out of 4 new replicas have been updated...\n", false},
		{2, api.DeploymentStatus{ObservedGeneration: 2, Replicas: 6, UpdatedReplicas: 4, AvailableReplicas: 3},
			"Waiting for deployment \"web\" rollout to finish: 2 old replicas are pending termination...\n", false},
		{2, api.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 3},
			"Waiting for deployment \"web\" rollout to finish: 3 of 4 updated replicas are available...\n", false},
		{2, api.DeploymentStatus{ObservedGeneration: 3, Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4},
			"deployment \"web\" successfully rolled out\n", true},
	}
	d := deploymentFromManifest(t, webDeployment)
	for _, tt := range tests {
		d.Generation, d.Status = tt.gen, tt.st
		got, done, err := rolloutStatus(d)
		if err != nil || got != tt.want || done != tt.done {
			t.Errorf("status %+v = %q, %v, %v; want %q, %v", tt.st, got, done, err, tt.want, tt.done)
		}
	}
	d.Status = api.DeploymentStatus{ObservedGeneration: 2, Conditions: []api.DeploymentCondition{
		{Type: api.DeploymentProgressing, Status: api.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}}
	if _, _, err := rolloutStatus(d); err == nil || err.Error() != `deployment "web" exceeded its progress deadline` {
		t.Errorf("past the deadline: %v", err)
	}
}

func TestRolloutStatusFollowsTheWatch(t *testing.T) {
	f := newTestServer(t)
	web := addWebDeployment(t, f, api.DeploymentStatus{})
	// A new template, not yet observed by the controller.
	web.Spec.Template.Spec.Containers[0].Image = "localhost/busybox:1.36"
	f.commit(consensus.CmdUpdateDeployment, consensus.UpdateDeployment{Deployment: *web}, nil)
	web = f.deployment("default", "web")
	if web.Generation != 2 {
		t.Fatalf("generation %d after a template change", web.Generation)
	}
	f.takeRequests()
	out, errOut, wait := f.runAsync(context.Background(), "rollout", "status", "deployment", "web")
	firstWatch := "GET /apis/apps/v1/namespaces/default/deployments?resourceVersion=" + web.ResourceVersion + "&watch=1"
	eventually(t, "the watch", func() bool { return f.countRequests(firstWatch) == 1 })

	// The controller plays the rollout, as SetDeploymentStatus commits it.
	status := func(updated, replicas, available int32) {
		f.setDeploymentStatus(web, api.DeploymentStatus{ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: updated, AvailableReplicas: available})
	}
	status(1, 5, 4)
	// Another Deployment of the namespace: ignored.
	f.addDeployment(deploymentFromManifest(t, strings.Replace(webDeployment, "name: web", "name: other", 1)))
	status(2, 5, 3)
	resumeFrom := f.deployment("default", "web").ResourceVersion
	eventually(t, "the second status line", func() bool { return strings.Contains(out.String(), "2 out of 4 new replicas") })
	// The agent ends the stream: the watch resumes where it stopped.
	if n := f.endWatches(); n != 1 {
		t.Fatalf("%d watches in flight, want 1", n)
	}
	secondWatch := "GET /apis/apps/v1/namespaces/default/deployments?resourceVersion=" + resumeFrom + "&watch=1"
	eventually(t, "the resumed watch", func() bool { return f.countRequests(secondWatch) == 1 })
	status(4, 6, 3)
	status(4, 4, 3)
	status(4, 4, 4)
	if err := wait(); err != nil {
		t.Fatalf("rollout status: %v, %s", err, errOut.String())
	}
	want := "" +
		"Waiting for deployment spec update to be observed...\n" +
		"Waiting for deployment \"web\" rollout to finish: 1 out of 4 new replicas have been updated...\n" +
		"Waiting for deployment \"web\" rollout to finish: 2 out of 4 new replicas have been updated...\n" +
		"Waiting for deployment \"web\" rollout to finish: 2 old replicas are pending termination...\n" +
		"Waiting for deployment \"web\" rollout to finish: 3 of 4 updated replicas are available...\n" +
		"deployment \"web\" successfully rolled out\n"
	if out.String() != want {
		t.Errorf("rollout status printed:\n%s\nwant:\n%s", out.String(), want)
	}
	var watches []string
	for _, r := range f.takeRequests() {
		if strings.Contains(r, "watch=1") {
			watches = append(watches, r)
		}
	}
	if !slices.Equal(watches, []string{firstWatch, secondWatch}) {
		t.Errorf("watches %q, want %q", watches, []string{firstWatch, secondWatch})
	}
}

func TestRolloutStatusDoneTimeoutAndMissing(t *testing.T) {
	f := newTestServer(t)
	addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, AvailableReplicas: 4})
	out, _, err := f.run("", "rollout", "status", "deploy/web")
	if err != nil || out != "deployment \"web\" successfully rolled out\n" {
		t.Errorf("rollout status of a done rollout = %q, %v", out, err)
	}
	slow := deploymentFromManifest(t, strings.Replace(webDeployment, "name: web", "name: slow", 1))
	slow.Status.ObservedGeneration = 1 // observed, nothing running yet
	f.addDeployment(slow)
	start := time.Now()
	out, errOut, err := f.run("", "rollout", "status", "deployment", "slow", "--timeout", "300ms")
	if err == nil || exitCode(err) != 1 || errOut != "error: timed out waiting for the condition\n" || time.Since(start) > 5*time.Second ||
		out != "Waiting for deployment \"slow\" rollout to finish: 0 out of 4 new replicas have been updated...\n" {
		t.Errorf("rollout status --timeout = %q, %q, %v", out, errOut, err)
	}
	out, _, err = f.run("", "rollout", "status", "deployment", "slow", "--watch=false")
	if err != nil || !strings.HasPrefix(out, "Waiting for deployment \"slow\"") {
		t.Errorf("rollout status --watch=false = %q, %v", out, err)
	}
	_, errOut, err = f.run("", "rollout", "status", "deployment", "nope")
	if err == nil || errOut != "Error from server (NotFound): deployments.apps \"nope\" not found\n" {
		t.Errorf("rollout status of a missing Deployment = %q, %v", errOut, err)
	}
	for _, args := range [][]string{
		{"rollout", "status"},
		{"rollout", "status", "pod", "web"},
		{"rollout", "status", "deployment", "web", "slow"},
	} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

func TestRolloutStatusDeleted(t *testing.T) {
	f := newTestServer(t)
	web := addWebDeployment(t, f, api.DeploymentStatus{})
	_, errOut, wait := f.runAsync(context.Background(), "rollout", "status", "deployment", "web")
	eventually(t, "the watch", func() bool {
		return f.countRequests("GET /apis/apps/v1/namespaces/default/deployments?resourceVersion="+web.ResourceVersion+"&watch=1") == 1
	})
	f.commit(consensus.CmdDeleteDeployment, consensus.DeleteDeployment{Namespace: "default", Name: "web"}, nil)
	if err := wait(); err == nil || errorMessage(err) != "error: object has been deleted" {
		t.Errorf("rollout status of a deleted Deployment: %v %s", err, errOut.String())
	}
}
