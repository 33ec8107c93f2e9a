package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/pki"
)

// TestPatchNamespaces drives namespace PATCHes as kubectl sends them:
// label (merge patch), apply (strategic merge), annotate by JSON patch;
// then what an update may not do: a status or finalizers it sends are the
// cluster's and stay, an invalid label is refused as PUT refuses it, a
// stale resourceVersion is a conflict, a rename a 400, a missing namespace
// a 404.
func TestPatchNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	c := newCaller(t, agents[0])
	cl := adminClient(t, agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eventually(t, 20*time.Second, func() error {
		return cl.Do(ctx, http.MethodPost, "/api/v1/namespaces", &api.Namespace{
			TypeMeta: api.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: api.ObjectMeta{Name: "shop"}}, nil)
	})
	path := "/api/v1/namespaces/shop"

	// kubectl label ns shop team=a
	var got api.Namespace
	c.patch(path, mergePatch, mergeOf(t, c.get(path), func(o map[string]any) { setIn(metadataOf(o), "labels", "team", "a") }), http.StatusOK, &got)
	if got.Labels["team"] != "a" || got.Status.Phase != api.NamespaceActive || got.Kind != "Namespace" {
		t.Fatalf("after label: %+v", got)
	}
	rv := got.ResourceVersion
	// kubectl apply's strategic merge patch, typed by corev1.Namespace.
	apply := twoWay(t, c.get(path), func(ns *corev1.Namespace) { ns.Labels["team"] = "b"; ns.Labels["env"] = "prod" })
	c.patch(path, strategicPatch, apply, http.StatusOK, &got)
	if got.Labels["team"] != "b" || got.Labels["env"] != "prod" || got.ResourceVersion == rv {
		t.Fatalf("after apply's patch %s: %+v", apply, got.ObjectMeta)
	}
	c.patch(path, jsonPatch, []byte(`[{"op":"add","path":"/metadata/annotations","value":{"owner":"team-b"}}]`), http.StatusOK, &got)
	if got.Annotations["owner"] != "team-b" {
		t.Fatalf("annotations: %v", got.Annotations)
	}

	// Status and finalizers are the cluster's: a patch of them writes
	// nothing and the namespace stays Active with its finalizer.
	before := got.ResourceVersion
	c.patch(path, mergePatch, []byte(`{"status":{"phase":"Terminating"},"spec":{"finalizers":[]}}`), http.StatusOK, &got)
	if got.Status.Phase != api.NamespaceActive || len(got.Spec.Finalizers) != 1 || got.ResourceVersion != before {
		t.Fatalf("after a status patch: %+v %+v rv %s (was %s)", got.Spec, got.Status, got.ResourceVersion, before)
	}
	// An invalid label: the PATCH is refused as the PUT of the same
	// change is.
	st := c.patch(path, mergePatch, []byte(`{"metadata":{"labels":{"bad key!":"x"}}}`), http.StatusUnprocessableEntity, nil)
	var cur api.Namespace
	if err := json.Unmarshal(c.get(path), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Labels["bad key!"] = "x"
	var put *api.Status
	if err := cl.Do(ctx, http.MethodPut, path, &cur, nil); !errors.As(err, &put) || put.Message != st.Message || put.Code != st.Code {
		t.Fatalf("invalid label: PATCH says %q, PUT says %v", st.Message, err)
	}
	if !strings.Contains(st.Message, `Namespace "shop" is invalid: metadata.labels`) {
		t.Fatalf("invalid label: %q", st.Message)
	}
	// A field gossipod does not serve is named by its path.
	st = c.patch(path, mergePatch, []byte(`{"spec":{"color":"blue"}}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.color") {
		t.Fatalf("unknown field: %+v", st)
	}
	// PUT changes labels (kubectl replace).
	delete(cur.Labels, "bad key!")
	cur.Labels["env"] = "staging"
	var replaced api.Namespace
	if err := cl.Do(ctx, http.MethodPut, path, &cur, &replaced); err != nil || replaced.Labels["env"] != "staging" {
		t.Fatalf("PUT: %v %+v", err, replaced.ObjectMeta)
	}

	st = c.patch(path, mergePatch, []byte(`{"metadata":{"resourceVersion":"`+rv+`","labels":{"x":"y"}}}`), http.StatusConflict, nil)
	if st.Reason != api.StatusReasonConflict || !strings.Contains(st.Message, `namespaces "shop"`) {
		t.Fatalf("stale precondition: %+v", st)
	}
	c.patch(path, jsonPatch, []byte(`[{"op":"replace","path":"/metadata/name","value":"other"}]`), http.StatusBadRequest, nil)
	c.patch("/api/v1/namespaces/nope", mergePatch, []byte(`{}`), http.StatusNotFound, nil)
	c.patch(path, applyPatch, []byte("apiVersion: v1\nkind: Namespace\n"), http.StatusUnsupportedMediaType, nil)
	noop(t, c, path, []byte(`{"metadata":{"labels":{"team":"b"}}}`))
}

// TestPatchServiceAccounts: label, annotate, automountServiceAccountToken
// and imagePullSecrets by the three patch types; the account stays in its namespace and keeps
// its name; stale and missing ones are refused.
func TestPatchServiceAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	c := newCaller(t, agents[0])
	cl := adminClient(t, agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eventually(t, 20*time.Second, func() error {
		return cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/serviceaccounts",
			&api.ServiceAccount{TypeMeta: api.TypeMeta{Kind: "ServiceAccount", APIVersion: "v1"}, ObjectMeta: api.ObjectMeta{Name: "builder"}}, nil)
	})
	path := "/api/v1/namespaces/default/serviceaccounts/builder"

	var got api.ServiceAccount
	c.patch(path, mergePatch, mergeOf(t, c.get(path), func(o map[string]any) { setIn(metadataOf(o), "annotations", "note", "ci") }), http.StatusOK, &got)
	if got.Annotations["note"] != "ci" || got.Kind != "ServiceAccount" {
		t.Fatalf("after annotate: %+v", got)
	}
	rv := got.ResourceVersion
	apply := twoWay(t, c.get(path), func(sa *corev1.ServiceAccount) {
		no := false
		sa.AutomountServiceAccountToken = &no
		sa.Labels = map[string]string{"app": "ci"}
		sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	})
	c.patch(path, strategicPatch, apply, http.StatusOK, &got)
	if got.AutomountServiceAccountToken == nil || *got.AutomountServiceAccountToken || got.Labels["app"] != "ci" || got.Annotations["note"] != "ci" ||
		len(got.ImagePullSecrets) != 1 || got.ImagePullSecrets[0].Name != "regcred" {
		t.Fatalf("after apply's patch %s: %+v", apply, got)
	}
	c.patch(path, jsonPatch, []byte(`[{"op":"remove","path":"/metadata/labels/app"}]`), http.StatusOK, &got)
	if len(got.Labels) != 0 {
		t.Fatalf("labels after remove: %v", got.Labels)
	}
	// Secrets are not served yet: refused by their path, not dropped.
	st := c.patch(path, mergePatch, []byte(`{"secrets":[{"name":"token"}]}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "secrets") {
		t.Fatalf("unsupported field: %+v", st)
	}
	c.patch(path, mergePatch, []byte(`{"metadata":{"namespace":"kube-system"}}`), http.StatusBadRequest, nil)
	c.patch(path, jsonPatch, []byte(`[{"op":"replace","path":"/metadata/name","value":"other"}]`), http.StatusBadRequest, nil)
	st = c.patch(path, mergePatch, []byte(`{"metadata":{"resourceVersion":"`+rv+`","labels":{"x":"y"}}}`), http.StatusConflict, nil)
	if !strings.Contains(st.Message, `serviceaccounts "builder"`) {
		t.Fatalf("stale precondition: %+v", st)
	}
	c.patch("/api/v1/namespaces/default/serviceaccounts/nope", mergePatch, []byte(`{}`), http.StatusNotFound, nil)
	noop(t, c, path, []byte(`{"metadata":{"annotations":{"note":"ci"}}}`))

	// An edit credential may change service accounts, as Kubernetes' edit
	// role may.
	leaf, err := agents[0].tls.ca.Issue(pki.Request{CommonName: "dev", Organization: []string{pki.EditGroup}, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	edit := &apiCaller{t: t, http: tlsClient(t, agents[0], &leaf.TLS), base: c.base}
	edit.patch(path, mergePatch, []byte(`{"metadata":{"labels":{"by":"dev"}}}`), http.StatusOK, &got)
	edit.patch("/api/v1/namespaces/default", mergePatch, []byte(`{"metadata":{"labels":{"by":"dev"}}}`), http.StatusForbidden, nil)
}

// TestKubectlApplyNamespaceAndServiceAccount runs kubectl's own code
// against one agent: apply of a Namespace and a ServiceAccount creates
// them, applying again with a changed label says "configured" and changes
// it, unchanged says "unchanged"; label and annotate work on both.
func TestKubectlApplyNamespaceAndServiceAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	kubeconfig := writeKubeconfig(t, restConfig(t, agents[0], "admin", pki.AdminGroup))
	cacheDir := t.TempDir()
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := runKubectl(kubeconfig, cacheDir, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	dir := t.TempDir()
	manifest := func(body string) string {
		p := filepath.Join(dir, "m.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const objects = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: TEAM}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
  namespace: shop
  labels: {team: TEAM}
`
	// The namespace may take a moment to serve after the leader is
	// elected: the first apply is retried.
	var out string
	eventually(t, 20*time.Second, func() error {
		var err error
		out, err = runKubectl(kubeconfig, cacheDir, "apply", "-f", manifest(strings.ReplaceAll(objects, "TEAM", "a")))
		return err
	})
	if !strings.Contains(out, "namespace/shop created") || !strings.Contains(out, "serviceaccount/builder created") {
		t.Fatalf("first apply:\n%s", out)
	}
	out = kubectl("apply", "-f", manifest(strings.ReplaceAll(objects, "TEAM", "b")))
	if !strings.Contains(out, "namespace/shop configured") || !strings.Contains(out, "serviceaccount/builder configured") {
		t.Fatalf("apply with a changed label:\n%s", out)
	}
	out = kubectl("apply", "-f", manifest(strings.ReplaceAll(objects, "TEAM", "b")))
	if !strings.Contains(out, "namespace/shop unchanged") || !strings.Contains(out, "serviceaccount/builder unchanged") {
		t.Fatalf("apply again:\n%s", out)
	}
	if out = kubectl("get", "ns", "shop", "-o", "jsonpath={.metadata.labels.team}"); out != "b" {
		t.Fatalf("namespace label after apply: %q", out)
	}
	if out = kubectl("get", "sa", "builder", "-n", "shop", "-o", "jsonpath={.metadata.labels.team}"); out != "b" {
		t.Fatalf("service account label after apply: %q", out)
	}

	if out = kubectl("label", "ns", "shop", "env=prod"); !strings.Contains(out, "namespace/shop labeled") {
		t.Fatalf("kubectl label ns:\n%s", out)
	}
	if out = kubectl("annotate", "sa", "builder", "-n", "shop", "note=ci"); !strings.Contains(out, "serviceaccount/builder annotated") {
		t.Fatalf("kubectl annotate sa:\n%s", out)
	}
	if out = kubectl("annotate", "ns", "shop", "owner=team-b"); !strings.Contains(out, "namespace/shop annotated") {
		t.Fatalf("kubectl annotate ns:\n%s", out)
	}
	// The leader makes the namespace's default account soon after it.
	eventually(t, 20*time.Second, func() error {
		out, err := runKubectl(kubeconfig, cacheDir, "label", "sa", "default", "-n", "shop", "tier=base")
		if err == nil && !strings.Contains(out, "serviceaccount/default labeled") {
			t.Fatalf("kubectl label sa:\n%s", out)
		}
		return err
	})
	if out = kubectl("get", "ns", "shop", "-o", "jsonpath={.metadata.labels.env} {.metadata.annotations.owner}"); out != "prod team-b" {
		t.Fatalf("namespace after label and annotate: %q", out)
	}
	if out = kubectl("get", "sa", "builder", "-n", "shop", "-o", "jsonpath={.metadata.annotations.note}"); out != "ci" {
		t.Fatalf("service account after annotate: %q", out)
	}
}
