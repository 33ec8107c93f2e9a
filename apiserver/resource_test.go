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

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// newTestServer serves the API over a MemStore, the real state machine
// without Raft, with the default namespace created as agents create it.
func newTestServer(t *testing.T) (*consensus.MemStore, *httptest.Server) {
	t.Helper()
	store := consensus.NewMemStore()
	ns := api.Namespace{TypeMeta: api.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: "default", UID: NewUID()}}
	if _, err := store.CommitPayload(context.Background(), consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: ns}); err != nil {
		t.Fatalf("create namespace default: %v", err)
	}
	if _, err := store.CommitPayload(context.Background(), consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{
		Network: consensus.ClusterNetwork{ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/12"}}); err != nil {
		t.Fatalf("record the cluster network: %v", err)
	}
	_, store, srv := newTestAPI(t, store)
	return store, srv
}

// newTestAPI serves the API over store.
func newTestAPI(t *testing.T, store *consensus.MemStore) (*Server, *consensus.MemStore, *httptest.Server) {
	t.Helper()
	api := New(store, Config{WatchWriteTimeout: 10 * time.Second, WatchBookmarkInterval: time.Minute, MaxDeploymentReplicas: 100})
	mux := http.NewServeMux()
	Mount(mux, api.Routes()...)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return api, store, srv
}

// TestStopWatchesEndsWatches: StopWatches ends the watches being served,
// so that an agent's shutdown does not wait for them.
func TestStopWatchesEndsWatches(t *testing.T) {
	store, _ := newTestServer(t)
	api, _, srv := newTestAPI(t, store)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/namespaces/default/serviceaccounts?watch=1", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	api.StopWatches()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("the watch did not end cleanly: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the watch ran until the client's deadline")
	}
}

// do sends a request and returns the status code and body.
func do(t *testing.T, srv *httptest.Server, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

const (
	jsonType  = "application/json"
	mergeType = "application/merge-patch+json"
)

func saJSON(ns, name string, labels string) string {
	meta := `"name":"` + name + `"`
	if ns != "" {
		meta += `,"namespace":"` + ns + `"`
	}
	if labels != "" {
		meta += `,"labels":` + labels
	}
	return `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{` + meta + `}}`
}

const podJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web"}},
	"spec":{"containers":[{"name":"c","image":"busybox"}]}}`

// TestResourceVerbs drives each verb of the generic handler through a
// kind, against the real state machine, and checks the answer's code and
// what it says, in kube-apiserver's words.
func TestResourceVerbs(t *testing.T) {
	type step struct {
		method, path, contentType, body string
		wantCode                        int
		wantBody                        []string // substrings
	}
	sa := "/api/v1/namespaces/default/serviceaccounts"
	pods := "/api/v1/namespaces/default/pods"
	svcs := "/api/v1/namespaces/default/services"
	svcJSON := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
		"spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}}`
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "create, get, list, update, patch and delete a service account",
		steps: []step{
			{"POST", sa, jsonType, saJSON("", "robot", `{"team":"a"}`), http.StatusCreated, []string{`"uid"`, `"namespace": "default"`}},
			{"GET", sa + "/robot", "", "", http.StatusOK, []string{`"name": "robot"`, `"team": "a"`}},
			{"GET", sa + "?labelSelector=team%3Da", "", "", http.StatusOK, []string{`"kind": "ServiceAccountList"`, `"robot"`}},
			{"GET", sa + "?labelSelector=team%3Db", "", "", http.StatusOK, []string{`"items": []`}},
			{"GET", "/api/v1/serviceaccounts?fieldSelector=metadata.name%3Drobot", "", "", http.StatusOK, []string{`"robot"`}},
			{"PUT", sa + "/robot", jsonType, saJSON("default", "robot", `{"team":"b"}`), http.StatusOK, []string{`"team": "b"`}},
			{"PATCH", sa + "/robot", mergeType, `{"metadata":{"labels":{"tier":"x"}}}`, http.StatusOK, []string{`"team": "b"`, `"tier": "x"`}},
			{"DELETE", sa + "/robot", "", "", http.StatusOK, []string{`"name": "robot"`}},
			{"GET", sa + "/robot", "", "", http.StatusNotFound, []string{`serviceaccounts \"robot\" not found`}},
		},
	}, {
		name: "bodies that do not fit the URL are refused",
		steps: []step{
			{"POST", sa, jsonType, saJSON("other", "robot", ""), http.StatusBadRequest,
				[]string{"the namespace of the provided object does not match the namespace sent on the request"}},
			{"POST", sa, jsonType, podJSON, http.StatusBadRequest, []string{"expected a v1 ServiceAccount in the request body, got v1 Pod"}},
			{"POST", sa, jsonType, saJSON("", "robot", ""), http.StatusCreated, nil},
			{"PUT", sa + "/robot", jsonType, saJSON("", "other", ""), http.StatusBadRequest,
				[]string{"the name of the object (other) does not match the name on the URL (robot)"}},
			{"PUT", sa + "/ghost", jsonType, saJSON("", "ghost", ""), http.StatusNotFound, []string{`serviceaccounts \"ghost\" not found`}},
			{"POST", sa, jsonType, `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"x"},"secrets":[{"name":"s"}]}`,
				http.StatusBadRequest, []string{"secrets: unsupported field"}},
		},
	}, {
		name: "pods: create defaults, field selectors, graceful delete",
		steps: []step{
			{"POST", pods, jsonType, podJSON, http.StatusCreated, []string{`"restartPolicy": "Always"`, `"phase": "Pending"`}},
			{"GET", pods + "?fieldSelector=status.phase%3DPending", "", "", http.StatusOK, []string{`"name": "web"`}},
			{"GET", pods + "?fieldSelector=spec.nodeName%3Dnode-1", "", "", http.StatusOK, []string{`"items": []`}},
			{"GET", pods + "?fieldSelector=spec.hostname%3Dx", "", "", http.StatusBadRequest,
				[]string{"field label not supported: spec.hostname"}},
			{"GET", pods + "/web/status", "", "", http.StatusOK, []string{`"kind": "Pod"`}},
			{"DELETE", pods + "/web", jsonType, `{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}`, http.StatusOK, []string{`"name": "web"`}},
		},
	}, {
		name: "services: allocated cluster IP and node port, kept by a re-apply, Table for kubectl get",
		steps: []step{
			{"POST", svcs, jsonType, svcJSON, http.StatusCreated, []string{`"clusterIP": "10.`, `"nodePort": 3`, `"targetPort": 8080`}},
			{"PUT", svcs + "/web", jsonType, svcJSON, http.StatusOK, []string{`"clusterIP": "10.`, `"nodePort": 3`}},
			{"GET", svcs + "?fieldSelector=spec.type%3DNodePort", "", "", http.StatusOK, []string{`"name": "web"`}},
			{"POST", svcs, jsonType, svcJSON, http.StatusConflict, []string{`services \"web\" already exists`}},
			{"DELETE", svcs + "/web", "", "", http.StatusOK, nil},
			{"POST", svcs, jsonType, strings.Replace(svcJSON, `"NodePort"`, `"LoadBalancer"`, 1), http.StatusUnprocessableEntity,
				[]string{`spec.type: Unsupported value: \"LoadBalancer\"`}},
		},
	}, {
		name: "namespaces: the kubernetes.io/metadata.name label is always the name",
		steps: []step{
			{"POST", "/api/v1/namespaces", jsonType, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"other","team":"a"}}}`,
				http.StatusCreated, []string{`"kubernetes.io/metadata.name": "shop"`, `"team": "a"`}},
			{"PUT", "/api/v1/namespaces/shop", jsonType, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"team":"b"}}}`,
				http.StatusOK, []string{`"kubernetes.io/metadata.name": "shop"`, `"team": "b"`}},
		},
	}, {
		name: "a verb the resource does not serve is a 405",
		steps: []step{
			{"GET", "/api/v1/namespaces/default/events?watch=1", "", "", http.StatusMethodNotAllowed, []string{"watch events"}},
			{"PUT", "/api/v1/nodes/node-1", jsonType, `{}`, http.StatusMethodNotAllowed, []string{"does not allow the PUT method"}},
			{"DELETE", "/api/v1/namespaces", "", "", http.StatusMethodNotAllowed, nil},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newTestServer(t)
			for i, s := range tt.steps {
				code, body := do(t, srv, s.method, s.path, s.contentType, s.body)
				if code != s.wantCode {
					t.Fatalf("step %d: %s %s = %d, want %d: %s", i, s.method, s.path, code, s.wantCode, body)
				}
				for _, want := range s.wantBody {
					if !strings.Contains(body, want) {
						t.Fatalf("step %d: %s %s: body lacks %q:\n%s", i, s.method, s.path, want, body)
					}
				}
			}
		})
	}
}

// TestDeleteCollection: DELETE on a collection deletes what its selectors
// select, and only that, returning the deleted objects, as client-go's
// DeleteCollection expects.
func TestDeleteCollection(t *testing.T) {
	store, srv := newTestServer(t)
	sa := "/api/v1/namespaces/default/serviceaccounts"
	for _, c := range []struct{ name, labels string }{{"a", `{"tier":"batch"}`}, {"b", `{"tier":"batch"}`}, {"c", `{"tier":"web"}`}} {
		if code, body := do(t, srv, "POST", sa, jsonType, saJSON("", c.name, c.labels)); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", c.name, code, body)
		}
	}
	code, body := do(t, srv, "DELETE", sa+"?labelSelector=tier%3Dbatch", "", "")
	if code != http.StatusOK {
		t.Fatalf("deletecollection = %d: %s", code, body)
	}
	var deleted api.ServiceAccountList
	if err := json.Unmarshal([]byte(body), &deleted); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range deleted.Items {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "a,b" || deleted.Kind != "ServiceAccountList" {
		t.Errorf("deleted %s %v, want ServiceAccountList [a b]", deleted.Kind, names)
	}
	left, _ := store.State().ServiceAccounts("default")
	names = nil
	for _, sa := range left {
		names = append(names, sa.Name)
	}
	if strings.Join(names, ",") != "c" {
		t.Errorf("left %v, want [c]", names)
	}
}

// TestWatchThroughGenericHandler: a watch from the list's resourceVersion
// gets the objects created after it, in order, and none before.
func TestWatchThroughGenericHandler(t *testing.T) {
	_, srv := newTestServer(t)
	sa := "/api/v1/namespaces/default/serviceaccounts"
	if code, body := do(t, srv, "POST", sa, jsonType, saJSON("", "before", "")); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	_, body := do(t, srv, "GET", sa, "", "")
	var list api.ServiceAccountList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+sa+"?watch=1&resourceVersion="+list.ResourceVersion, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, name := range []string{"one", "two"} {
		if code, body := do(t, srv, "POST", sa, jsonType, saJSON("", name, "")); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, code, body)
		}
	}
	sc := bufio.NewScanner(resp.Body)
	for _, want := range []string{"one", "two"} {
		if !sc.Scan() {
			t.Fatalf("watch ended before %s: %v", want, sc.Err())
		}
		var e struct {
			Type   string
			Object api.ServiceAccount
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("event %s: %v", sc.Text(), err)
		}
		if e.Type != "ADDED" || e.Object.Name != want {
			t.Fatalf("event %s %s, want ADDED %s", e.Type, e.Object.Name, want)
		}
	}
}
