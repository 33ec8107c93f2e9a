package consensus

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

func nsCmd(t *testing.T, name, uid string) Command {
	t.Helper()
	return command(t, CmdCreateNamespace, CreateNamespace{Namespace: api.Namespace{ObjectMeta: api.ObjectMeta{Name: name, UID: types.UID(uid)}}}, t0)
}

// TestNamespaceLifecycle: objects can be created only in a namespace that
// exists (the system ones count from the start) and is not terminating;
// deleting a namespace deletes its content, bound pods gracefully, and the
// namespace goes with its last pod; default, kube-system and kube-public
// cannot be deleted.
func TestNamespaceLifecycle(t *testing.T) {
	f := podFSM(t)
	pod := func(ns, name, uid string) Command {
		p := testPod(name, uid, 0, "1Gi")
		p.Namespace = ns
		return command(t, CmdCreatePod, CreatePod{Pod: p}, t0)
	}
	if _, err := applyErr(t, f, 3, pod("shop", "web", "u1")); statusCode(err) != http.StatusNotFound || err.Error() != `namespaces "shop" not found` {
		t.Fatalf("pod in a missing namespace: %v, want 404 namespaces \"shop\" not found", err)
	}
	mustApply(t, f, 4, pod("kube-system", "sys", "u0")) // a system namespace exists from the start

	created := mustApply(t, f, 5, nsCmd(t, "shop", "ns-1")).(*api.Namespace)
	if created.Status.Phase != api.NamespaceActive || created.ResourceVersion != "5" || len(created.Spec.Finalizers) != 1 {
		t.Fatalf("created namespace: %+v", created)
	}
	if _, err := applyErr(t, f, 6, nsCmd(t, "shop", "ns-2")); statusCode(err) != http.StatusConflict {
		t.Fatalf("second create: %v, want 409", err)
	}
	if _, err := applyErr(t, f, 7, nsCmd(t, "Bad_Name", "ns-3")); statusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("invalid name: %v, want 422", err)
	}
	mustApply(t, f, 8, pod("shop", "web", "u1"))
	mustApply(t, f, 9, pod("shop", "idle", "u2"))
	bind(t, f, 10, PodBinding{Namespace: "shop", Name: "web", UID: "u1", Node: "node-1"})

	del := mustApply(t, f, 11, command(t, CmdDeleteNamespace, DeleteNamespace{Name: "shop"}, t0)).(*api.Namespace)
	if del.Status.Phase != api.NamespaceTerminating || del.DeletionTimestamp == nil {
		t.Fatalf("deleted namespace with a running pod: %+v, want Terminating", del.Status)
	}
	if _, ok := f.state.Pod("shop", "idle"); ok {
		t.Fatalf("unbound pod of a terminating namespace not deleted")
	}
	web, ok := f.state.Pod("shop", "web")
	if !ok || web.DeletionTimestamp == nil {
		t.Fatalf("bound pod of a terminating namespace: present %v, want Terminating", ok)
	}
	if _, err := applyErr(t, f, 12, pod("shop", "late", "u3")); statusCode(err) != http.StatusForbidden ||
		err.Error() != `pods "late" is forbidden: unable to create new content in namespace shop because it is being terminated` {
		t.Fatalf("pod in a terminating namespace: %v", err)
	}
	zero := int64(0)
	mustApply(t, f, 13, command(t, CmdDeletePod, DeletePod{Namespace: "shop", Name: "web", GracePeriodSeconds: &zero}, t0))
	if _, ok := f.state.Namespace("shop"); ok {
		t.Fatalf("namespace still there after its last pod went")
	}

	for i, name := range []string{"default", "kube-system", "kube-public"} {
		mustApply(t, f, uint64(20+2*i), command(t, CmdEnsureNamespaces, EnsureNamespaces{Namespaces: []api.Namespace{{ObjectMeta: api.ObjectMeta{Name: name, UID: types.UID("sys-" + name)}}}}, t0))
		if _, err := applyErr(t, f, uint64(21+2*i), command(t, CmdDeleteNamespace, DeleteNamespace{Name: name}, t0)); statusCode(err) != http.StatusForbidden {
			t.Fatalf("delete %s: %v, want 403", name, err)
		}
	}
	if n := mustApply(t, f, 30, command(t, CmdEnsureNamespaces, EnsureNamespaces{Namespaces: []api.Namespace{
		{ObjectMeta: api.ObjectMeta{Name: "default", UID: "other"}}, {ObjectMeta: api.ObjectMeta{Name: "team", UID: "t"}}}}, t0)); n != 1 {
		t.Fatalf("ensure: created %v, want 1 (default exists)", n)
	}
	if ns, _ := f.state.Namespace("default"); ns.UID != "sys-default" {
		t.Fatalf("ensure replaced an existing namespace: uid %s", ns.UID)
	}
}

// TestNamespaceDeleteCascadesDeployments: a namespace's deployments go with
// it, and the namespace goes at once when nothing of it runs.
func TestNamespaceDeleteCascadesDeployments(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, nsCmd(t, "apps", "ns-a"))
	d := gateDeployment("web", "d-1")
	d.Namespace = "apps"
	mustApply(t, f, 4, command(t, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0))
	mustApply(t, f, 5, command(t, CmdDeleteNamespace, DeleteNamespace{Name: "apps"}, t0))
	if _, ok := f.state.Namespace("apps"); ok {
		t.Fatalf("empty terminating namespace not removed")
	}
	if deps, _ := f.state.Deployments(func(d *api.Deployment) bool { return d.Namespace == "apps" }); len(deps) != 0 {
		t.Fatalf("deployments of a deleted namespace: %d", len(deps))
	}
	d.Namespace = "gone"
	if _, err := applyErr(t, f, 6, command(t, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0)); statusCode(err) != http.StatusNotFound {
		t.Fatalf("deployment in a missing namespace: %v, want 404", err)
	}
}

// TestServiceAccountAdmission: a pod must run as a service account of its
// namespace ("default" is let through before the leader makes it); service
// accounts go with their namespace.
func TestServiceAccountAdmission(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, nsCmd(t, "team", "ns-t"))
	pod := func(name, uid, sa string) Command {
		p := testPod(name, uid, 0, "1Gi")
		p.Namespace = "team"
		p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = sa, sa
		return command(t, CmdCreatePod, CreatePod{Pod: p}, t0)
	}
	mustApply(t, f, 4, pod("a", "u1", "default"))
	_, err := applyErr(t, f, 5, pod("b", "u2", "builder"))
	if statusCode(err) != http.StatusForbidden ||
		err.Error() != `pods "b" is forbidden: error looking up service account team/builder: serviceaccount "builder" not found` {
		t.Fatalf("pod naming a missing service account: %v", err)
	}
	sa := api.ServiceAccount{ObjectMeta: api.ObjectMeta{Name: "builder", Namespace: "team", UID: "sa-1"}}
	created := mustApply(t, f, 6, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: sa}, t0)).(*api.ServiceAccount)
	if created.ResourceVersion != "6" || created.Kind != "ServiceAccount" {
		t.Fatalf("created: %+v", created)
	}
	if _, err := applyErr(t, f, 7, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: sa}, t0)); statusCode(err) != http.StatusConflict {
		t.Fatalf("second create: %v, want 409", err)
	}
	mustApply(t, f, 8, pod("b", "u2", "builder"))
	sa.Namespace = "nowhere"
	if _, err := applyErr(t, f, 9, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: sa}, t0)); statusCode(err) != http.StatusNotFound {
		t.Fatalf("service account in a missing namespace: %v, want 404", err)
	}
	if n := mustApply(t, f, 10, command(t, CmdEnsureServiceAccounts, EnsureServiceAccounts{ServiceAccounts: []api.ServiceAccount{
		{ObjectMeta: api.ObjectMeta{Name: "default", Namespace: "team", UID: "sa-d"}},
		{ObjectMeta: api.ObjectMeta{Name: "builder", Namespace: "team", UID: "sa-other"}}}}, t0)); n != 1 {
		t.Fatalf("ensure created %v, want 1", n)
	}
	if list, _ := f.state.ServiceAccounts("team"); len(list) != 2 {
		t.Fatalf("service accounts of team: %d, want 2", len(list))
	}
	mustApply(t, f, 11, command(t, CmdDeleteNamespace, DeleteNamespace{Name: "team"}, t0))
	if list, _ := f.state.ServiceAccounts("team"); len(list) != 0 || func() bool { _, ok := f.state.Namespace("team"); return ok }() {
		t.Fatalf("after the namespace went: %d service accounts, namespace still there", len(list))
	}
}

// TestUpdateNamespaceAndServiceAccount: an update changes the labels and
// annotations (and a service account's automountServiceAccountToken), is
// refused when its resourceVersion or uid is stale, keeps the namespace's
// finalizers and status whatever it sends, and is validated again by the
// FSM; each change is a MODIFIED watch event.
func TestUpdateNamespaceAndServiceAccount(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, nsCmd(t, "shop", "ns-1"))
	mustApply(t, f, 4, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: api.ServiceAccount{
		ObjectMeta: api.ObjectMeta{Name: "builder", Namespace: "shop", UID: "sa-1"}}}, t0))

	ns, _ := f.state.Namespace("shop")
	ns.Labels = map[string]string{"team": "a"}
	ns.Spec.Finalizers = nil
	ns.Status.Phase = api.NamespaceTerminating
	got := mustApply(t, f, 5, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: *ns}, t0)).(*api.Namespace)
	if got.Labels["team"] != "a" || got.ResourceVersion != "5" || got.Status.Phase != api.NamespaceActive ||
		len(got.Spec.Finalizers) != 1 || got.UID != "ns-1" {
		t.Fatalf("updated namespace: %+v", got)
	}
	if _, err := applyErr(t, f, 6, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: *ns}, t0)); statusCode(err) != http.StatusConflict ||
		err.Error() != `Operation cannot be fulfilled on namespaces "shop": the object has been modified; please apply your changes to the latest version and try again` {
		t.Fatalf("update from resourceVersion 3: %v, want 409", err)
	}
	bad := *got
	bad.Labels = map[string]string{"bad key!": "x"}
	if _, err := applyErr(t, f, 7, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: bad}, t0)); statusCode(err) != http.StatusUnprocessableEntity {
		t.Fatalf("invalid label: %v, want 422", err)
	}
	other := *got
	other.UID = "ns-2"
	other.ResourceVersion = ""
	if _, err := applyErr(t, f, 8, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: other}, t0)); statusCode(err) != http.StatusConflict {
		t.Fatalf("update of another uid: %v, want 409", err)
	}
	missing := api.Namespace{ObjectMeta: api.ObjectMeta{Name: "gone"}}
	if _, err := applyErr(t, f, 9, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: missing}, t0)); statusCode(err) != http.StatusNotFound {
		t.Fatalf("update of a missing namespace: %v, want 404", err)
	}

	sa, _ := f.state.ServiceAccount("shop", "builder")
	no := false
	sa.Annotations = map[string]string{"note": "ci"}
	sa.AutomountServiceAccountToken = &no
	gotSA := mustApply(t, f, 10, command(t, CmdUpdateServiceAccount, UpdateServiceAccount{ServiceAccount: *sa}, t0)).(*api.ServiceAccount)
	if gotSA.Annotations["note"] != "ci" || gotSA.AutomountServiceAccountToken == nil || *gotSA.AutomountServiceAccountToken ||
		gotSA.ResourceVersion != "10" || gotSA.UID != "sa-1" {
		t.Fatalf("updated service account: %+v", gotSA)
	}
	if _, err := applyErr(t, f, 11, command(t, CmdUpdateServiceAccount, UpdateServiceAccount{ServiceAccount: *sa}, t0)); statusCode(err) != http.StatusConflict {
		t.Fatalf("service account update from resourceVersion 4: %v, want 409", err)
	}
	events, _, _ := f.state.WatchSince(4, "")
	if len(events) != 2 || events[0].Type != WatchModified || events[0].Kind != "Namespace" ||
		events[1].Type != WatchModified || events[1].Kind != "ServiceAccount" {
		t.Fatalf("watch events after 4: %+v, want the two MODIFIED", events)
	}
}

// TestUpdateNamespaceNoop: an update that changes nothing it may change
// writes nothing: same resourceVersion, no watch event.
func TestUpdateNamespaceNoop(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, nsCmd(t, "shop", "ns-1"))
	ns, _ := f.state.Namespace("shop")
	ns.Status.Phase = api.NamespaceTerminating
	got := mustApply(t, f, 4, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: *ns}, t0)).(*api.Namespace)
	if got.ResourceVersion != "3" || got.Status.Phase != api.NamespaceActive {
		t.Fatalf("no-op update: %+v", got)
	}
	mustApply(t, f, 5, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: api.ServiceAccount{
		ObjectMeta: api.ObjectMeta{Name: "builder", Namespace: "shop", UID: "sa-1"}}}, t0))
	sa, _ := f.state.ServiceAccount("shop", "builder")
	if got := mustApply(t, f, 6, command(t, CmdUpdateServiceAccount, UpdateServiceAccount{ServiceAccount: *sa}, t0)).(*api.ServiceAccount); got.ResourceVersion != "5" {
		t.Fatalf("no-op service account update: resourceVersion %s, want 5", got.ResourceVersion)
	}
	if events, _, _ := f.state.WatchSince(5, ""); len(events) != 0 {
		t.Fatalf("no-op updates emitted %+v", events)
	}
}

// TestServiceAccountImagePullSecrets: as kube-apiserver's ServiceAccount
// admission, a new pod that names no imagePullSecrets gets those of the
// account it runs as (as committed, so an update of the account reaches
// the pods created after it); one that names its own keeps them.
func TestServiceAccountImagePullSecrets(t *testing.T) {
	f := podFSM(t)
	mustApply(t, f, 3, nsCmd(t, "team", "ns-t"))
	mustApply(t, f, 4, command(t, CmdCreateServiceAccount, CreateServiceAccount{ServiceAccount: api.ServiceAccount{
		ObjectMeta:       api.ObjectMeta{Name: "builder", Namespace: "team", UID: "sa-1"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror"}}}}, t0))

	index := uint64(5)
	create := func(name, sa string, own ...string) *api.Pod {
		t.Helper()
		p := testPod(name, "u-"+name, 0, "1Gi")
		p.Namespace = "team"
		p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = sa, sa
		for _, s := range own {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		index++
		return mustApply(t, f, index, command(t, CmdCreatePod, CreatePod{Pod: p}, t0)).(*api.Pod)
	}
	names := func(p *api.Pod) []string {
		stored, _ := f.state.Pod(p.Namespace, p.Name)
		var out []string
		for _, r := range stored.Spec.ImagePullSecrets {
			out = append(out, r.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name, sa string
		own      []string
		want     []string
	}{
		{name: "inherits", sa: "builder", want: []string{"regcred", "mirror"}},
		{name: "own-wins", sa: "builder", own: []string{"mine"}, want: []string{"mine"}},
		{name: "default-not-made-yet", sa: "default"},
	} {
		if got := names(create(tc.name, tc.sa, tc.own...)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: imagePullSecrets %v, want %v", tc.name, got, tc.want)
		}
	}

	sa, _ := f.state.ServiceAccount("team", "builder")
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "rotated"}}
	index++
	if got := mustApply(t, f, index, command(t, CmdUpdateServiceAccount, UpdateServiceAccount{ServiceAccount: *sa}, t0)).(*api.ServiceAccount); got.ResourceVersion != strconv.FormatUint(index, 10) {
		t.Fatalf("update of imagePullSecrets wrote nothing: %+v", got)
	}
	if got := names(create("after-update", "builder")); !slices.Equal(got, []string{"rotated"}) {
		t.Errorf("pod created after the update: imagePullSecrets %v, want [rotated]", got)
	}
	if got := names(&api.Pod{ObjectMeta: api.ObjectMeta{Namespace: "team", Name: "inherits"}}); !slices.Equal(got, []string{"regcred", "mirror"}) {
		t.Errorf("an existing pod changed with its account: %v", got)
	}
}
