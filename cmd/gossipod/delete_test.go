package main

import (
	"slices"
	"strings"
	"testing"
)

func TestDeletePods(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	// The nodes stop a deleted pod once the CLI has seen it Terminating.
	f.nodesConfirmAfter(1)
	f.takeRequests()

	out, errOut, err := f.run("", "delete", "pod", "web", "--now")
	if err != nil || out != "pod \"web\" deleted\n" || errOut != "" {
		t.Errorf("delete pod web = %q, %q, %v", out, errOut, err)
	}
	reqs := f.takeRequests()
	w := writes(reqs)
	if !slices.Equal(w, []string{"DELETE /api/v1/namespaces/default/pods/web?gracePeriodSeconds=1"}) {
		t.Fatalf("writes %q", w)
	}
	// It waited: it read the pod Terminating, then gone.
	if last := reqs[len(reqs)-1]; last != "GET /api/v1/namespaces/default/pods/web" ||
		countOf(reqs[slices.Index(reqs, w[0]):], last) != 2 {
		t.Errorf("requests %q, want the wait's two GETs last", reqs)
	}

	out, errOut, err = f.run("", "delete", "pods", "db", "job", "--grace-period", "0")
	if err == nil || exitCode(err) != 1 || out != "pod \"db\" deleted\n" ||
		errOut != "Error from server (NotFound): pods \"job\" not found\n" {
		t.Errorf("delete pods db job = %q, %q, %v", out, errOut, err)
	}
	// --grace-period=0 without --force is 1, as in kubectl.
	if w := writes(f.takeRequests()); !slices.Equal(w, []string{
		"DELETE /api/v1/namespaces/default/pods/db?gracePeriodSeconds=1",
		"DELETE /api/v1/namespaces/default/pods/job?gracePeriodSeconds=1"}) {
		t.Errorf("writes %q", w)
	}

	out, errOut, err = f.run("", "delete", "pod", "job", "-n", "batch", "--force")
	if err != nil || out != "pod \"job\" force deleted\n" || !strings.HasPrefix(errOut, "Warning: Immediate deletion") {
		t.Errorf("delete --force = %q, %q, %v", out, errOut, err)
	}
	if w := writes(f.takeRequests()); !slices.Equal(w, []string{"DELETE /api/v1/namespaces/batch/pods/job?gracePeriodSeconds=0"}) {
		t.Errorf("writes %q", w)
	}

	out, errOut, err = f.run("", "delete", "pod", "ghost", "--ignore-not-found")
	if err != nil || out != "" || errOut != "" {
		t.Errorf("delete --ignore-not-found = %q, %q, %v", out, errOut, err)
	}
}

func TestDeleteBySelectorAndAll(t *testing.T) {
	f := newTestServer(t)
	addFixtures(f)
	out, _, err := f.run("", "delete", "pods", "-l", "app=web", "--wait=false")
	if err != nil || out != "pod \"web\" deleted\n" || f.pod("default", "db") == nil {
		t.Errorf("delete -l = %q, %v", out, err)
	}
	out, _, err = f.run("", "delete", "pods", "--all", "-n", "batch")
	if err != nil || out != "pod \"job\" deleted\n" {
		t.Errorf("delete --all = %q, %v", out, err)
	}
	_, errOut, err := f.run("", "delete", "pods", "--all", "-n", "batch")
	if err != nil || errOut != "No resources found\n" {
		t.Errorf("delete --all of nothing = %q, %v", errOut, err)
	}
	for _, args := range [][]string{
		{"delete", "pods"},
		{"delete", "pods", "db", "--all"},
		{"delete", "pod", "db", "--now", "--grace-period", "5"},
		// Discovery lists no delete verb for events.
		{"delete", "events", "x"},
		{"delete", "things", "x"},
	} {
		if _, _, err := f.run("", args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%q: err %v, want a usage error", args, err)
		}
	}
}

func TestDeleteFromManifests(t *testing.T) {
	f := newTestServer(t)
	dir := t.TempDir()
	file := writeFile(t, dir, "pods.yaml", webPod+"---\n"+strings.Replace(webPod, "name: web", "name: other", 1))
	if _, errOut, err := f.run("", "apply", "-f", file); err != nil {
		t.Fatalf("apply: %v %s", err, errOut)
	}
	out, errOut, err := f.run("", "delete", "-f", file)
	if err != nil || out != "pod \"web\" deleted\npod \"other\" deleted\n" {
		t.Errorf("delete -f = %q, %q, %v", out, errOut, err)
	}
	out, errOut, err = f.run("", "delete", "-f", file)
	wantErr := "Error from server (NotFound): error when deleting \"" + file + "\": pods \"web\" not found\n" +
		"Error from server (NotFound): error when deleting \"" + file + "\": pods \"other\" not found\n"
	if err == nil || out != "" || errOut != wantErr {
		t.Errorf("delete -f of deleted pods = %q, %q, %v; want stderr %q", out, errOut, err, wantErr)
	}
	if _, _, err := f.run("", "delete", "-f", file, "--ignore-not-found"); err != nil {
		t.Errorf("delete -f --ignore-not-found: %v", err)
	}
	// A manifest that does not decode deletes nothing.
	f.add(podFromManifest(t, webPod))
	f.takeRequests()
	bad := writeFile(t, dir, "bad.yaml", webPod+"---\nkind: Pod\n")
	if _, _, err := f.run("", "delete", "-f", bad); err == nil || len(f.takeRequests()) != 0 {
		t.Errorf("delete -f of a bad manifest: %v", err)
	}
}
