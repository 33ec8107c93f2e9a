package apiserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// tableAccept is what kubectl get asks for.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// getTable GETs path as kubectl get does and returns the Table's column
// names and rows' cells.
func getTable(t *testing.T, srv *httptest.Server, path string) ([]string, [][]any) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", tableAccept)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s as Table = %d: %s", path, resp.StatusCode, b)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(b, &tbl); err != nil {
		t.Fatalf("decode Table: %v: %s", err, b)
	}
	var cols []string
	for _, c := range tbl.ColumnDefinitions {
		cols = append(cols, c.Name)
	}
	var rows [][]any
	for _, r := range tbl.Rows {
		rows = append(rows, r.Cells)
	}
	return cols, rows
}

// TestConfigMapVerbs drives every verb of configmaps through the API over
// the real state machine: the refusals are 422s naming the field in
// kube-apiserver's words, and kubectl get's Table is NAME DATA AGE.
func TestConfigMapVerbs(t *testing.T) {
	_, srv := newTestServer(t)
	cms := "/api/v1/namespaces/default/configmaps"
	cmJSON := func(name, extra string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","labels":{"app":"web"}}` + extra + `}`
	}
	big := strings.Repeat("x", 1<<20)
	steps := []struct {
		method, path, contentType, body string
		wantCode                        int
		wantBody                        []string
	}{
		{"POST", cms, jsonType, cmJSON("web", `,"data":{"LOG_LEVEL":"debug","app.properties":"a=b"},"binaryData":{"logo":"iVBORw=="}`),
			http.StatusCreated, []string{`"LOG_LEVEL": "debug"`, `"logo": "iVBORw=="`, `"uid"`}},
		{"GET", cms + "/web", "", "", http.StatusOK, []string{`"kind": "ConfigMap"`, `"app.properties": "a=b"`}},
		{"GET", "/api/v1/configmaps?labelSelector=app%3Dweb", "", "", http.StatusOK, []string{`"kind": "ConfigMapList"`, `"name": "web"`}},
		{"PUT", cms + "/web", jsonType, cmJSON("web", `,"data":{"LOG_LEVEL":"info"}`), http.StatusOK, []string{`"LOG_LEVEL": "info"`}},
		{"PATCH", cms + "/web", mergeType, `{"data":{"extra":"1"},"immutable":true}`, http.StatusOK, []string{`"extra": "1"`, `"immutable": true`}},
		{"PATCH", cms + "/web", mergeType, `{"data":{"extra":"2"}}`, http.StatusUnprocessableEntity,
			[]string{`ConfigMap \"web\" is invalid: data: Forbidden: field is immutable when ` + "`immutable`" + ` is set`, `"field": "data"`}},
		{"PATCH", cms + "/web", mergeType, `{"immutable":false}`, http.StatusUnprocessableEntity,
			[]string{`immutable: Forbidden: field is immutable when`, `"field": "immutable"`}},
		{"PATCH", cms + "/web", mergeType, `{"metadata":{"labels":{"tier":"x"}}}`, http.StatusOK, []string{`"tier": "x"`}},
		{"POST", cms, jsonType, cmJSON("web", ""), http.StatusConflict, []string{`configmaps \"web\" already exists`}},
		{"POST", cms, jsonType, cmJSON("bad-key", `,"data":{"a/b":"x"}`), http.StatusUnprocessableEntity,
			[]string{`data[a/b]: Invalid value: \"a/b\": a valid config key must consist of alphanumeric characters`, `"field": "data[a/b]"`}},
		{"POST", cms, jsonType, cmJSON("big", `,"data":{"a":"`+big+`"},"binaryData":{"b":"eA=="}`), http.StatusUnprocessableEntity,
			[]string{`ConfigMap \"big\" is invalid: []: Too long: may not be more than 1048576 bytes`}},
		{"POST", cms, jsonType, cmJSON("other", `,"data":{"k":"v"}`), http.StatusCreated, nil},
		{"DELETE", cms + "?labelSelector=app%3Dweb", "", "", http.StatusOK, []string{`"name": "web"`, `"name": "other"`}},
		{"GET", cms + "/web", "", "", http.StatusNotFound, []string{`configmaps \"web\" not found`}},
	}
	for i, s := range steps {
		code, body := do(t, srv, s.method, s.path, s.contentType, s.body)
		if code != s.wantCode {
			t.Fatalf("step %d: %s %s = %d, want %d: %.2000s", i, s.method, s.path, code, s.wantCode, body)
		}
		for _, want := range s.wantBody {
			if !strings.Contains(body, want) {
				t.Fatalf("step %d: %s %s: body lacks %q:\n%.2000s", i, s.method, s.path, want, body)
			}
		}
	}

	if code, body := do(t, srv, "POST", cms, jsonType, cmJSON("web", `,"data":{"a":"1","b":"2"},"binaryData":{"c":"eA=="}`)); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	cols, rows := getTable(t, srv, cms)
	if strings.Join(cols, " ") != "Name Data Age" {
		t.Errorf("columns %q, want Name Data Age", cols)
	}
	if len(rows) != 1 || rows[0][0] != "web" || rows[0][1] != float64(3) {
		t.Errorf("rows %v, want web with 3 keys", rows)
	}
}
