package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestSecretVerbs drives every verb of secrets through the API over the
// real state machine: stringData is merged into data and never returned,
// each type's keys are required, the type is immutable, and kubectl get's
// Table is NAME TYPE DATA AGE.
func TestSecretVerbs(t *testing.T) {
	store, srv := newTestServer(t)
	secrets := "/api/v1/namespaces/default/secrets"
	secJSON := func(name, extra string) string {
		return `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"` + name + `","labels":{"app":"db"}}` + extra + `}`
	}
	steps := []struct {
		method, path, contentType, body string
		wantCode                        int
		wantBody                        []string
		notInBody                       []string
	}{
		{"POST", secrets, jsonType, secJSON("db", `,"data":{"user":"b2xk"},"stringData":{"user":"admin","password":"s3cret"}`),
			http.StatusCreated, []string{`"type": "Opaque"`, `"user": "YWRtaW4="`, `"password": "czNjcmV0"`}, []string{"stringData", "s3cret"}},
		{"GET", secrets + "/db", "", "", http.StatusOK, []string{`"kind": "Secret"`, `"password": "czNjcmV0"`}, []string{"stringData"}},
		{"GET", "/api/v1/secrets?fieldSelector=type%3DOpaque", "", "", http.StatusOK, []string{`"kind": "SecretList"`, `"name": "db"`}, nil},
		{"GET", secrets + "?fieldSelector=type%3Dkubernetes.io%2Ftls", "", "", http.StatusOK, []string{`"items": []`}, nil},
		{"PATCH", secrets + "/db", mergeType, `{"stringData":{"password":"n3w"}}`, http.StatusOK, []string{`"password": "bjN3"`, `"user": "YWRtaW4="`}, []string{"stringData"}},
		{"PUT", secrets + "/db", jsonType, secJSON("db", `,"type":"kubernetes.io/basic-auth","data":{"password":"bjN3"}`), http.StatusUnprocessableEntity,
			[]string{`type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable`, `"field": "type"`}, nil},
		{"PATCH", secrets + "/db", mergeType, `{"immutable":true}`, http.StatusOK, []string{`"immutable": true`}, nil},
		{"PATCH", secrets + "/db", mergeType, `{"data":{"password":"eA=="}}`, http.StatusUnprocessableEntity,
			[]string{`data: Forbidden: field is immutable when ` + "`immutable`" + ` is set`, `"field": "data"`}, nil},
		{"POST", secrets, jsonType, secJSON("cert", `,"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}`), http.StatusUnprocessableEntity,
			[]string{`Secret \"cert\" is invalid: data[tls.key]: Required value`, `"field": "data[tls.key]"`}, nil},
		{"POST", secrets, jsonType, secJSON("reg", `,"type":"kubernetes.io/dockerconfigjson","stringData":{".dockerconfigjson":"{not json"}`),
			http.StatusUnprocessableEntity, []string{`data[.dockerconfigjson]: Invalid value: \"\u003csecret contents redacted\u003e\": invalid character`}, []string{"not json"}},
		{"POST", secrets, jsonType, secJSON("reg", `,"type":"kubernetes.io/dockerconfigjson","stringData":{".dockerconfigjson":"{\"auths\":{}}"}`),
			http.StatusCreated, []string{`"type": "kubernetes.io/dockerconfigjson"`}, nil},
		{"POST", secrets, jsonType, secJSON("bad", `,"data":{"k":"not base64!"}`), http.StatusBadRequest,
			[]string{`"field": "data.k"`, "not base64"}, []string{"not base64!"}},
		{"POST", secrets, jsonType, secJSON("ssh", `,"type":"kubernetes.io/ssh-auth"`), http.StatusUnprocessableEntity,
			[]string{`data[ssh-privatekey]: Required value`}, nil},
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
		for _, not := range s.notInBody {
			if strings.Contains(body, not) {
				t.Fatalf("step %d: %s %s: body holds %q:\n%.2000s", i, s.method, s.path, not, body)
			}
		}
	}
	if sec, ok := store.State().Secret("default", "db"); !ok || sec.StringData != nil || string(sec.Data["password"]) != "n3w" {
		t.Fatalf("stored %+v, want stringData merged and dropped", sec)
	}

	cols, rows := getTable(t, srv, secrets)
	if strings.Join(cols, " ") != "Name Type Data Age" {
		t.Errorf("columns %q, want Name Type Data Age", cols)
	}
	if len(rows) != 2 || rows[0][0] != "db" || rows[0][1] != "Opaque" || rows[0][2] != float64(2) ||
		rows[1][0] != "reg" || rows[1][1] != "kubernetes.io/dockerconfigjson" {
		t.Errorf("rows %v, want db Opaque 2 and reg", rows)
	}
	if code, body := do(t, srv, "DELETE", secrets+"?labelSelector=app%3Ddb", "", ""); code != http.StatusOK || !strings.Contains(body, `"name": "reg"`) {
		t.Fatalf("deletecollection = %d: %.500s", code, body)
	}
	if secs, _ := store.State().Secrets(nil); len(secs) != 0 {
		t.Errorf("%d secrets left after deletecollection", len(secs))
	}
}

// TestWatchConfigMapsAndSecrets: a watch of configmaps, secrets,
// rolebindings or clusterrolebindings from the list's resourceVersion gets
// the changes after it, in order, a Secret's data in it (the watch is
// served from the state's memory).
func TestWatchConfigMapsAndSecrets(t *testing.T) {
	binding := func(kind string) string {
		return `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"` + kind + `","metadata":{"name":"cfg"},` +
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"a"}]}`
	}
	tests := []struct {
		resource, create, update string
		wantUpdate               string
	}{
		{"configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}}`, `{"data":{"a":"2"}}`, `"a":"2"`},
		{"secrets", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"cfg"},"stringData":{"a":"1"}}`, `{"stringData":{"a":"2"}}`, `"a":"Mg=="`},
		{"rolebindings", binding("RoleBinding"), `{"subjects":[{"kind":"User","name":"b"}]}`, `"name":"b"`},
		{"clusterrolebindings", binding("ClusterRoleBinding"), `{"subjects":[{"kind":"Group","name":"g"}]}`, `"name":"g"`},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			_, srv := newTestServer(t)
			path := "/api/v1/namespaces/default/" + tt.resource
			switch tt.resource {
			case "rolebindings":
				path = rbacPrefix + "/namespaces/default/rolebindings"
			case "clusterrolebindings":
				path = rbacPrefix + "/clusterrolebindings"
			}
			_, body := do(t, srv, "GET", path, "", "")
			var list struct {
				Metadata struct{ ResourceVersion string }
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path+"?watch=1&resourceVersion="+list.Metadata.ResourceVersion, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if code, body := do(t, srv, "POST", path, jsonType, tt.create); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, body)
			}
			if code, body := do(t, srv, "PATCH", path+"/cfg", mergeType, tt.update); code != http.StatusOK {
				t.Fatalf("patch: %d %s", code, body)
			}
			if code, body := do(t, srv, "DELETE", path+"/cfg", "", ""); code != http.StatusOK {
				t.Fatalf("delete: %d %s", code, body)
			}
			sc := bufio.NewScanner(resp.Body)
			for _, want := range []string{"ADDED", "MODIFIED", "DELETED"} {
				if !sc.Scan() {
					t.Fatalf("watch ended before %s: %v", want, sc.Err())
				}
				if !strings.Contains(sc.Text(), `"type":"`+want+`"`) || !strings.Contains(sc.Text(), `"name":"cfg"`) {
					t.Fatalf("event %s, want %s of cfg", sc.Text(), want)
				}
				if want == "MODIFIED" && !strings.Contains(sc.Text(), tt.wantUpdate) {
					t.Fatalf("event %s lacks %s", sc.Text(), tt.wantUpdate)
				}
				if strings.Contains(sc.Text(), "stringData") {
					t.Fatalf("event %s holds stringData", sc.Text())
				}
			}
		})
	}
}
