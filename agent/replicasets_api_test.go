package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// replicaSetBody is a user's ReplicaSet as kubectl sends it, whose pods no
// node matches (in-process agents run no pods, and unbound pods go at once
// when deleted).
func replicaSetBody(name string, replicas int) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "ReplicaSet",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app": name}},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec": map[string]any{
					"nodeSelector": map[string]any{"gossipod.test/none": "x"},
					"containers":   []any{map[string]any{"name": "c", "image": "busybox:1"}},
				},
			},
		},
	}
}

// rawRequest sends method path with body through the agent's API and
// returns the status code and the response body.
func rawRequest(t *testing.T, a *Agent, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+a.apiListener.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := adminHTTPClient(t, a).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReplicaSetsAPI drives the ReplicaSet endpoints as kubectl does:
// create, get, list by label and across namespaces, the refusals (409,
// 422 invalid, selector immutable, replicas bound), the scale subresource,
// and DELETE with a DeleteOptions body or query, its refusals included.
func TestReplicaSetsAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const base = "/apis/apps/v1/namespaces/default/replicasets"

	var created api.ReplicaSet
	if err := cl.Do(ctx, http.MethodPost, base, replicaSetBody("cache", 2), &created); err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.Generation != 1 || created.Spec.Template.Spec.RestartPolicy != api.RestartPolicyAlways || created.Kind != "ReplicaSet" {
		t.Fatalf("created: %+v", created)
	}
	if err := cl.Do(ctx, http.MethodPost, base, replicaSetBody("cache", 2), nil); !isStatus(err, http.StatusConflict) {
		t.Fatalf("second create: %v, want 409", err)
	}
	bad := replicaSetBody("bad", 1)
	bad["spec"].(map[string]any)["selector"] = map[string]any{"matchLabels": map[string]any{"app": "other"}}
	if err := cl.Do(ctx, http.MethodPost, base, bad, nil); !isStatus(err, http.StatusUnprocessableEntity) ||
		!strings.Contains(err.Error(), "`selector` does not match template `labels`") {
		t.Fatalf("selector not matching: %v", err)
	}
	if err := cl.Do(ctx, http.MethodPost, base, replicaSetBody("huge", 2000000), nil); !isStatus(err, http.StatusUnprocessableEntity) ||
		!strings.Contains(err.Error(), "must be less than or equal to") {
		t.Fatalf("2,000,000 replicas: %v", err)
	}

	var list api.ReplicaSetList
	if err := cl.Do(ctx, http.MethodGet, base+"?labelSelector=app%3Dcache", nil, &list); err != nil || len(list.Items) != 1 || list.Kind != "ReplicaSetList" {
		t.Fatalf("list by label: %v %+v", err, list)
	}
	if err := cl.Do(ctx, http.MethodGet, "/apis/apps/v1/replicasets?labelSelector=app%3Dnone", nil, &list); err != nil || len(list.Items) != 0 {
		t.Fatalf("list across namespaces: %v %d items", err, len(list.Items))
	}

	moved := created
	moved.Spec.Selector = &api.LabelSelector{MatchLabels: map[string]string{"app": "cache", "tier": "x"}}
	moved.Spec.Template.Labels = map[string]string{"app": "cache", "tier": "x"}
	if err := cl.Do(ctx, http.MethodPut, base+"/cache", &moved, nil); !isStatus(err, http.StatusUnprocessableEntity) ||
		!strings.Contains(err.Error(), "field is immutable") {
		t.Fatalf("selector change: %v", err)
	}

	var scale autoscalingv1.Scale
	if err := cl.Do(ctx, http.MethodGet, base+"/cache/scale", nil, &scale); err != nil || scale.Spec.Replicas != 2 || scale.Status.Selector != "app=cache" {
		t.Fatalf("get scale: %v %+v", err, scale)
	}
	scale.Spec.Replicas = 3
	stale := scale
	stale.ResourceVersion = "1"
	scale.ResourceVersion = "" // as kubectl scale sends it: no precondition
	if err := cl.Do(ctx, http.MethodPut, base+"/cache/scale", &scale, &scale); err != nil || scale.Spec.Replicas != 3 {
		t.Fatalf("put scale: %v %+v", err, scale)
	}
	if err := cl.Do(ctx, http.MethodPut, base+"/cache/scale", &stale, nil); !isStatus(err, http.StatusConflict) {
		t.Fatalf("scale with a stale resourceVersion: %v, want 409", err)
	}

	for _, tc := range []struct {
		name, query, body string
		code              int
		want              string
	}{
		{"unknown field", "", `{"kind":"DeleteOptions","apiVersion":"v1","propagation":"Orphan"}`, 400, "propagation: unknown field"},
		// Refused with 422 here, or with 400 by a write-options check in
		// front of the handlers where there is one: code 0 takes either.
		{"dry run", "", `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}`, 0, "dryRun"},
		{"unknown policy", "?propagationPolicy=Later", "", 422, `DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value`},
		{"both forms", "", `{"orphanDependents":true,"propagationPolicy":"Orphan"}`, 422, "cannot be both set"},
		{"a uid that is not the object's", "", `{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"other"}}`, 409, "does not match the UID in record"},
	} {
		code, body := rawRequest(t, a, http.MethodDelete, base+"/cache"+tc.query, tc.body)
		if tc.code == 0 && (code == http.StatusBadRequest || code == http.StatusUnprocessableEntity) {
			tc.code = code
		}
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	if err := cl.Do(ctx, http.MethodGet, base+"/cache", nil, nil); err != nil {
		t.Fatalf("a refused delete deleted: %v", err)
	}
	code, body := rawRequest(t, a, http.MethodDelete, base+"/cache", `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`)
	var gone api.ReplicaSet
	if code != http.StatusOK || json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&gone) != nil || gone.Name != "cache" {
		t.Fatalf("delete as kubectl sends it: %d %s", code, body)
	}
	if err := cl.Do(ctx, http.MethodGet, base+"/cache", nil, nil); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("after delete: %v, want 404", err)
	}

	// A pod's DELETE takes DeleteOptions too: its grace period from the body.
	pod := testPodSpec("lone", "1Gi")
	pod.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", pod, nil); err != nil {
		t.Fatal(err)
	}
	if code, body := rawRequest(t, a, http.MethodDelete, "/api/v1/namespaces/default/pods/lone",
		`{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"propagationPolicy":"Foreground"}`); code != http.StatusOK {
		t.Fatalf("pod delete with DeleteOptions: %d %s", code, body)
	}
}
