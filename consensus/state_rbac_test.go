package consensus

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func testRoleBinding(ns, name, role string, subjects ...api.Subject) api.RoleBinding {
	return api.RoleBinding{
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)},
		RoleRef:    api.RoleRef{Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func testClusterRoleBinding(name, role string, subjects ...api.Subject) api.ClusterRoleBinding {
	return api.ClusterRoleBinding{
		ObjectMeta: api.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		RoleRef:    api.RoleRef{Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

var (
	saCI   = api.Subject{Kind: "ServiceAccount", Name: "ci"}
	userAl = api.Subject{Kind: "User", Name: "alice"}
	grpOps = api.Subject{Kind: "Group", Name: "ops"}
)

// TestBindingCommandsValidatedByTheFSM: a binding command that skipped
// the API's validation is refused by the state machine in the same words;
// roleRef stays; the grant index follows every change.
func TestBindingCommandsValidatedByTheFSM(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	tests := []struct {
		name     string
		cmd      CommandType
		payload  any
		wantCode int
		wantMsg  string
	}{
		{"create", CmdCreateRoleBinding, CreateRoleBinding{RoleBinding: testRoleBinding("default", "ci-view", "view", saCI)}, 0, ""},
		{"create again", CmdCreateRoleBinding, CreateRoleBinding{RoleBinding: testRoleBinding("default", "ci-view", "view")},
			http.StatusConflict, `rolebindings.rbac.authorization.k8s.io "ci-view" already exists`},
		{"unknown role", CmdCreateRoleBinding, CreateRoleBinding{RoleBinding: testRoleBinding("default", "x", "pod-reader", saCI)},
			http.StatusUnprocessableEntity, `roleRef.name: Unsupported value: "pod-reader"`},
		{"no such namespace", CmdCreateRoleBinding, CreateRoleBinding{RoleBinding: testRoleBinding("ghost", "x", "view", saCI)},
			http.StatusNotFound, `namespaces "ghost" not found`},
		{"roleRef changed", CmdUpdateRoleBinding, UpdateRoleBinding{RoleBinding: testRoleBinding("default", "ci-view", "edit", saCI)},
			http.StatusUnprocessableEntity, "cannot change roleRef"},
		{"subjects changed", CmdUpdateRoleBinding, UpdateRoleBinding{RoleBinding: testRoleBinding("default", "ci-view", "view", saCI, userAl)}, 0, ""},
		{"cluster binding", CmdCreateClusterRoleBinding, CreateClusterRoleBinding{ClusterRoleBinding: testClusterRoleBinding("ops", "cluster-admin", grpOps)}, 0, ""},
		{"cluster binding of an SA without namespace", CmdCreateClusterRoleBinding,
			CreateClusterRoleBinding{ClusterRoleBinding: testClusterRoleBinding("bad", "view", saCI)},
			http.StatusUnprocessableEntity, "subjects[0].namespace: Required value"},
		{"cluster binding in a namespace", CmdCreateClusterRoleBinding, CreateClusterRoleBinding{ClusterRoleBinding: func() api.ClusterRoleBinding {
			c := testClusterRoleBinding("bad", "view", grpOps)
			c.Namespace = "default"
			return c
		}()}, http.StatusUnprocessableEntity, "metadata.namespace: Forbidden: not allowed on this type"},
		{"delete of the wrong uid", CmdDeleteClusterRoleBinding, DeleteClusterRoleBinding{Name: "ops", UID: "other"}, http.StatusConflict, "the object has been modified"},
	}
	for _, tt := range tests {
		_, err := m.CommitPayload(ctx, tt.cmd, tt.payload)
		if code := statusCode(err); code != tt.wantCode || (err != nil && !strings.Contains(err.Error(), tt.wantMsg)) {
			t.Fatalf("%s: err %v (code %d), want code %d with %q", tt.name, err, code, tt.wantCode, tt.wantMsg)
		}
	}
	st := m.State()
	wantGrants(t, st, api.SubjectKey{Kind: "User", Name: "system:serviceaccount:default:ci"}, "default/view")
	wantGrants(t, st, api.SubjectKey{Kind: "User", Name: "alice"}, "default/view")
	wantGrants(t, st, api.SubjectKey{Kind: "Group", Name: "ops"}, "/cluster-admin")
	wantGrants(t, st, api.SubjectKey{Kind: "User", Name: "ci"})

	if _, err := m.CommitPayload(ctx, CmdDeleteClusterRoleBinding, DeleteClusterRoleBinding{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	wantGrants(t, st, api.SubjectKey{Kind: "Group", Name: "ops"})
	if _, err := m.CommitPayload(ctx, CmdUpdateRoleBinding, UpdateRoleBinding{RoleBinding: testRoleBinding("default", "ci-view", "view", userAl)}); err != nil {
		t.Fatal(err)
	}
	wantGrants(t, st, api.SubjectKey{Kind: "User", Name: "system:serviceaccount:default:ci"})
	wantGrants(t, st, api.SubjectKey{Kind: "User", Name: "alice"}, "default/view")
	indexMatchesRebuild(t, st)
}

// indexMatchesRebuild checks that the grant index the changes kept up to
// date is the one a rebuild from the bindings makes.
func indexMatchesRebuild(t *testing.T, st *State) {
	t.Helper()
	sorted := func(idx grantIndex) map[api.SubjectKey][]api.RoleGrant {
		out := map[api.SubjectKey][]api.RoleGrant{}
		for k, v := range idx {
			out[k] = slices.SortedFunc(slices.Values(v), func(a, b api.RoleGrant) int { return strings.Compare(a.Binding, b.Binding) })
		}
		return out
	}
	kept := sorted(*st.grants.Load())
	st.reindexGrants()
	if rebuilt := sorted(*st.grants.Load()); !reflect.DeepEqual(kept, rebuilt) {
		t.Errorf("grant index kept up to date:\n%v\nrebuilt:\n%v", kept, rebuilt)
	}
}

// wantGrants checks the grants the state's index holds for subject, as
// "namespace/role".
func wantGrants(t *testing.T, st *State, subject api.SubjectKey, want ...string) {
	t.Helper()
	var got []string
	for _, g := range st.RoleGrants(subject) {
		got = append(got, g.Namespace+"/"+g.Role)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("grants of %v = %q, want %q", subject, got, want)
	}
}

// TestBindingsSurviveSnapshotAndGoWithTheirNamespace: bindings and the
// index derived from them come back from a snapshot; deleting a namespace
// deletes its RoleBindings (a namespace made again does not inherit
// them) and leaves the ClusterRoleBindings.
func TestBindingsSurviveSnapshotAndGoWithTheirNamespace(t *testing.T) {
	m := newServiceStore(t, "")
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		t CommandType
		p any
	}{
		{CmdCreateRoleBinding, CreateRoleBinding{RoleBinding: testRoleBinding("shop", "ci", "edit", saCI)}},
		{CmdCreateClusterRoleBinding, CreateClusterRoleBinding{ClusterRoleBinding: testClusterRoleBinding("readers", "view",
			api.Subject{Kind: "ServiceAccount", Name: "ci", Namespace: "shop"})}},
	} {
		if _, err := m.CommitPayload(ctx, c.t, c.p); err != nil {
			t.Fatal(err)
		}
	}
	from := m.State().Index()
	sa := api.SubjectKey{Kind: "User", Name: "system:serviceaccount:shop:ci"}
	restored := NewState()
	restored.restore(m.State().export())
	if rb, ok := restored.RoleBinding("shop", "ci"); !ok || rb.RoleRef.APIGroup != api.RBACGroup || rb.ResourceVersion == "" {
		t.Fatalf("after restore: %+v %v", rb, ok)
	}
	wantGrants(t, restored, sa, "/view", "shop/edit")

	if _, err := m.CommitPayload(ctx, CmdDeleteNamespace, DeleteNamespace{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.State().RoleBinding("shop", "ci"); ok {
		t.Error("the RoleBinding outlived its namespace")
	}
	if _, ok := m.State().ClusterRoleBinding("readers"); !ok {
		t.Error("the ClusterRoleBinding went with a namespace")
	}
	wantGrants(t, m.State(), sa, "/view")
	indexMatchesRebuild(t, m.State())
	events, _, ok := m.State().WatchSince(from, "RoleBinding")
	if !ok {
		t.Fatal("watch window lost")
	}
	if len(events) != 1 || events[0].Type != WatchDeleted || events[0].Object.(*api.RoleBinding).Name != "ci" {
		t.Errorf("RoleBinding watch events %+v, want one DELETED ci", events)
	}
}

// BenchmarkBindingChangeWith1000Bindings: what one binding write costs the
// state machine's grant index with 1,000 RoleBindings and 1,000
// ClusterRoleBindings stored (regrant: a subject added to a binding), and
// what a whole rebuild costs (restore, namespace deletion).
func BenchmarkBindingChangeWith1000Bindings(b *testing.B) {
	s := NewState()
	for i := range 1000 {
		rb := testRoleBinding("default", "rb-"+strconv.Itoa(i), "view", api.Subject{Kind: "ServiceAccount", Name: "sa-" + strconv.Itoa(i)})
		s.roleBindings[podKey(rb.Namespace, rb.Name)] = &rb
		crb := testClusterRoleBinding("crb-"+strconv.Itoa(i), "edit", api.Subject{Kind: "User", Name: "u-" + strconv.Itoa(i)})
		s.clusterRoleBindings[crb.Name] = &crb
	}
	b.Run("regrant", func(b *testing.B) {
		s.reindexGrants()
		was := []api.Subject{{Kind: "ServiceAccount", Name: "sa-1"}}
		now := append(was, api.Subject{Kind: "Group", Name: "g"})
		b.ReportAllocs()
		for b.Loop() {
			s.regrant(was, now, "default", "view", "default/rb-1")
			s.regrant(now, was, "default", "view", "default/rb-1")
		}
	})
	b.Run("rebuild", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.reindexGrants()
		}
	})
}
