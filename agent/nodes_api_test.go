package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestNodeListSelectorsAndWatch: `kubectl get nodes -l`, the field
// selectors Kubernetes serves for nodes (others refused, not ignored),
// the status subresource, and a watch that sees a cordon.
func TestNodeListSelectorsAndWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	c := newCaller(t, agents[0])
	name := agents[0].cfg.NodeName
	eventually(t, 20*time.Second, func() error {
		_, ok := agents[0].store.State().Node(name)
		if !ok {
			return fmt.Errorf("node %s not registered yet", name)
		}
		return nil
	})

	list := func(query string) (int, []string) {
		t.Helper()
		code, b, _ := c.do(http.MethodGet, "/api/v1/nodes?"+query, "", "application/json", nil)
		if code != http.StatusOK {
			return code, nil
		}
		var l api.NodeList
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range l.Items {
			names = append(names, n.Name)
		}
		return code, names
	}
	tests := []struct {
		query    string
		wantCode int
		want     int // nodes listed
	}{
		{"", http.StatusOK, 1},
		{"labelSelector=" + url.QueryEscape(api.LabelHostname+"="+name), http.StatusOK, 1},
		{"labelSelector=" + url.QueryEscape(api.LabelHostname+"=elsewhere"), http.StatusOK, 0},
		{"fieldSelector=" + url.QueryEscape("metadata.name="+name), http.StatusOK, 1},
		{"fieldSelector=" + url.QueryEscape("spec.unschedulable=true"), http.StatusOK, 0},
		{"fieldSelector=" + url.QueryEscape("status.phase=Running"), http.StatusBadRequest, 0},
		{"labelSelector=" + url.QueryEscape("a in (b"), http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		code, names := list(tt.query)
		if code != tt.wantCode || len(names) != tt.want {
			t.Errorf("GET /api/v1/nodes?%s: %d %v, want %d with %d nodes", tt.query, code, names, tt.wantCode, tt.want)
		}
	}

	var status api.Node
	if err := json.Unmarshal(c.get("/api/v1/nodes/"+name+"/status"), &status); err != nil || status.Name != name {
		t.Fatalf("nodes/status: %+v, %v", status.ObjectMeta, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/nodes?watch=1", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch nodes: %d", resp.StatusCode)
	}
	c.patch("/api/v1/nodes/"+name, mergePatch, []byte(`{"spec":{"unschedulable":true}}`), http.StatusOK, nil)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var seen []string
	for sc.Scan() {
		var ev struct {
			Type   string   `json:"type"`
			Object api.Node `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", sc.Bytes(), err)
		}
		seen = append(seen, ev.Type)
		if ev.Type == "MODIFIED" && ev.Object.Spec.Unschedulable {
			return
		}
	}
	t.Fatalf("watch ended (%v) without the cordon; events: %s", sc.Err(), strings.Join(seen, ","))
}
