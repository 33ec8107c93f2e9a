package patch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func statusCode(err error) int {
	var st *api.Status
	if errors.As(err, &st) {
		return st.Code
	}
	return 0
}

func TestTypeOf(t *testing.T) {
	for _, tt := range []struct {
		contentType string
		want        types.PatchType
		code        int
	}{
		{"application/strategic-merge-patch+json", types.StrategicMergePatchType, 0},
		{"application/merge-patch+json", types.MergePatchType, 0},
		{"application/merge-patch+json; charset=utf-8", types.MergePatchType, 0},
		{"application/json-patch+json", types.JSONPatchType, 0},
		{"application/apply-patch+yaml", "", http.StatusUnsupportedMediaType},
		{"application/apply-patch+cbor", "", http.StatusUnsupportedMediaType},
		{"application/json", "", http.StatusUnsupportedMediaType},
		{"", "", http.StatusUnsupportedMediaType},
	} {
		got, err := TypeOf(tt.contentType)
		if got != tt.want || statusCode(err) != tt.code {
			t.Errorf("%q: %q, %v; want %q and a %d", tt.contentType, got, err, tt.want, tt.code)
		}
	}
	_, err := TypeOf("application/apply-patch+yaml")
	var st *api.Status
	if !errors.As(err, &st) || st.Reason != "UnsupportedMediaType" || !strings.Contains(st.Message, "server-side apply") {
		t.Errorf("server-side apply: %+v", err)
	}
}

// pod is a pod as gossipod stores it and a PATCH reads it.
const pod = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default","resourceVersion":"7","labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80,"protocol":"TCP"}]},{"name":"log","image":"busybox:1"}],"restartPolicy":"Always","nodeName":"n1"},
"status":{"phase":"Running"}}`

// deployment is a Deployment as stored.
const deployment = `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default","resourceVersion":"9"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"nginx:1.27","env":[{"name":"A","value":"1"}]}]}}},"status":{}}`

// node is a node as stored.
const node = `{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","resourceVersion":"3","labels":{"kubernetes.io/hostname":"n1"}},
"spec":{"podCIDR":"10.244.1.0/24"},"status":{"nodeInfo":{"kubeletVersion":"v1.37.2"}}}`

// scale is a Deployment's Scale.
const scale = `{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"default","resourceVersion":"9"},"spec":{"replicas":2},"status":{"replicas":2,"selector":"app=web"}}`

// at reads the JSON value at a dotted path ("spec.containers.0.image").
func at(t *testing.T, doc []byte, path string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			if i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// TestApply applies each patch type to each kind, with the patches kubectl
// sends (computed by kubectl with the functions named).
func TestApply(t *testing.T) {
	tests := []struct {
		name     string
		typ      types.PatchType
		original string
		schema   any
		patch    string
		want     map[string]any // path → value; nil value: absent
	}{
		// kubectl label pod web tier=front: jsonpatch.CreateMergePatch
		// of the object before and after (cmd/label/label.go).
		{"label (merge)", types.MergePatchType, pod, &corev1.Pod{}, `{"metadata":{"labels":{"tier":"front"}}}`,
			map[string]any{"metadata.labels.tier": "front", "metadata.labels.app": "web"}},
		// kubectl label pod web app-: the label set to null.
		{"unlabel (merge)", types.MergePatchType, pod, &corev1.Pod{}, `{"metadata":{"labels":{"app":null}}}`,
			map[string]any{"metadata.labels.app": nil}},
		// A merge patch replaces lists whole.
		{"containers replaced (merge)", types.MergePatchType, pod, &corev1.Pod{}, `{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}`,
			map[string]any{"spec.containers.0.image": "nginx:2", "spec.containers.1": nil, "spec.containers.0.ports": nil}},
		// kubectl set image pod/web web=nginx:2: CreateTwoWayMergePatch
		// of the typed pod (cmd/set/helper.go CalculatePatch).
		{"set image (strategic)", types.StrategicMergePatchType, pod, &corev1.Pod{},
			`{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"log"}],"containers":[{"image":"nginx:2","name":"web"}]}}`,
			map[string]any{"spec.containers.0.image": "nginx:2", "spec.containers.0.ports.0.containerPort": 80.0, "spec.containers.1.image": "busybox:1"}},
		{"delete a container (strategic $patch)", types.StrategicMergePatchType, pod, &corev1.Pod{},
			`{"spec":{"containers":[{"name":"log","$patch":"delete"}]}}`,
			map[string]any{"spec.containers.0.name": "web", "spec.containers.1": nil}},
		// kubectl annotate: a JSON patch does it too.
		{"annotate (json patch)", types.JSONPatchType, pod, nil,
			`[{"op":"add","path":"/metadata/annotations","value":{"owner":"team-a"}},{"op":"test","path":"/spec/containers/0/name","value":"web"},{"op":"replace","path":"/spec/containers/0/image","value":"nginx:2"}]`,
			map[string]any{"metadata.annotations.owner": "team-a", "spec.containers.0.image": "nginx:2"}},
		// kubectl rollout restart deployment/web (polymorphichelpers
		// defaultObjectRestarter, then CalculatePatch).
		{"rollout restart (strategic)", types.StrategicMergePatchType, deployment, &appsv1.Deployment{},
			`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-03-01T12:00:00Z"}}}}}`,
			map[string]any{"spec.template.metadata.annotations.kubectl\u002ekubernetes\u002eio/restartedAt": nil, // dotted key: checked below
				"spec.template.metadata.labels.app": "web"}},
		// env merges by name in a strategic merge patch.
		{"env by name (strategic)", types.StrategicMergePatchType, deployment, &appsv1.Deployment{},
			`{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"2"}]}]}}}}`,
			map[string]any{"spec.template.spec.containers.0.env.0.name": "B", "spec.template.spec.containers.0.env.1.name": "A"}},
		{"replicas (json patch)", types.JSONPatchType, deployment, nil, `[{"op":"replace","path":"/spec/replicas","value":5}]`,
			map[string]any{"spec.replicas": 5.0}},
		// kubectl cordon: CreateTwoWayMergePatch of the node (drain/cordon.go).
		{"cordon (strategic)", types.StrategicMergePatchType, node, &corev1.Node{}, `{"spec":{"unschedulable":true}}`,
			map[string]any{"spec.unschedulable": true, "spec.podCIDR": "10.244.1.0/24"}},
		// kubectl uncordon: unschedulable false is omitted, so the patch
		// sets it to null.
		{"uncordon (strategic)", types.StrategicMergePatchType, `{"metadata":{"name":"n1"},"spec":{"unschedulable":true}}`, &corev1.Node{}, `{"spec":{"unschedulable":null}}`,
			map[string]any{"spec.unschedulable": nil}},
		// kubectl scale --replicas=3 (scale/scale.go).
		{"scale (merge)", types.MergePatchType, scale, &autoscalingv1.Scale{}, `{"spec":{"replicas":3}}`,
			map[string]any{"spec.replicas": 3.0, "status.replicas": 2.0}},
		{"scale (strategic)", types.StrategicMergePatchType, scale, &autoscalingv1.Scale{}, `{"spec":{"replicas":0}}`,
			map[string]any{"spec.replicas": 0.0}},
	}
	for _, tt := range tests {
		got, err := Apply(tt.typ, []byte(tt.original), []byte(tt.patch), tt.schema)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		for path, want := range tt.want {
			if strings.Contains(path, "kubectl") {
				continue
			}
			if v := at(t, got, path); fmt.Sprint(v) != fmt.Sprint(want) {
				t.Errorf("%s: %s = %v, want %v\n%s", tt.name, path, v, want, got)
			}
		}
		if strings.Contains(tt.name, "rollout restart") {
			ann, _ := at(t, got, "spec.template.metadata.annotations").(map[string]any)
			if ann["kubectl.kubernetes.io/restartedAt"] != "2026-03-01T12:00:00Z" {
				t.Errorf("%s: annotations %v", tt.name, ann)
			}
		}
	}
}

func TestApplyRefuses(t *testing.T) {
	many := "[" + strings.Repeat(`{"op":"test","path":"/kind","value":"Pod"},`, MaxOperations) + `{"op":"test","path":"/kind","value":"Pod"}]`
	// Each copy doubles the containers: a small body would make the object
	// grow exponentially without the copy bound.
	var b strings.Builder
	b.WriteString(`[{"op":"add","path":"/spec/x","value":"` + strings.Repeat("a", 1<<16) + `"}`)
	for i := 0; i < 64; i++ {
		fmt.Fprintf(&b, `,{"op":"copy","from":"/spec","path":"/spec/c%d"}`, i)
	}
	b.WriteString("]")
	deep := strings.Repeat(`{"a":`, api.MaxManifestDepth+1) + "1" + strings.Repeat("}", api.MaxManifestDepth+1)
	for _, tt := range []struct {
		name  string
		typ   types.PatchType
		patch string
		code  int
		msg   string
	}{
		{"not JSON", types.MergePatchType, `{"metadata":`, http.StatusBadRequest, "error decoding patch"},
		{"a duplicate key", types.StrategicMergePatchType, `{"spec":{},"spec":{}}`, http.StatusBadRequest, `duplicate field "spec"`},
		{"a list as a merge patch", types.MergePatchType, `[]`, http.StatusBadRequest, "must be a JSON object"},
		{"an object as a JSON patch", types.JSONPatchType, `{"op":"add"}`, http.StatusBadRequest, "list of operations"},
		{"a whole-document replace without a value", types.JSONPatchType, `[{"op":"replace","path":""}]`, http.StatusBadRequest, `has no "value"`},
		{"an add without a value", types.JSONPatchType, `[{"op":"add","path":"/metadata/x"}]`, http.StatusBadRequest, `has no "value"`},
		{"a merge key that is a list", types.StrategicMergePatchType, `{"spec":{"containers":[{"name":[]},{"name":[]}]}}`, http.StatusUnprocessableEntity, "merge key"},
		{"a merge key that is an object", types.StrategicMergePatchType, `{"spec":{"containers":[{"name":{}},{"name":{}}]}}`, http.StatusUnprocessableEntity, "merge key"},
		{"a scalar", types.StrategicMergePatchType, `42`, http.StatusBadRequest, "JSON object"},
		{"a failed test", types.JSONPatchType, `[{"op":"test","path":"/metadata/name","value":"db"}]`, http.StatusUnprocessableEntity, "test"},
		{"a missing path", types.JSONPatchType, `[{"op":"remove","path":"/spec/nope"}]`, http.StatusUnprocessableEntity, ""},
		{"an unknown op", types.JSONPatchType, `[{"op":"frobnicate","path":"/spec"}]`, http.StatusUnprocessableEntity, ""},
		{"too many operations", types.JSONPatchType, many, http.StatusRequestEntityTooLarge, "maximum operations"},
		{"copies over the bound", types.JSONPatchType, b.String(), http.StatusUnprocessableEntity, "copy"},
		{"too deep", types.MergePatchType, deep, http.StatusBadRequest, "too deeply nested"},
		{"a bad directive", types.StrategicMergePatchType, `{"spec":{"containers":[{"$patch":"frobnicate","name":"web"}]}}`, http.StatusUnprocessableEntity, "unknown patch type"},
		{"a list item without its merge key", types.StrategicMergePatchType, `{"spec":{"containers":[{"$patch":"delete"}]}}`, http.StatusUnprocessableEntity, ""},
	} {
		_, err := Apply(tt.typ, []byte(pod), []byte(tt.patch), &corev1.Pod{})
		if statusCode(err) != tt.code || !strings.Contains(fmt.Sprint(err), tt.msg) {
			t.Errorf("%s: %v (%d), want %d with %q", tt.name, err, statusCode(err), tt.code, tt.msg)
		}
	}
}

// nodeTarget is a Target over one in-memory node, counting updates, with
// the update failing with a conflict the first failures times.
type nodeTarget struct {
	node     api.Node
	failures int
	updates  int
}

func (f *nodeTarget) target() Target[*api.Node] {
	return Target[*api.Node]{
		Kind:   "Node",
		Schema: &corev1.Node{},
		Get: func(context.Context) (*api.Node, error) {
			n := f.node
			return &n, nil
		},
		Decode: func(b []byte) (*api.Node, error) {
			var n api.Node
			return &n, api.DecodeInto(b, &n)
		},
		ResourceVersion: func(n *api.Node) string { return n.ResourceVersion },
		Update: func(_ context.Context, _, n *api.Node) (*api.Node, error) {
			f.updates++
			if f.failures > 0 || n.ResourceVersion != f.node.ResourceVersion {
				f.failures--
				// Another write came first: the state moved on.
				f.node.ResourceVersion = fmt.Sprint(100 + f.updates)
				return nil, api.NewStatus(http.StatusConflict, api.StatusReasonConflict, "the object has been modified")
			}
			f.node = *n
			f.node.ResourceVersion = fmt.Sprint(200 + f.updates)
			return &f.node, nil
		},
	}
}

func TestDo(t *testing.T) {
	base := api.Node{TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"}, ObjectMeta: api.ObjectMeta{Name: "n1", ResourceVersion: "3"}}
	ctx := context.Background()
	cordon := []byte(`{"spec":{"unschedulable":true}}`)

	// Lost races are retried with the object read again.
	f := &nodeTarget{node: base, failures: 2}
	n, err := Do(ctx, types.StrategicMergePatchType, cordon, f.target())
	if err != nil || !n.Spec.Unschedulable || f.updates != 3 {
		t.Fatalf("after two conflicts: %+v, %v, %d updates", n, err, f.updates)
	}
	// ... but not forever.
	f = &nodeTarget{node: base, failures: 100}
	if _, err := Do(ctx, types.StrategicMergePatchType, cordon, f.target()); statusCode(err) != http.StatusConflict || f.updates != MaxConflictRetries+1 {
		t.Fatalf("endless conflicts: %v after %d updates", err, f.updates)
	}
	// A patch that names a resourceVersion is a precondition: no retry.
	f = &nodeTarget{node: base}
	if _, err := Do(ctx, types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"2"},"spec":{"unschedulable":true}}`), f.target()); statusCode(err) != http.StatusConflict || f.updates != 1 {
		t.Fatalf("stale precondition: %v after %d updates", err, f.updates)
	}
	// A patch that changes nothing writes nothing.
	f = &nodeTarget{node: base}
	if n, err := Do(ctx, types.MergePatchType, []byte(`{"metadata":{"name":"n1"}}`), f.target()); err != nil || f.updates != 0 || n.ResourceVersion != "3" {
		t.Fatalf("no-op patch: %+v, %v, %d updates", n, err, f.updates)
	}
	// A patch that adds a field gossipod does not have is refused with
	// its path, before any update.
	f = &nodeTarget{node: base}
	_, err = Do(ctx, types.StrategicMergePatchType, []byte(`{"metadata":{"managedFields":[{"manager":"x"}]},"spec":{"providerID":"aws:///i-1"}}`), f.target())
	var st *api.Status
	if !errors.As(err, &st) || st.Code != http.StatusUnprocessableEntity || f.updates != 0 ||
		st.Message != `Node "n1" is invalid: [metadata.managedFields: unsupported field, spec.providerID: unsupported field]` ||
		len(st.Details.Causes) != 2 || st.Details.Causes[1].Field != "spec.providerID" {
		t.Fatalf("unknown fields: %+v (%d updates)", err, f.updates)
	}
}

func TestChangedPaths(t *testing.T) {
	a := api.Node{ObjectMeta: api.ObjectMeta{Name: "n1", Labels: map[string]string{"a": "1"}},
		Status: api.NodeStatus{Addresses: []api.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}}}}
	b := a
	b.Labels = map[string]string{"a": "1", "team": "x"}
	b.Spec.PodCIDR = "10.244.0.0/24"
	b.Status.Addresses = []api.NodeAddress{{Type: "InternalIP", Address: "10.0.0.2"}}
	got, err := ChangedPaths(&a, &b)
	if err != nil || strings.Join(got, " ") != "metadata.labels.team spec.podCIDR status.addresses[0].address" {
		t.Fatalf("%q, %v", got, err)
	}
	if got, _ := ChangedPaths(&a, &a); len(got) != 0 {
		t.Fatalf("no change: %q", got)
	}
}
