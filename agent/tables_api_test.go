package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// kubectlTableAccept is the Accept header of `kubectl get`.
const kubectlTableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// TestTablesAPI asks one agent what `kubectl get` asks: lists and single
// objects as Tables with kubectl's columns, the plain objects otherwise,
// and a watch whose events carry one-row Tables.
func TestTablesAPI(t *testing.T) {
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
	p.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
	eventually(t, 20*time.Second, func() error {
		return cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", p, nil)
	})

	table := func(path string) metav1.Table {
		t.Helper()
		code, body, contentType := c.do(http.MethodGet, path, "", kubectlTableAccept, nil)
		if code != http.StatusOK || contentType != "application/json;as=Table;v=v1;g=meta.k8s.io" {
			t.Fatalf("GET %s: %d %s %s", path, code, contentType, body)
		}
		var tb metav1.Table
		if err := json.Unmarshal(body, &tb); err != nil {
			t.Fatal(err)
		}
		if tb.Kind != "Table" || tb.APIVersion != "meta.k8s.io/v1" || tb.ResourceVersion == "" {
			t.Fatalf("GET %s: %+v", path, tb)
		}
		return tb
	}
	columns := func(tb metav1.Table) string {
		var names []string
		for _, c := range tb.ColumnDefinitions {
			names = append(names, c.Name)
		}
		return strings.Join(names, ",")
	}

	pods := table("/api/v1/namespaces/default/pods")
	if columns(pods) != "Name,Ready,Status,Restarts,Age,IP,Node,Nominated Node,Readiness Gates" || len(pods.Rows) != 1 {
		t.Fatalf("pods table: %s, %d rows", columns(pods), len(pods.Rows))
	}
	if cells := pods.Rows[0].Cells; cells[0] != "web" || cells[1] != "0/1" || cells[2] != "Pending" || cells[6] != "<none>" {
		t.Fatalf("pod row: %v", cells)
	}
	var partial struct {
		Kind     string         `json:"kind"`
		Metadata api.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(pods.Rows[0].Object.Raw, &partial); err != nil || partial.Kind != "PartialObjectMetadata" || partial.Metadata.Namespace != "default" {
		t.Fatalf("row object %s: %v", pods.Rows[0].Object.Raw, err)
	}
	if one := table("/api/v1/namespaces/default/pods/web"); len(one.Rows) != 1 || one.Rows[0].Cells[0] != "web" {
		t.Fatalf("single pod table: %+v", one.Rows)
	}
	eventually(t, 20*time.Second, func() error {
		nodes := table("/api/v1/nodes")
		if len(nodes.Rows) != 1 || nodes.Rows[0].Cells[1] != "Ready" {
			return &api.Status{Message: "node not Ready in the table yet"}
		}
		return nil
	})
	if ns := table("/api/v1/namespaces"); columns(ns) != "Name,Status,Age" {
		t.Fatalf("namespaces table: %s", columns(ns))
	}
	if ev := table("/api/v1/events"); columns(ev) != "Last Seen,Type,Reason,Object,Subobject,Source,Message,First Seen,Count,Name" {
		t.Fatalf("events table: %s", columns(ev))
	}
	if d := table("/apis/apps/v1/namespaces/default/deployments"); columns(d) != "Name,Ready,Up-to-date,Available,Age,Containers,Images,Selector" || len(d.Rows) != 0 {
		t.Fatalf("deployments table: %s", columns(d))
	}

	// Without the header, the objects as before.
	code, body, contentType := c.do(http.MethodGet, "/api/v1/namespaces/default/pods", "", "application/json", nil)
	var list api.PodList
	if code != http.StatusOK || contentType != "application/json" || json.Unmarshal(body, &list) != nil || list.Kind != "PodList" {
		t.Fatalf("plain list: %d %s %s", code, contentType, body)
	}
	// A conversion gossipod does not make is a 406.
	if code, body, _ := c.do(http.MethodGet, "/api/v1/namespaces/default/pods", "", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", nil); code != http.StatusNotAcceptable {
		t.Fatalf("PartialObjectMetadataList: %d %s", code, body)
	}

	// kubectl get pods -w: the watch from the list's resourceVersion
	// carries a Table per event, the first with the columns.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/namespaces/default/pods?watch=1&resourceVersion="+pods.ResourceVersion, nil)
	req.Header.Set("Accept", kubectlTableAccept)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, name := range []string{"db", "cache"} {
		q := testPodSpec(name, "64Mi")
		q.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
		if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", q, nil); err != nil {
			t.Fatal(err)
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	added := map[string]bool{}
	for i := 0; !added["db"] || !added["cache"]; i++ {
		if !sc.Scan() || i > 20 {
			t.Fatalf("watch ended or ran on without the new pods (%d events): %v", i, sc.Err())
		}
		var ev struct {
			Type   string       `json:"type"`
			Object metav1.Table `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", sc.Bytes(), err)
		}
		// Only the first event carries the columns.
		if ev.Object.Kind != "Table" || len(ev.Object.Rows) != 1 || (i == 0) != (len(ev.Object.ColumnDefinitions) > 0) {
			t.Fatalf("event %d: %s", i, sc.Bytes())
		}
		if ev.Type == "ADDED" {
			added[ev.Object.Rows[0].Cells[0].(string)] = true
		}
	}
}
