package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// fastDrain shortens drain's retry delay and poll interval for a test.
func fastDrain(t *testing.T) {
	retry, poll := evictionRetryDelay, drainPollInterval
	evictionRetryDelay, drainPollInterval = 20*time.Millisecond, 5*time.Millisecond
	t.Cleanup(func() { evictionRetryDelay, drainPollInterval = retry, poll })
}

func TestCordonUncordon(t *testing.T) {
	f := newTestServer(t)
	f.addNode("node-1", false)
	f.addNode("node-2", true)
	tests := []struct {
		args   []string
		want   string
		writes []string
		cordon map[string]bool
	}{
		{[]string{"cordon", "node-1"}, "node/node-1 cordoned\n",
			[]string{"PATCH /api/v1/nodes/node-1"}, map[string]bool{"node-1": true, "node-2": true}},
		{[]string{"cordon", "node-1", "node/node-2"}, "node/node-1 already cordoned\nnode/node-2 already cordoned\n",
			nil, map[string]bool{"node-1": true, "node-2": true}},
		{[]string{"uncordon", "node/node-1"}, "node/node-1 uncordoned\n",
			[]string{"PATCH /api/v1/nodes/node-1"}, map[string]bool{"node-1": false, "node-2": true}},
		{[]string{"uncordon", "node-1"}, "node/node-1 already uncordoned\n",
			nil, map[string]bool{"node-1": false, "node-2": true}},
	}
	for _, tt := range tests {
		f.takeRequests()
		out, errOut, err := f.run("", tt.args...)
		if err != nil || out != tt.want || errOut != "" {
			t.Errorf("%q = %q, %q, %v; want %q", tt.args, out, errOut, err, tt.want)
		}
		if got := writes(f.takeRequests()); !slices.Equal(got, tt.writes) {
			t.Errorf("%q: writes %q, want %q", tt.args, got, tt.writes)
		}
		for n, want := range tt.cordon {
			if got := f.node(n).Spec.Unschedulable; got != want {
				t.Errorf("%q: %s unschedulable %v, want %v", tt.args, n, got, want)
			}
		}
	}
	_, errOut, err := f.run("", "cordon", "ghost")
	if err == nil || errOut != "Error from server (NotFound): nodes \"ghost\" not found\n" {
		t.Errorf("cordon ghost = %q, %v", errOut, err)
	}
	for _, args := range [][]string{{"cordon"}, {"uncordon"}, {"drain"}, {"cordon", "pod/web"}} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

// drainFixture is node-1 with web-abc-1, a pod of the web Deployment
// (4 replicas, so 3 must stay available), and cache-1, a pod of the
// ReplicaSet cache (no Deployment, no disruption budget); node-2 with the
// three other pods of web; and a finished pod on node-1 that drain leaves
// alone. Every pod that runs is ready.
func drainFixture(t *testing.T) *testServer {
	f := newTestServer(t)
	f.addNode("node-1", false)
	f.addNode("node-2", false)
	d := addWebDeployment(t, f, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 4})
	webPods(f, d, "node-1", "web-abc-1")
	webPods(f, d, "node-2", "web-abc-2", "web-abc-3", "web-abc-4")
	labels := map[string]string{"app": "cache"}
	cache := f.addReplicaSet(&api.ReplicaSet{TypeMeta: api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{Name: "cache", Namespace: "default", Labels: labels},
		Spec: api.ReplicaSetSpec{Selector: &api.LabelSelector{MatchLabels: labels}, Template: api.PodTemplateSpec{
			ObjectMeta: api.ObjectMeta{Labels: labels}, Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "busybox"}}}}}})
	p := fixturePod(1, 0, readyStatus())
	p.Name, p.Labels, p.Spec.NodeName = "cache-1", labels, "node-1"
	f.add(ownedBy(p, cache))
	done := fixturePod(1, 0, api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []api.ContainerStatus{terminated(0, "Completed")}})
	done.Name, done.Spec.NodeName = "job", "node-1"
	f.add(done)
	return f
}

// setReady has the pod's node report it ready or not.
func setReady(f *testServer, name string, ready bool) {
	st := readyStatus()
	if !ready {
		st.ContainerStatuses = []api.ContainerStatus{running(false, 0)}
		st.Conditions[0].Status = api.ConditionFalse
	}
	f.reportStatus(f.pod("default", name), st)
}

// requestLine is how the test server records r.
func requestLine(r *http.Request) string {
	if r.URL.RawQuery != "" {
		return r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	}
	return r.Method + " " + r.URL.Path
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func TestDrainRetriesRefusedEvictions(t *testing.T) {
	fastDrain(t)
	f := drainFixture(t)
	// web-abc-4 is not ready: evicting web-abc-1 would leave web 2
	// available pods of the 3 it needs, and the server refuses with 429,
	// until web-abc-4's node reports it ready again, which it does just
	// before drain's third attempt.
	setReady(f, "web-abc-4", false)
	evict := "POST /api/v1/namespaces/default/pods/web-abc-1/eviction"
	f.beforeEach(func(r *http.Request) {
		if requestLine(r) == evict && f.countRequests(evict) == 3 {
			setReady(f, "web-abc-4", true)
		}
	})
	// The node stops each evicted pod once drain has seen it Terminating.
	f.nodesConfirmAfter(1)
	f.takeRequests()
	out, errOut, err := f.run("", "drain", "node-1")
	if err != nil {
		t.Fatalf("drain: %v\n%s%s", err, out, errOut)
	}

	// The evictions run at once, so only each pod's own lines are ordered.
	got := lines(out)
	if got[0] != "node/node-1 cordoned" || got[len(got)-1] != "node/node-1 drained" {
		t.Errorf("drain printed:\n%s", out)
	}
	want := map[string][]string{
		"web-abc-1": {"evicting pod default/web-abc-1", "evicting pod default/web-abc-1", "evicting pod default/web-abc-1", "pod/web-abc-1 evicted"},
		"cache-1":   {"evicting pod default/cache-1", "pod/cache-1 evicted"},
	}
	for pod, w := range want {
		var mine []string
		for _, l := range got {
			if strings.Contains(l, pod) {
				mine = append(mine, l)
			}
		}
		if !slices.Equal(mine, w) {
			t.Errorf("lines of %s: %q, want %q", pod, mine, w)
		}
	}
	if len(got) != 2+4+2 {
		t.Errorf("drain printed %d lines:\n%s", len(got), out)
	}
	retry := `error when evicting pods/"web-abc-1" -n "default" (will retry after 20ms): Cannot evict pod as it would violate the pod's disruption budget.` + "\n"
	if errOut != retry+retry {
		t.Errorf("stderr %q, want the retry message twice", errOut)
	}

	reqs := f.takeRequests()
	if w := writes(reqs); !slices.Equal(w[:1], []string{"PATCH /api/v1/nodes/node-1"}) || len(w) != 1+3+1 ||
		countOf(w, evict) != 3 || countOf(w, "POST /api/v1/namespaces/default/pods/cache-1/eviction") != 1 {
		t.Errorf("writes %q", w)
	}
	if !slices.Contains(reqs, "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1%2Cstatus.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed") {
		t.Errorf("no list of the node's running pods in %q", reqs)
	}
	// Drain waited for the nodes to confirm.
	if f.pod("default", "web-abc-1") != nil || f.pod("default", "cache-1") != nil || f.pod("default", "web-abc-2") == nil ||
		f.pod("default", "job") == nil || !f.node("node-1").Spec.Unschedulable {
		t.Error("drain evicted the wrong pods, or did not wait for them")
	}

	// Again: cordoned already, nothing left to evict.
	out, errOut, err = f.run("", "drain", "node-1")
	if err != nil || out != "node/node-1 already cordoned\nnode/node-1 drained\n" || errOut != "" {
		t.Errorf("second drain = %q, %q, %v", out, errOut, err)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestDrainRefusesPodsWithoutController(t *testing.T) {
	fastDrain(t)
	f := drainFixture(t)
	addFixtures(f) // web: a bare pod on node-1
	f.nodesConfirmAfter(1)
	f.takeRequests()
	out, errOut, err := f.run("", "drain", "node-1")
	wantErr := "" +
		`error: unable to drain node "node-1" due to error: cannot delete Pods that declare no controller (use --force to override): default/web, continuing command...` + "\n" +
		"There are pending nodes to be drained:\n" +
		" node-1\n" +
		"error: cannot delete Pods that declare no controller (use --force to override): default/web\n"
	if err == nil || exitCode(err) != 1 || out != "node/node-1 cordoned\n" || errOut != wantErr {
		t.Errorf("drain with a bare pod = %q, %q, %v; want stderr:\n%s", out, errOut, err, wantErr)
	}
	for _, w := range writes(f.takeRequests()) {
		if strings.HasSuffix(w, "/eviction") {
			t.Errorf("evicted without --force: %s", w)
		}
	}

	out, errOut, err = f.run("", "drain", "node-1", "--force", "--grace-period", "5")
	if err != nil || errOut != "Warning: deleting Pods that declare no controller: default/web\n" ||
		!hasPrefixLine(out, "pod/web evicted") || !strings.HasSuffix(out, "node/node-1 drained\n") {
		t.Errorf("drain --force = %q, %q, %v", out, errOut, err)
	}
	// The eviction's gracePeriodSeconds reached the node.
	if g, ok := f.stoppedWithGrace("default", "web"); !ok || g != 5 {
		t.Errorf("the node stopped web with a grace period of %d (stopped: %v), want 5", g, ok)
	}
}

func TestDrainRefusesEmptyDirPods(t *testing.T) {
	fastDrain(t)
	f := drainFixture(t)
	f.nodesConfirmAfter(0)
	scratch := fixturePod(1, 0, readyStatus())
	scratch.Name, scratch.Spec.NodeName = "scratch", "node-1"
	scratch.Spec.Volumes = []api.Volume{{Name: "tmp", VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}}
	f.add(ownedBy(scratch, f.replicaSet("default", "cache")))
	bare := fixturePod(1, 0, readyStatus())
	bare.Name, bare.Spec.NodeName = "bare", "node-1"
	f.add(bare)

	_, errOut, err := f.run("", "drain", "node-1")
	final := "error: [cannot delete Pods that declare no controller (use --force to override): default/bare, " +
		"cannot delete Pods with local storage (use --delete-emptydir-data to override): default/scratch]\n"
	if err == nil || !strings.HasSuffix(errOut, final) {
		t.Errorf("drain with emptyDir and bare pods: %q, %v; want it to end with %q", errOut, err, final)
	}
	out, errOut, err := f.run("", "drain", "node-1", "--delete-emptydir-data", "--force", "--ignore-daemonsets")
	if err != nil || !hasPrefixLine(out, "pod/scratch evicted") ||
		errOut != "Warning: deleting Pods that declare no controller: default/bare; deleting Pods with local storage: default/scratch\n" {
		t.Errorf("drain --delete-emptydir-data --force = %q, %q, %v", out, errOut, err)
	}
}

func TestDrainTimeout(t *testing.T) {
	fastDrain(t)
	f := drainFixture(t)
	f.nodesConfirmAfter(0)
	// web-abc-4 stays unready: web-abc-1 cannot be evicted.
	setReady(f, "web-abc-4", false)
	start := time.Now()
	out, errOut, err := f.run("", "drain", "node-1", "--timeout", "1s")
	if err == nil || exitCode(err) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("drain --timeout: %v after %v", err, time.Since(start))
	}
	timeoutErr := `error when evicting pods/"web-abc-1" -n "default": global timeout reached: 1s`
	wantTail := "" +
		`There are pending pods in node "node-1" when an error occurred: ` + timeoutErr + "\n" +
		"pod/web-abc-1\n" +
		`error: unable to drain node "node-1" due to error: ` + timeoutErr + ", continuing command...\n" +
		"There are pending nodes to be drained:\n" +
		" node-1\n" +
		"error: " + timeoutErr + "\n"
	if !strings.HasSuffix(errOut, wantTail) || !strings.HasPrefix(errOut, `error when evicting pods/"web-abc-1" -n "default" (will retry after 20ms)`) {
		t.Errorf("stderr:\n%s\nwant it to end with:\n%s", errOut, wantTail)
	}
	if !hasPrefixLine(out, "pod/cache-1 evicted") || strings.Contains(out, "drained") || f.pod("default", "web-abc-1") == nil {
		t.Errorf("stdout:\n%s", out)
	}
}
