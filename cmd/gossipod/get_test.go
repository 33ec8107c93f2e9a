package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// addFixtures stores three pods created 20 minutes ago: web (running,
// ready, on node-1) and db (pending, bound to node-2) in default, job
// (completed on node-1) in batch. The nodes report the statuses.
func addFixtures(f *testServer) {
	defer f.setAgo(20 * time.Minute)()
	web := fixturePod(1, 0, api.PodStatus{Phase: api.PodRunning, PodIP: "10.1.0.5",
		ContainerStatuses: []api.ContainerStatus{running(true, 0)}})
	web.Labels = map[string]string{"app": "web"}
	web.Spec.NodeName = "node-1"
	db := fixturePod(2, 0, api.PodStatus{Phase: api.PodPending})
	db.Name, db.Spec.NodeName = "db", "node-2"
	db.Spec.Containers[1].Name = "c2"
	job := fixturePod(1, 0, api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []api.ContainerStatus{terminated(0, "Completed")}})
	job.Name, job.Namespace, job.Spec.NodeName = "job", "batch", "node-1"
	for _, p := range []*api.Pod{web, db, job} {
		f.add(p)
	}
}

func TestGetPodsTable(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "pods"}, "" +
			"NAME   READY   STATUS    RESTARTS   AGE\n" +
			"db     0/2     Pending   0          20m\n" +
			"web    1/1     Running   0          20m\n"},
		// Flags after the name, as kubectl allows.
		{[]string{"get", "pods", "web", "-o", "wide"}, "" +
			"NAME   READY   STATUS    RESTARTS   AGE   IP         NODE     NOMINATED NODE   READINESS GATES\n" +
			"web    1/1     Running   0          20m   10.1.0.5   node-1   <none>           <none>\n"},
		{[]string{"get", "pod/web", "pod/db", "--no-headers"}, "" +
			"web   1/1   Running   0   20m\n" +
			"db    0/2   Pending   0   20m\n"},
		{[]string{"get", "po", "-A"}, "" +
			"NAMESPACE   NAME   READY   STATUS      RESTARTS   AGE\n" +
			"batch       job    0/1     Completed   0          20m\n" +
			"default     db     0/2     Pending     0          20m\n" +
			"default     web    1/1     Running     0          20m\n"},
		{[]string{"get", "pods", "-n", "batch", "--show-labels"}, "" +
			"NAME   READY   STATUS      RESTARTS   AGE   LABELS\n" +
			"job    0/1     Completed   0          20m   <none>\n"},
		{[]string{"get", "pods", "-o", "name"}, "pod/db\npod/web\n"},
	}
	for _, tt := range tests {
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != tt.want {
			t.Errorf("%q:\n%s(stderr %q, err %v)\nwant:\n%s", tt.args, out, errOut, err, tt.want)
		}
	}
}

func TestGetPodsSelectorsReachTheServer(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	f.takeRequests()
	out, _, err := f.run("", "get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=node-1")
	if err != nil || !strings.Contains(out, "web") || strings.Contains(out, "db") {
		t.Errorf("get pods -l: %q %v", out, err)
	}
	want := []string{"GET /api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dnode-1&labelSelector=app%3Dweb"}
	if got := f.takeRequests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestGetPodsJSON(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	out, _, err := f.run("", "get", "pod", "web", "-o", "json")
	var p api.Pod
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.Name != "web" || p.UID != "uid-web" || p.Status.PodIP != "10.1.0.5" {
		t.Errorf("get pod web -o json: %v, %q", err, out)
	}
	out, _, err = f.run("", "get", "pods", "-o", "json")
	var l api.PodList
	if err != nil || json.Unmarshal([]byte(out), &l) != nil || l.Kind != "PodList" || len(l.Items) != 2 {
		t.Errorf("get pods -o json: %v, %q", err, out)
	}
	out, _, err = f.run("", "get", "pods", "web", "db", "-o", "yaml")
	if err != nil || !strings.Contains(out, "kind: List\n") || !strings.Contains(out, "name: db\n") {
		t.Errorf("get pods web db -o yaml: %v, %q", err, out)
	}
}

func TestGetPodsEmptyAndMissing(t *testing.T) {
	f := newTestServer(t)
	out, errOut, err := f.run("", "get", "pods")
	if err != nil || out != "" || errOut != "No resources found in default namespace.\n" {
		t.Errorf("get pods of nothing = %q, %q, %v", out, errOut, err)
	}
	_, errOut, _ = f.run("", "get", "pods", "-A")
	if errOut != "No resources found\n" {
		t.Errorf("get pods -A of nothing: stderr %q", errOut)
	}
	out, _, _ = f.run("", "get", "pods", "-o", "json")
	if !strings.Contains(out, `"items": []`) {
		t.Errorf("get pods -o json of nothing = %q", out)
	}
	addFixtures(f)
	out, errOut, err = f.run("", "get", "pods", "web", "nope")
	if err == nil || exitCode(err) != 1 || !strings.Contains(out, "web") ||
		errOut != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("get pods web nope = %q, %q, %v", out, errOut, err)
	}
	for _, args := range [][]string{
		{"get", "pods", "web", "-A"},
		{"get", "pods", "web", "-l", "app=web"},
		{"get", "pods", "-o", "table"},
		{"get", "things"},
	} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestGetPodsWatch(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	listed, _ := f.store.ReadIndex(context.Background())
	f.takeRequests()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut, wait := f.runAsync(ctx, "get", "pods", "-w")
	eventually(t, "the watch", func() bool {
		return f.countRequests("GET /api/v1/namespaces/default/pods?resourceVersion="+strconv.FormatUint(listed, 10)+"&watch=1") == 1
	})

	// db's node starts its containers.
	f.reportStatus(f.pod("default", "db"), api.PodStatus{Phase: api.PodPending,
		ContainerStatuses: []api.ContainerStatus{waiting("ContainerCreating"), waiting("ContainerCreating")}})
	want := "" +
		"NAME   READY   STATUS    RESTARTS   AGE\n" +
		"db     0/2     Pending   0          20m\n" +
		"web    1/1     Running   0          20m\n" +
		"db     0/2     ContainerCreating   0          20m\n"
	eventually(t, "the watch's line", func() bool { return out.String() == want })
	cancel()
	if err := wait(); err != nil {
		t.Errorf("get -w: %v, %s", err, errOut.String())
	}
	if out.String() != want {
		t.Errorf("get -w printed:\n%s\nwant:\n%s", out.String(), want)
	}
	var watches []string
	for _, r := range f.takeRequests() {
		if strings.Contains(r, "watch=1") {
			watches = append(watches, r)
		}
	}
	if len(watches) != 1 {
		t.Errorf("watch requests %q, want one from the listed version %d", watches, listed)
	}
}

func TestAlignedRowsKeepColumns(t *testing.T) {
	var b bytes.Buffer
	a := &alignedRows{w: &b}
	_ = a.write([]string{"NAME", "STATUS", "AGE"}, []string{"web", "Running", "5m"})
	_ = a.write([]string{"a-longer-name", "Pending", "1s"})
	_ = a.write([]string{"web", "Running", "6m"})
	want := "" +
		"NAME   STATUS    AGE\n" +
		"web    Running   5m\n" +
		"a-longer-name   Pending   1s\n" +
		"web             Running   6m\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestPodTableRow(t *testing.T) {
	p := fixturePod(2, 0, api.PodStatus{Phase: api.PodRunning, PodIP: "10.1.0.5",
		ContainerStatuses: []api.ContainerStatus{running(true, 0), running(true, 1)}})
	p.Spec.NodeName = "node-1"
	p.Labels = map[string]string{"tier": "web", "app": "shop"}
	opts := podTableOptions{wide: true, allNamespaces: true, showLabels: true}
	want := []string{"default", "web", "2/2", "Running", "1", "5m", "10.1.0.5", "node-1", "app=shop,tier=web"}
	if got := opts.row(p, testNow); !slices.Equal(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	wantHeaders := []string{"NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "LABELS"}
	if got := opts.headers(); !slices.Equal(got, wantHeaders) {
		t.Errorf("headers = %q, want %q", got, wantHeaders)
	}
	unplaced := fixturePod(1, 0, api.PodStatus{Phase: api.PodPending})
	if got := (podTableOptions{wide: true}).row(unplaced, testNow); !slices.Equal(got, []string{"web", "0/1", "Pending", "0", "5m", "<none>", "<none>"}) {
		t.Errorf("row of an unplaced pod = %q", got)
	}
}
