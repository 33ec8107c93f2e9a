package tables

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/cmd/get"

	"github.com/gossipod/gossipod/api"
)

// kubectlAccept is the Accept header of `kubectl get` (transformRequests in
// k8s.io/kubectl/pkg/cmd/get/get.go).
const kubectlAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, accept, query string
		want                *Options // nil: the plain object
		code                int      // an error Status's code
	}{
		{name: "kubectl get", accept: kubectlAccept, want: &Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}},
		{name: "kubectl get --sort-by", accept: kubectlAccept, query: "includeObject=Object", want: &Options{Version: "v1", IncludeObject: metav1.IncludeObject}},
		{name: "includeObject=None", accept: kubectlAccept, query: "includeObject=None", want: &Options{Version: "v1", IncludeObject: metav1.IncludeNone}},
		{name: "bad includeObject", accept: kubectlAccept, query: "includeObject=All", code: http.StatusBadRequest},
		{name: "v1beta1 only", accept: "application/json;as=Table;v=v1beta1;g=meta.k8s.io", want: &Options{Version: "v1beta1", IncludeObject: metav1.IncludeMetadata}},
		{name: "q-values order the clauses", accept: "application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io", want: &Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}},
		{name: "plain json", accept: "application/json"},
		{name: "client-go's default", accept: "application/json, */*"},
		{name: "no Accept"},
		{name: "protobuf first, json next", accept: "application/vnd.kubernetes.protobuf,application/json"},
		{name: "yaml only: json as before", accept: "application/yaml"},
		{name: "unknown Table version, with a fallback", accept: "application/json;as=Table;v=v2;g=meta.k8s.io,application/json"},
		{name: "PartialObjectMetadata only", accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", code: http.StatusNotAcceptable},
		{name: "Table of another group", accept: "application/json;as=Table;v=v1;g=example.com", code: http.StatusNotAcceptable},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/pods?"+tt.query, nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		got, err := Negotiate(r)
		if tt.code != 0 {
			var st *api.Status
			if !errors.As(err, &st) || st.Code != tt.code {
				t.Errorf("%s: %v, want a %d Status", tt.name, err, tt.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// kubectlPrints renders a response body as kubectl get does: decoded as
// unstructured by its resource builder, then through get.TablePrinter into
// cli-runtime's human-readable printer.
func kubectlPrints(t *testing.T, body []byte, opts printers.PrintOptions) string {
	t.Helper()
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, body)
	if err != nil {
		t.Fatalf("kubectl cannot decode the response: %v\n%s", err, body)
	}
	var out bytes.Buffer
	p := &get.TablePrinter{Delegate: printers.NewTablePrinter(opts)}
	if err := p.PrintObj(obj, &out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func testPods() api.PodList {
	mk := func(ns, name, node, ip string, created time.Duration, ready bool) api.Pod {
		p := api.Pod{
			TypeMeta:   api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "40", CreationTimestamp: ago(created), Labels: map[string]string{"app": name}},
			Spec:       api.PodSpec{NodeName: node, Containers: []api.Container{{Name: "c", Image: "busybox"}}},
			Status:     api.PodStatus{Phase: api.PodPending, PodIP: ip},
		}
		if ready {
			p.Status.Phase = api.PodRunning
			p.Status.PodIPs = []api.PodIP{{IP: ip}}
			p.Status.ContainerStatuses = []api.ContainerStatus{{Name: "c", Ready: true, State: running()}}
		}
		return p
	}
	return api.PodList{
		TypeMeta: api.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: api.ListMeta{ResourceVersion: "42"},
		Items: []api.Pod{
			mk("default", "web", "node-1", "10.244.1.5", 5*time.Minute, true),
			mk("shop", "cart", "", "", 30*time.Second, false),
		},
	}
}

// TestKubectlPrintsTheTable sends the Tables through kubectl's own printer
// and compares with what `kubectl get pods` prints against Kubernetes for
// the same pods.
func TestKubectlPrintsTheTable(t *testing.T) {
	table, err := convert(testPods(), Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}, now)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts printers.PrintOptions
		want string
	}{
		{name: "get pods", want: "" +
			"NAME   READY   STATUS    RESTARTS   AGE\n" +
			"web    1/1     Running   0          5m\n" +
			"cart   0/1     Pending   0          30s\n"},
		{name: "get pods -o wide", opts: printers.PrintOptions{Wide: true}, want: "" +
			"NAME   READY   STATUS    RESTARTS   AGE   IP           NODE     NOMINATED NODE   READINESS GATES\n" +
			"web    1/1     Running   0          5m    10.244.1.5   node-1   <none>           <none>\n" +
			"cart   0/1     Pending   0          30s   <none>       <none>   <none>           <none>\n"},
		// -A and --show-labels read the rows' PartialObjectMetadata.
		{name: "get pods -A --show-labels", opts: printers.PrintOptions{WithNamespace: true, ShowLabels: true}, want: "" +
			"NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE   LABELS\n" +
			"default     web    1/1     Running   0          5m    app=web\n" +
			"shop        cart   0/1     Pending   0          30s   app=cart\n"},
	} {
		if got := kubectlPrints(t, body, tt.opts); got != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
}

// TestKubectlPrintsNodesAndDeployments: `kubectl get nodes -o wide` and
// `kubectl get deployments`, laid out by kubectl's printer; the cells are
// those of TestPrintNodeStatus ("Ready,SchedulingDisabled" for a cordoned
// node), TestPrintNodeRole and TestPrintDeployment.
func TestKubectlPrintsNodesAndDeployments(t *testing.T) {
	ready := []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}
	nodes := api.NodeList{ListMeta: api.ListMeta{ResourceVersion: "9"}, Items: []api.Node{
		{ObjectMeta: api.ObjectMeta{Name: "n1", CreationTimestamp: ago(26 * time.Hour), Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
			Status: api.NodeStatus{Conditions: ready, Addresses: []api.NodeAddress{{Type: api.NodeInternalIP, Address: "10.0.0.1"}},
				NodeInfo: api.NodeSystemInfo{KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 13 (trixie)", KernelVersion: "6.12.0"}}},
		{ObjectMeta: api.ObjectMeta{Name: "n2", CreationTimestamp: ago(3 * time.Minute)}, Spec: api.NodeSpec{Unschedulable: true},
			Status: api.NodeStatus{Conditions: []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionUnknown}},
				NodeInfo: api.NodeSystemInfo{KubeletVersion: "v1.37.2"}}},
	}}
	replicas := int32(3)
	deployments := api.DeploymentList{Items: []api.Deployment{{
		ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Spec: api.DeploymentSpec{Replicas: &replicas, Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: api.PodTemplateSpec{Spec: api.PodSpec{Containers: []api.Container{{Name: "web", Image: "nginx:1.27"}}}}},
		Status: api.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
	}}}
	for _, tt := range []struct {
		name string
		obj  any
		opts printers.PrintOptions
		want string
	}{
		{"get nodes -o wide", nodes, printers.PrintOptions{Wide: true}, "" +
			"NAME   STATUS                        ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE                       KERNEL-VERSION   CONTAINER-RUNTIME\n" +
			"n1     Ready                         control-plane   26h   v1.37.2   10.0.0.1      <none>        Debian GNU/Linux 13 (trixie)   6.12.0           <unknown>\n" +
			"n2     NotReady,SchedulingDisabled   <none>          3m    v1.37.2   <none>        <none>        <unknown>                      <unknown>        <unknown>\n"},
		{"get deployments", deployments, printers.PrintOptions{}, "" +
			"NAME   READY   UP-TO-DATE   AVAILABLE   AGE\n" +
			"web    2/3     3            2           10m\n"},
	} {
		table, err := convert(tt.obj, Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}, now)
		if err != nil {
			t.Fatal(err)
		}
		if got := kubectlPrints(t, mustJSON(t, table), tt.opts); got != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
}

func TestTableEnvelope(t *testing.T) {
	pods := testPods()
	for _, tt := range []struct {
		include metav1.IncludeObjectPolicy
		want    string // the first row's object
	}{
		{metav1.IncludeNone, "null"},
		{metav1.IncludeMetadata, `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1beta1","metadata":{"name":"web","namespace":"default","resourceVersion":"40","creationTimestamp":"2026-03-01T11:55:00Z","labels":{"app":"web"}}}`},
	} {
		table, err := convert(pods, Options{Version: "v1beta1", IncludeObject: tt.include}, now)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(table)
		var got struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
			Metadata   struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
			Columns []metav1.TableColumnDefinition `json:"columnDefinitions"`
			Rows    []struct {
				Object json.RawMessage `json:"object"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.Kind != "Table" || got.APIVersion != "meta.k8s.io/v1beta1" || got.Metadata.ResourceVersion != "42" || len(got.Rows) != 2 {
			t.Fatalf("%s: envelope %+v", tt.include, got)
		}
		if string(got.Rows[0].Object) != tt.want {
			t.Errorf("%s: row object %s\nwant %s", tt.include, got.Rows[0].Object, tt.want)
		}
		var names []string
		for _, c := range got.Columns {
			if c.Priority == 0 {
				names = append(names, c.Name)
			}
		}
		if strings.Join(names, ",") != "Name,Ready,Status,Restarts,Age" || len(got.Columns) != 9 {
			t.Errorf("columns %+v", got.Columns)
		}
	}

	// includeObject=Object carries the whole object, kind included.
	table, err := convert(&pods.Items[0], Options{Version: "v1", IncludeObject: metav1.IncludeObject}, now)
	if err != nil {
		t.Fatal(err)
	}
	var pod api.Pod
	if err := json.Unmarshal(table.Rows[0].Object.Raw, &pod); err != nil || pod.Kind != "Pod" || pod.Spec.NodeName != "node-1" {
		t.Errorf("row object %s: %v", table.Rows[0].Object.Raw, err)
	}
	if table.ResourceVersion != "40" {
		t.Errorf("a single object's Table has resourceVersion %q, want the object's 40", table.ResourceVersion)
	}

	// An empty list still has the kind's columns, and rows [] (not null).
	empty, err := convert(api.NodeList{ListMeta: api.ListMeta{ResourceVersion: "7"}}, Options{Version: "v1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(empty)
	if !bytes.Contains(b, []byte(`"rows":[]`)) || len(empty.ColumnDefinitions) != 10 || empty.ColumnDefinitions[1].Name != "Status" {
		t.Errorf("empty node list: %s", b)
	}
}

// TestWatchTables: a Table watch's first event carries the columns, the
// next ones only their row, and kubectl's printer prints them under one
// header, as `kubectl get pods -w` shows them.
func TestWatchTables(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=1", nil)
	r.Header.Set("Accept", kubectlAccept)
	tr, err := NewWatchTransformer(r)
	if err != nil {
		t.Fatal(err)
	}
	p := &get.TablePrinter{Delegate: printers.NewTablePrinter(printers.PrintOptions{})}
	var out bytes.Buffer
	pods := testPods()
	// A watch's ages are computed with the real clock: minutes keep them
	// stable however slow the test.
	pods.Items[0].CreationTimestamp = api.NewTime(time.Now().Add(-5 * time.Minute))
	pods.Items[1].CreationTimestamp = api.NewTime(time.Now().Add(-10 * time.Minute))
	for i := range pods.Items {
		obj, err := tr.Transform(&pods.Items[i])
		if err != nil {
			t.Fatal(err)
		}
		table := obj.(*metav1.Table)
		if (i == 0) != (table.ColumnDefinitions != nil) || len(table.Rows) != 1 {
			t.Fatalf("event %d: %d columns, %d rows", i, len(table.ColumnDefinitions), len(table.Rows))
		}
		// As the watch stream carries it: a WatchEvent, decoded as
		// unstructured.
		b, _ := json.Marshal(metav1.WatchEvent{Type: "ADDED", Object: runtime.RawExtension{Raw: mustJSON(t, table)}})
		var ev metav1.WatchEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		u, err := runtime.Decode(unstructured.UnstructuredJSONScheme, ev.Object.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.PrintObj(u, &out); err != nil {
			t.Fatal(err)
		}
	}
	// kubectl aligns each event's row on its own (it flushes per event),
	// so the rows are compared by their fields.
	got := strings.Fields(out.String())
	want := strings.Fields("NAME READY STATUS RESTARTS AGE web 1/1 Running 0 5m cart 0/1 Pending 0 10m")
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kubectl get -w prints\n%s", out.String())
	}

	// Without a Table Accept header, objects pass through.
	plain, _ := NewWatchTransformer(httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=1", nil))
	if obj, _ := plain.Transform(&pods.Items[0]); obj != &pods.Items[0] {
		t.Errorf("plain watch transformed the object to %T", obj)
	}
	if f, ok := plain.Format(); ok || plain.Tables() {
		t.Errorf("plain watch: Format %q, Tables %v", f, plain.Tables())
	}
}

// TestWatchTableFormat: a Table watch's encodings may be shared once its
// column definitions are sent, and only with watches that ask for the
// same Table.
func TestWatchTableFormat(t *testing.T) {
	transformer := func(accept, query string) *WatchTransformer {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/pods?watch=1"+query, nil)
		r.Header.Set("Accept", accept)
		tr, err := NewWatchTransformer(r)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	pod := &testPods().Items[0]
	formats := map[string]bool{}
	for _, tr := range []*WatchTransformer{
		transformer(kubectlAccept, ""),
		transformer("application/json;as=Table;v=v1beta1;g=meta.k8s.io", ""),
		transformer(kubectlAccept, "&includeObject=Object"),
	} {
		if f, ok := tr.Format(); ok || !tr.Tables() {
			t.Fatalf("Format %q before the columns were sent", f)
		}
		if _, err := tr.Transform(pod); err != nil {
			t.Fatal(err)
		}
		f, ok := tr.Format()
		if !ok || formats[f] {
			t.Fatalf("Format after the first event: %q %v (seen: %v)", f, ok, formats)
		}
		formats[f] = true
	}
	same := transformer(kubectlAccept, "")
	_, _ = same.Transform(pod)
	if f, _ := same.Format(); !formats[f] {
		t.Errorf("the same Table has another format: %q, %v", f, formats)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDefaultTable: a kind without printers gets kube-apiserver's default
// table (rest.NewDefaultTableConvertor): NAME and CREATED AT.
func TestDefaultTable(t *testing.T) {
	tok := &api.Token{ObjectMeta: api.ObjectMeta{Name: "abc", CreationTimestamp: ago(time.Hour)}}
	table, err := convert(tok, Options{Version: "v1", IncludeObject: metav1.IncludeMetadata}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 2 || table.ColumnDefinitions[1].Name != "Created At" ||
		table.Rows[0].Cells[0] != "abc" || table.Rows[0].Cells[1] != "2026-03-01T11:00:00Z" {
		t.Errorf("default table %+v", table)
	}
	if _, err := convert(42, Options{Version: "v1"}, now); err == nil {
		t.Error("a non-object converted to a Table")
	}
}
