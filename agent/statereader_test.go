package agent

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/pki"
)

// TestStateReader: the runtime's Services hook reads nothing until the
// agent binds it, then the Services of one namespace of the replicated
// state, as committed.
func TestStateReader(t *testing.T) {
	m := consensus.NewMemStore()
	ctx := context.Background()
	commit := func(typ consensus.CommandType, payload any) {
		t.Helper()
		if _, err := m.CommitPayload(ctx, typ, payload); err != nil {
			t.Fatal(err)
		}
	}
	commit(consensus.CmdSetClusterNetwork, consensus.SetClusterNetwork{Network: consensus.ClusterNetwork{
		ClusterCIDR: "10.88.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/12"}})
	for _, ns := range []string{"default", "shop"} {
		commit(consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{
			ObjectMeta: api.ObjectMeta{Name: ns, UID: types.UID("ns-" + ns)}}})
	}
	for _, s := range []struct{ ns, name string }{{"shop", "web"}, {"default", "other"}, {"shop", "db"}} {
		svc := api.Service{ObjectMeta: api.ObjectMeta{Namespace: s.ns, Name: s.name, UID: types.UID("uid-" + s.name)},
			Spec: api.ServiceSpec{Type: api.ServiceTypeClusterIP, Ports: []api.ServicePort{{Port: 80}}}}
		api.SetServiceDefaults(&svc)
		commit(consensus.CmdCreateService, consensus.CreateService{Service: svc})
	}

	r := &StateReader{}
	if got := r.Services("shop"); got != nil {
		t.Fatalf("unbound reader read %v", got)
	}
	r.bind(m.State(), nil)
	var names []string
	for _, svc := range r.Services("shop") {
		if svc.Spec.ClusterIP == "" {
			t.Errorf("%s: no cluster IP", svc.Name)
		}
		names = append(names, svc.Namespace+"/"+svc.Name)
	}
	if want := []string{"shop/db", "shop/web"}; !slices.Equal(names, want) {
		t.Errorf("Services(shop) = %v, want %v", names, want)
	}
}

// The ConfigMap and Secret hooks read nothing until bound, then the
// objects as committed, a Secret's data in clear.
func TestStateReaderConfigMapAndSecret(t *testing.T) {
	m := consensus.NewMemStore()
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, consensus.CmdCreateConfigMap, consensus.CreateConfigMap{ConfigMap: api.ConfigMap{
		ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "cfg", UID: "cm-1"}, Data: map[string]string{"mode": "prod"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommitPayload(ctx, consensus.CmdCreateSecret, consensus.CreateSecret{Secret: api.Secret{
		ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "creds", UID: "s-1"}, Type: api.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte("hunter2")}}}); err != nil {
		t.Fatal(err)
	}
	r := &StateReader{}
	if _, ok := r.ConfigMap("default", "cfg"); ok {
		t.Fatal("unbound reader found a ConfigMap")
	}
	if _, ok := r.Secret("default", "creds"); ok {
		t.Fatal("unbound reader found a Secret")
	}
	r.bind(m.State(), nil)
	if cm, ok := r.ConfigMap("default", "cfg"); !ok || cm.Data["mode"] != "prod" {
		t.Errorf("ConfigMap default/cfg = %v, %v", cm, ok)
	}
	if s, ok := r.Secret("default", "creds"); !ok || string(s.Data["password"]) != "hunter2" {
		t.Errorf("Secret default/creds = %v, %v", s, ok)
	}
	if _, ok := r.ConfigMap("default", "missing"); ok {
		t.Error("found a ConfigMap that does not exist")
	}
}

// The token hook issues a pod's token only once bound, for the pod's own
// ServiceAccount, and says which ServiceAccount is missing.
func TestStateReaderServiceAccountToken(t *testing.T) {
	m := consensus.NewMemStore()
	ctx := context.Background()
	if _, err := m.CommitPayload(ctx, consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: api.Namespace{
		ObjectMeta: api.ObjectMeta{Name: "shop", UID: "ns-shop"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommitPayload(ctx, consensus.CmdCreateServiceAccount, consensus.CreateServiceAccount{ServiceAccount: api.ServiceAccount{
		ObjectMeta: api.ObjectMeta{Namespace: "shop", Name: "reader", UID: "sa-1"}}}); err != nil {
		t.Fatal(err)
	}
	key, err := pki.ServiceAccountKey(testToken)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewServiceAccountTokens(key, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	pod := &api.Pod{ObjectMeta: api.ObjectMeta{Namespace: "shop", Name: "web", UID: "pod-1"},
		Spec: api.PodSpec{ServiceAccountName: "reader"}}
	r := &StateReader{}
	if _, _, err := r.ServiceAccountToken(pod, "", time.Hour); err == nil {
		t.Fatal("unbound reader issued a token")
	}
	r.bind(m.State(), tokens)
	tok, exp, err := r.ServiceAccountToken(pod, "", time.Hour)
	if err != nil || !auth.LooksLikeJWT(tok) || time.Until(exp) < 59*time.Minute {
		t.Fatalf("token %q expiring %s, %v", tok, exp, err)
	}
	other := pod.DeepCopy()
	other.Spec.ServiceAccountName = "writer"
	if _, _, err := r.ServiceAccountToken(other, "", time.Hour); err == nil || !strings.Contains(err.Error(), `serviceaccounts "writer" not found`) {
		t.Fatalf("a pod of a missing ServiceAccount: %v", err)
	}
}
