package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/gossipod/gossipod/api"
)

// The patch media types kubectl sends.
const (
	strategicPatch = "application/strategic-merge-patch+json"
	mergePatch     = "application/merge-patch+json"
	jsonPatch      = "application/json-patch+json"
	applyPatch     = "application/apply-patch+yaml"
)

// apiCaller sends raw requests to one agent as admin, as kubectl does.
type apiCaller struct {
	t    *testing.T
	http *http.Client
	base string
}

func newCaller(t *testing.T, a *Agent) *apiCaller {
	return &apiCaller{t: t, http: adminHTTPClient(t, a), base: "https://" + a.apiListener.Addr().String()}
}

// do sends a request and returns the response's status code, body and
// Content-Type.
func (c *apiCaller) do(method, path, contentType, accept string, body []byte) (int, []byte, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}

// get returns an object's JSON, as kubectl's GET before a patch reads it.
func (c *apiCaller) get(path string) []byte {
	c.t.Helper()
	code, b, _ := c.do(http.MethodGet, path, "", "application/json", nil)
	if code != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	return b
}

// patch sends a patch, expects code, and decodes a 200 into out or an
// error into a Status it returns.
func (c *apiCaller) patch(path, contentType string, patch []byte, code int, out any) *api.Status {
	c.t.Helper()
	got, b, _ := c.do(http.MethodPatch, path, contentType, "application/json", patch)
	if got != code {
		c.t.Fatalf("PATCH %s %s (%s): %d %s, want %d", path, patch, contentType, got, b, code)
	}
	if got == http.StatusOK {
		if out != nil {
			// Decode into a zero value: json.Unmarshal leaves alone the
			// fields (and map keys) the response omits.
			v := reflect.ValueOf(out).Elem()
			v.Set(reflect.Zero(v.Type()))
			if err := json.Unmarshal(b, out); err != nil {
				c.t.Fatalf("decode %s: %v", b, err)
			}
		}
		return nil
	}
	var st api.Status
	if err := json.Unmarshal(b, &st); err != nil || st.Kind != "Status" {
		c.t.Fatalf("PATCH %s: %d with a body that is not a Status: %s", path, got, b)
	}
	return &st
}

// twoWay is the strategic merge patch kubectl computes from an object
// before and after its change (set image, rollout restart, cordon:
// strategicpatch.CreateTwoWayMergePatch with the typed object).
func twoWay[T any](t *testing.T, current []byte, change func(*T)) []byte {
	t.Helper()
	var before, after T
	if err := json.Unmarshal(current, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(current, &after); err != nil {
		t.Fatal(err)
	}
	change(&after)
	b, _ := json.Marshal(&before)
	a, _ := json.Marshal(&after)
	p, err := strategicpatch.CreateTwoWayMergePatch(b, a, new(T))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mergeOf is the merge patch kubectl label and annotate compute
// (jsonpatch.CreateMergePatch of the object's JSON before and after).
func mergeOf(t *testing.T, current []byte, change func(map[string]any)) []byte {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(current, &obj); err != nil {
		t.Fatal(err)
	}
	change(obj)
	after, _ := json.Marshal(obj)
	p, err := jsonpatch.CreateMergePatch(current, after)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func metadataOf(obj map[string]any) map[string]any { return obj["metadata"].(map[string]any) }

func setIn(m map[string]any, key, k, v string) {
	inner, _ := m[key].(map[string]any)
	if inner == nil {
		inner = map[string]any{}
		m[key] = inner
	}
	inner[k] = v
}

// TestPatchPods drives pod PATCHes as kubectl sends them: label (merge
// patch), set image (strategic), annotate (JSON patch), then the refusals:
// an unsupported field named by its path, an immutable field refused as PUT
// refuses it, a stale resourceVersion, a renamed or moved object,
// server-side apply and other content types.
func TestPatchPods(t *testing.T) {
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

	p := testPodSpec("web", "64Mi")
	p.Spec.Containers = append(p.Spec.Containers, api.Container{Name: "log", Image: "busybox:1", ImagePullPolicy: api.PullIfNotPresent})
	p.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"} // stays Pending: nothing runs
	eventually(t, 20*time.Second, func() error {
		return cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", p, nil)
	})
	path := "/api/v1/namespaces/default/pods/web"

	// kubectl label pod web tier=front
	label := mergeOf(t, c.get(path), func(o map[string]any) { setIn(metadataOf(o), "labels", "tier", "front") })
	if string(label) != `{"metadata":{"labels":{"tier":"front"}}}` {
		t.Fatalf("kubectl's label patch: %s", label)
	}
	var got api.Pod
	c.patch(path, mergePatch, label, http.StatusOK, &got)
	if got.Labels["tier"] != "front" {
		t.Fatalf("labels after the patch: %v", got.Labels)
	}
	rv := got.ResourceVersion

	// kubectl set image pod/web c=busybox:2
	setImage := twoWay(t, c.get(path), func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:2" })
	if string(setImage) != `{"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"log"}],"containers":[{"image":"busybox:2","name":"c"}]}}` {
		t.Fatalf("kubectl's set image patch: %s", setImage)
	}
	c.patch(path, strategicPatch, setImage, http.StatusOK, &got)
	if got.Spec.Containers[0].Image != "busybox:2" || got.Spec.Containers[1].Image != "busybox:1" || got.ResourceVersion == rv {
		t.Fatalf("after set image: %+v (rv %s, was %s)", got.Spec.Containers, got.ResourceVersion, rv)
	}

	// An annotation by JSON patch, with a test of the current image.
	c.patch(path, jsonPatch, []byte(`[{"op":"test","path":"/spec/containers/0/image","value":"busybox:2"},{"op":"add","path":"/metadata/annotations","value":{"owner":"team-a"}}]`), http.StatusOK, &got)
	if got.Annotations["owner"] != "team-a" {
		t.Fatalf("annotations: %v", got.Annotations)
	}
	c.patch(path, jsonPatch, []byte(`[{"op":"test","path":"/spec/containers/0/image","value":"busybox:1"}]`), http.StatusUnprocessableEntity, nil)

	// A field gossipod does not implement is refused by its path.
	st := c.patch(path, strategicPatch, []byte(`{"spec":{"containers":[{"name":"c","resizePolicy":[{"resourceName":"cpu","restartPolicy":"NotRequired"}]}]}}`), http.StatusUnprocessableEntity, nil)
	if st.Message != `Pod "web" is invalid: spec.containers[0].resizePolicy: unsupported field` || st.Details.Causes[0].Field != "spec.containers[0].resizePolicy" {
		t.Fatalf("unsupported field: %+v", st)
	}

	// An immutable field: the patch is refused as the PUT of the same
	// change is.
	st = c.patch(path, mergePatch, []byte(`{"spec":{"restartPolicy":"Never"}}`), http.StatusUnprocessableEntity, nil)
	var cur api.Pod
	if err := json.Unmarshal(c.get(path), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.RestartPolicy = api.RestartPolicyNever
	var put *api.Status
	if err := cl.Do(ctx, http.MethodPut, path, &cur, nil); !errors.As(err, &put) || put.Message != st.Message || put.Code != st.Code {
		t.Fatalf("immutable field: PATCH says %q, PUT says %v", st.Message, err)
	}
	if !strings.Contains(st.Message, "pod updates may not change fields") {
		t.Fatalf("immutable field: %q", st.Message)
	}

	// A patch that sets a stale resourceVersion is a precondition.
	st = c.patch(path, mergePatch, []byte(`{"metadata":{"resourceVersion":"`+rv+`","labels":{"x":"y"}}}`), http.StatusConflict, nil)
	if st.Reason != api.StatusReasonConflict {
		t.Fatalf("stale precondition: %+v", st)
	}
	// The object named by the URL keeps its name and namespace.
	c.patch(path, jsonPatch, []byte(`[{"op":"replace","path":"/metadata/name","value":"db"}]`), http.StatusBadRequest, nil)
	c.patch(path, mergePatch, []byte(`{"metadata":{"namespace":"kube-system"}}`), http.StatusBadRequest, nil)
	// Server-side apply and other types are 415s; a missing pod a 404.
	st = c.patch(path, applyPatch, []byte("apiVersion: v1\nkind: Pod\n"), http.StatusUnsupportedMediaType, nil)
	if st.Reason != "UnsupportedMediaType" {
		t.Fatalf("server-side apply: %+v", st)
	}
	c.patch(path, "application/json", []byte(`{}`), http.StatusUnsupportedMediaType, nil)
	// A server-side dry run is refused, not applied.
	c.patch(path+"?dryRun=All", mergePatch, []byte(`{"metadata":{"labels":{"dry":"run"}}}`), http.StatusBadRequest, nil)
	var afterDry api.Pod
	if err := json.Unmarshal(c.get(path), &afterDry); err != nil || afterDry.Labels["dry"] != "" {
		t.Fatalf("a refused dry run changed the pod: %v, %v", afterDry.Labels, err)
	}
	c.patch("/api/v1/namespaces/default/pods/nope", mergePatch, []byte(`{}`), http.StatusNotFound, nil)

	// A no-op patch writes nothing.
	noop(t, c, path, []byte(`{"metadata":{"labels":{"tier":"front"}}}`))
}

// noop checks that a patch changing nothing answers the object as it is,
// without a write: its resourceVersion is the one a GET just read. The
// cluster writes statuses of its own, so a race with one is tried again.
func noop(t *testing.T, c *apiCaller, path string, patch []byte) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		var before, after struct {
			Metadata api.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(c.get(path), &before); err != nil {
			return err
		}
		c.patch(path, strategicPatch, patch, http.StatusOK, &after)
		if after.Metadata.ResourceVersion != before.Metadata.ResourceVersion {
			return fmt.Errorf("a no-op patch answered resourceVersion %s, a GET before it %s", after.Metadata.ResourceVersion, before.Metadata.ResourceVersion)
		}
		return nil
	})
}

// testDeploymentManifest is what a user applies: a Deployment whose pods
// can never be placed, so nothing runs.
func testDeploymentManifest(image string, replicas int) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{
					"nodeSelector": map[string]any{"gossipod.test/none": "x"},
					"containers":   []any{map[string]any{"name": "web", "image": image}, map[string]any{"name": "log", "image": "busybox:1"}},
				},
			},
		},
	}
}

// lastAppliedAnnotation is where kubectl apply keeps what it applied.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// withLastApplied returns a manifest as kubectl apply sends it: with the
// annotation holding the manifest itself (util.GetModifiedConfiguration).
func withLastApplied(t *testing.T, m map[string]any) []byte {
	t.Helper()
	plain, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(plain, &out)
	setIn(metadataOf(out), "annotations", lastAppliedAnnotation, string(plain))
	b, _ := json.Marshal(out)
	return b
}

// applyPatchFor computes kubectl apply's three-way strategic merge patch
// (apply/patcher.go): from the last applied configuration, the new one and
// the object as the server has it, with overwrite.
func applyPatchFor(t *testing.T, current, modified []byte) []byte {
	t.Helper()
	var cur struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(current, &cur); err != nil {
		t.Fatal(err)
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := strategicpatch.CreateThreeWayMergePatch([]byte(cur.Metadata.Annotations[lastAppliedAnnotation]), modified, current, meta, true)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPatchDeployments drives a Deployment as kubectl does: apply (create,
// then an edited manifest, then the same one), scale through the scale
// subresource, set image, rollout restart, label; and the refusals.
func TestPatchDeployments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	c := newCaller(t, agents[0])
	path := "/apis/apps/v1/namespaces/default/deployments/web"

	// kubectl apply -f: the object does not exist, so it is created with
	// the annotation.
	eventually(t, 20*time.Second, func() error {
		code, b, _ := c.do(http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", "application/json", "application/json",
			withLastApplied(t, testDeploymentManifest("nginx:1.27", 2)))
		if code != http.StatusCreated {
			return fmt.Errorf("create: %d %s", code, b)
		}
		return nil
	})

	// kubectl apply -f again, the image and replicas edited.
	modified := withLastApplied(t, testDeploymentManifest("nginx:1.28", 3))
	patch := applyPatchFor(t, c.get(path), modified)
	if !bytes.Contains(patch, []byte(`"$setElementOrder/containers":[{"name":"web"},{"name":"log"}]`)) {
		t.Fatalf("kubectl's apply patch has no $setElementOrder: %s", patch)
	}
	var d api.Deployment
	c.patch(path, strategicPatch, patch, http.StatusOK, &d)
	if d.Spec.Template.Spec.Containers[0].Image != "nginx:1.28" || d.Spec.Template.Spec.Containers[1].Image != "busybox:1" ||
		*d.Spec.Replicas != 3 || !strings.Contains(d.Annotations[lastAppliedAnnotation], "nginx:1.28") || d.Generation != 2 {
		t.Fatalf("after the second apply: %+v", d)
	}
	// kubectl apply -f with the same manifest: the patch is empty (kubectl
	// skips it: "unchanged"); sent anyway, it writes nothing.
	patch = applyPatchFor(t, c.get(path), modified)
	if string(patch) != "{}" {
		t.Fatalf("apply of an unchanged manifest: %s", patch)
	}
	noop(t, c, path, patch)

	// kubectl scale deployment web --replicas=5 (scale/scale.go).
	var s autoscalingv1.Scale
	c.patch(path+"/scale", mergePatch, []byte(`{"spec":{"replicas":5}}`), http.StatusOK, &s)
	if s.Kind != "Scale" || s.APIVersion != "autoscaling/v1" || s.Spec.Replicas != 5 {
		t.Fatalf("scale: %+v", s)
	}
	if err := json.Unmarshal(c.get(path), &d); err != nil || *d.Spec.Replicas != 5 {
		t.Fatalf("replicas after scale: %v, %v", d.Spec.Replicas, err)
	}
	// A strategic merge patch of the scale works too; a field Scale lacks
	// is refused.
	c.patch(path+"/scale", strategicPatch, []byte(`{"spec":{"replicas":4}}`), http.StatusOK, &s)
	c.patch(path+"/scale", jsonPatch, []byte(`[{"op":"test","path":"/spec/replicas","value":4},{"op":"replace","path":"/spec/replicas","value":2}]`), http.StatusOK, &s)
	if s.Spec.Replicas != 2 {
		t.Fatalf("scale by JSON patch: %+v", s.Spec)
	}
	st := c.patch(path+"/scale", mergePatch, []byte(`{"spec":{"replicas":4,"paused":true}}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.paused: unknown field") {
		t.Fatalf("scale with an unknown field: %+v", st)
	}

	// kubectl set image deployment/web web=nginx:1.29
	setImage := twoWay(t, c.get(path), func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.29" })
	c.patch(path, strategicPatch, setImage, http.StatusOK, &d)
	if d.Spec.Template.Spec.Containers[0].Image != "nginx:1.29" {
		t.Fatalf("set image: %+v", d.Spec.Template.Spec.Containers)
	}

	// kubectl rollout restart deployment/web
	restartedAt := time.Now().Format(time.RFC3339)
	restart := twoWay(t, c.get(path), func(d *appsv1.Deployment) {
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = restartedAt
	})
	if string(restart) != `{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"`+restartedAt+`"}}}}}` {
		t.Fatalf("kubectl's restart patch: %s", restart)
	}
	generation := d.Generation
	c.patch(path, strategicPatch, restart, http.StatusOK, &d)
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] != restartedAt || d.Generation != generation+1 {
		t.Fatalf("rollout restart: %+v, generation %d", d.Spec.Template.Annotations, d.Generation)
	}

	// kubectl label deployment web team=shop
	c.patch(path, mergePatch, mergeOf(t, c.get(path), func(o map[string]any) { setIn(metadataOf(o), "labels", "team", "shop") }), http.StatusOK, &d)
	if d.Labels["team"] != "shop" {
		t.Fatalf("label: %v", d.Labels)
	}

	// The selector is immutable, as for PUT.
	st = c.patch(path, mergePatch, []byte(`{"spec":{"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}}}}}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.selector") || !strings.Contains(st.Message, "immutable") {
		t.Fatalf("selector change: %+v", st)
	}
	// An unsupported field in the template.
	st = c.patch(path, jsonPatch, []byte(`[{"op":"add","path":"/spec/template/spec/containers/0/livenessProbe","value":{"grpc":{"port":80,"mode":"TLS"}}}]`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.template.spec.containers[0].livenessProbe.grpc.mode: unsupported field") {
		t.Fatalf("unsupported field: %+v", st)
	}
	// Replicas beyond the agent's bound are refused as for PUT.
	c.patch(path+"/scale", mergePatch, []byte(`{"spec":{"replicas":100000000}}`), http.StatusUnprocessableEntity, nil)
}

// TestPatchReplicaSets: kubectl apply, label and scale of a ReplicaSet,
// through PUT's validation (an immutable selector, an unsupported field,
// the replicas bound).
func TestPatchReplicaSets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	c := newCaller(t, agents[0])
	path := "/apis/apps/v1/namespaces/default/replicasets/web"
	manifest := func(image string, replicas int) map[string]any {
		m := testDeploymentManifest(image, replicas)
		m["kind"] = "ReplicaSet"
		return m
	}
	eventually(t, 20*time.Second, func() error {
		code, b, _ := c.do(http.MethodPost, "/apis/apps/v1/namespaces/default/replicasets", "application/json", "application/json",
			withLastApplied(t, manifest("nginx:1.27", 2)))
		if code != http.StatusCreated {
			return fmt.Errorf("create: %d %s", code, b)
		}
		return nil
	})

	// kubectl apply -f with the image and replicas edited.
	var rs api.ReplicaSet
	c.patch(path, strategicPatch, applyPatchFor(t, c.get(path), withLastApplied(t, manifest("nginx:1.28", 3))), http.StatusOK, &rs)
	if rs.Spec.Template.Spec.Containers[0].Image != "nginx:1.28" || *rs.Spec.Replicas != 3 {
		t.Fatalf("after apply: %+v", rs.Spec)
	}
	// kubectl label rs web team=shop
	c.patch(path, mergePatch, mergeOf(t, c.get(path), func(o map[string]any) { setIn(metadataOf(o), "labels", "team", "shop") }), http.StatusOK, &rs)
	if rs.Labels["team"] != "shop" {
		t.Fatalf("label: %v", rs.Labels)
	}
	// kubectl scale rs web --replicas=5
	var s autoscalingv1.Scale
	c.patch(path+"/scale", mergePatch, []byte(`{"spec":{"replicas":5}}`), http.StatusOK, &s)
	if s.Kind != "Scale" || s.Spec.Replicas != 5 || s.Status.Selector != "app=web" {
		t.Fatalf("scale: %+v", s)
	}
	if err := json.Unmarshal(c.get(path), &rs); err != nil || *rs.Spec.Replicas != 5 {
		t.Fatalf("replicas after scale: %v, %v", rs.Spec.Replicas, err)
	}
	st := c.patch(path, mergePatch, []byte(`{"spec":{"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}}}}}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.selector") || !strings.Contains(st.Message, "immutable") {
		t.Fatalf("selector change: %+v", st)
	}
	st = c.patch(path, jsonPatch, []byte(`[{"op":"add","path":"/spec/template/spec/containers/0/livenessProbe","value":{"grpc":{"port":80,"mode":"TLS"}}}]`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.template.spec.containers[0].livenessProbe.grpc.mode: unsupported field") {
		t.Fatalf("unsupported field: %+v", st)
	}
	c.patch(path+"/scale", mergePatch, []byte(`{"spec":{"replicas":100000000}}`), http.StatusUnprocessableEntity, nil)
	c.patch("/apis/apps/v1/namespaces/default/replicasets/nope", mergePatch, []byte(`{"metadata":{"labels":{"a":"b"}}}`), http.StatusNotFound, nil)
}

// TestPatchNodes: kubectl cordon and uncordon (strategic merge patches),
// gossipod's CLI cordon (a merge patch), and a label change refused by
// path; the Table shows the cordon as kubectl get nodes does.
func TestPatchNodes(t *testing.T) {
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
	name := agents[0].cfg.NodeName
	path := "/api/v1/nodes/" + name
	eventually(t, 20*time.Second, func() error {
		var n api.Node
		if err := cl.Do(ctx, http.MethodGet, path, nil, &n); err != nil {
			return err
		}
		if !api.NodeIsReady(&n) {
			return fmt.Errorf("node %s not Ready yet", name)
		}
		return nil
	})

	// kubectl cordon (drain/cordon.go: CreateTwoWayMergePatch).
	cordon := twoWay(t, c.get(path), func(n *corev1.Node) { n.Spec.Unschedulable = true })
	if string(cordon) != `{"spec":{"unschedulable":true}}` {
		t.Fatalf("kubectl's cordon patch: %s", cordon)
	}
	var n api.Node
	c.patch(path, strategicPatch, cordon, http.StatusOK, &n)
	if !n.Spec.Unschedulable {
		t.Fatalf("cordoned node: %+v", n.Spec)
	}
	_, body, contentType := c.do(http.MethodGet, "/api/v1/nodes", "", kubectlTableAccept, nil)
	if contentType != "application/json;as=Table;v=v1;g=meta.k8s.io" || !bytes.Contains(body, []byte(`"Ready,SchedulingDisabled"`)) {
		t.Fatalf("get nodes after cordon (%s): %s", contentType, body)
	}

	// kubectl uncordon: false is omitted, so the field is patched to null.
	uncordon := twoWay(t, c.get(path), func(n *corev1.Node) { n.Spec.Unschedulable = false })
	if string(uncordon) != `{"spec":{"unschedulable":null}}` {
		t.Fatalf("kubectl's uncordon patch: %s", uncordon)
	}
	c.patch(path, strategicPatch, uncordon, http.StatusOK, &n)
	if n.Spec.Unschedulable {
		t.Fatalf("uncordoned node: %+v", n.Spec)
	}

	// gossipod's own CLI cordons with a merge patch.
	if got, err := cl.CordonNode(ctx, name, true); err != nil || !got.Spec.Unschedulable {
		t.Fatalf("CLI cordon: %+v, %v", got, err)
	}
	if got, err := cl.CordonNode(ctx, name, false); err != nil || got.Spec.Unschedulable {
		t.Fatalf("CLI uncordon: %+v, %v", got, err)
	}

	// A JSON patch: unschedulable is omitted while false, so it is added.
	c.patch(path, jsonPatch, []byte(`[{"op":"add","path":"/spec/unschedulable","value":true}]`), http.StatusOK, &n)
	if !n.Spec.Unschedulable {
		t.Fatalf("cordon by JSON patch: %+v", n.Spec)
	}
	c.patch(path, mergePatch, []byte(`{"spec":{"unschedulable":false}}`), http.StatusOK, &n)

	// kubectl label node: the agent owns the labels.
	st := c.patch(path, mergePatch, []byte(`{"metadata":{"labels":{"team":"a"}},"spec":{"podCIDR":"10.99.0.0/24"}}`), http.StatusUnprocessableEntity, nil)
	if len(st.Details.Causes) != 2 || st.Details.Causes[0].Field != "metadata.labels.team" || st.Details.Causes[1].Field != "spec.podCIDR" ||
		!strings.Contains(st.Message, "Forbidden") {
		t.Fatalf("node label: %+v", st)
	}
	// A field no node has.
	st = c.patch(path, strategicPatch, []byte(`{"spec":{"taints":[{"key":"k","effect":"NoSchedule"}]}}`), http.StatusUnprocessableEntity, nil)
	if !strings.Contains(st.Message, "spec.taints") {
		t.Fatalf("taints: %+v", st)
	}
	// A stale resourceVersion.
	c.patch(path, mergePatch, []byte(`{"metadata":{"resourceVersion":"1"},"spec":{"unschedulable":true}}`), http.StatusConflict, nil)
	var after api.Node
	if err := cl.Do(ctx, http.MethodGet, path, nil, &after); err != nil || after.Spec.Unschedulable {
		t.Fatalf("a refused patch changed the node: %+v, %v", after.Spec, err)
	}
}
