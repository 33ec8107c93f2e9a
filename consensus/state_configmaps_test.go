package consensus

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func testConfigMap(ns, name string, data map[string]string) api.ConfigMap {
	return api.ConfigMap{ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)}, Data: data}
}

// TestConfigMapCommandsValidatedByTheFSM: a command that skipped the API's
// validation is refused by the state machine all the same, in the same
// words, and an immutable ConfigMap keeps its data whatever path the
// update takes.
func TestConfigMapCommandsValidatedByTheFSM(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	yes := true
	tests := []struct {
		name     string
		cmd      CommandType
		payload  any
		wantCode int
		wantMsg  string
	}{
		{"create", CmdCreateConfigMap, CreateConfigMap{ConfigMap: testConfigMap("default", "cfg", map[string]string{"a": "1"})}, 0, ""},
		{"create again", CmdCreateConfigMap, CreateConfigMap{ConfigMap: testConfigMap("default", "cfg", nil)}, http.StatusConflict, `configmaps "cfg" already exists`},
		{"invalid key", CmdCreateConfigMap, CreateConfigMap{ConfigMap: testConfigMap("default", "bad", map[string]string{"..": "x"})},
			http.StatusUnprocessableEntity, `data[..]: Invalid value: "..": must not be '..'`},
		{"over 1 MiB", CmdCreateConfigMap, CreateConfigMap{ConfigMap: testConfigMap("default", "big", map[string]string{"a": strings.Repeat("x", 1<<20+1)})},
			http.StatusUnprocessableEntity, `Too long: may not be more than 1048576 bytes`},
		{"no namespace of that name", CmdCreateConfigMap, CreateConfigMap{ConfigMap: testConfigMap("ghost", "cfg", nil)}, http.StatusNotFound, `namespaces "ghost" not found`},
		{"made immutable", CmdUpdateConfigMap, UpdateConfigMap{ConfigMap: func() api.ConfigMap {
			c := testConfigMap("default", "cfg", map[string]string{"a": "1"})
			c.Immutable = &yes
			return c
		}()}, 0, ""},
		{"data of an immutable one", CmdUpdateConfigMap, UpdateConfigMap{ConfigMap: func() api.ConfigMap {
			c := testConfigMap("default", "cfg", map[string]string{"a": "2"})
			c.Immutable = &yes
			return c
		}()}, http.StatusUnprocessableEntity, "data: Forbidden: field is immutable when `immutable` is set"},
		{"immutable unset", CmdUpdateConfigMap, UpdateConfigMap{ConfigMap: testConfigMap("default", "cfg", map[string]string{"a": "1"})},
			http.StatusUnprocessableEntity, "immutable: Forbidden: field is immutable when `immutable` is set"},
		{"update of a stale version", CmdUpdateConfigMap, UpdateConfigMap{ConfigMap: func() api.ConfigMap {
			c := testConfigMap("default", "cfg", map[string]string{"a": "1"})
			c.Immutable, c.ResourceVersion = &yes, "1"
			return c
		}()}, http.StatusConflict, "the object has been modified"},
	}
	for _, tt := range tests {
		_, err := m.CommitPayload(ctx, tt.cmd, tt.payload)
		if code := statusCode(err); code != tt.wantCode || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
			t.Fatalf("%s: err %v (code %d), want code %d with %q", tt.name, err, code, tt.wantCode, tt.wantMsg)
		}
	}
	cm, ok := m.State().ConfigMap("default", "cfg")
	if !ok || cm.Data["a"] != "1" || !*cm.Immutable {
		t.Fatalf("stored %+v, want a=1 and immutable", cm)
	}
}

// TestConfigMapsSurviveSnapshotAndGoWithTheirNamespace: ConfigMaps are in
// snapshots and watches, and deleting their namespace deletes them.
func TestConfigMapsSurviveSnapshotAndGoWithTheirNamespace(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}}); err != nil {
		t.Fatal(err)
	}
	cm := testConfigMap("shop", "cfg", map[string]string{"a": "1"})
	cm.BinaryData = map[string][]byte{"b": {0, 1, 2}}
	if _, err := m.CommitPayload(ctx, CmdCreateConfigMap, CreateConfigMap{ConfigMap: cm}); err != nil {
		t.Fatal(err)
	}
	from := m.State().Index()
	restored := NewState()
	restored.restore(m.State().export())
	got, ok := restored.ConfigMap("shop", "cfg")
	if !ok || got.Data["a"] != "1" || string(got.BinaryData["b"]) != "\x00\x01\x02" || got.ResourceVersion == "" {
		t.Fatalf("after restore: %+v %v", got, ok)
	}
	if _, err := m.CommitPayload(ctx, CmdDeleteNamespace, DeleteNamespace{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State().ConfigMap("shop", "cfg"); ok {
		t.Error("the ConfigMap outlived its namespace")
	}
	events, _, ok := m.State().WatchSince(from, "ConfigMap")
	if !ok {
		t.Fatal("watch window lost")
	}
	deleted := false
	for _, e := range events {
		if e.Type == WatchDeleted && e.Object.(*api.ConfigMap).Name == "cfg" {
			deleted = true
		}
	}
	if !deleted {
		t.Errorf("no DELETED ConfigMap watch event among %d events", len(events))
	}
}
