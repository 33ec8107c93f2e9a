package agent

import (
	"context"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// TestServiceReader: the runtime's Services hook reads nothing until the
// agent binds it, then the Services of one namespace of the replicated
// state, as committed.
func TestServiceReader(t *testing.T) {
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

	r := &ServiceReader{}
	if got := r.Services("shop"); got != nil {
		t.Fatalf("unbound reader read %v", got)
	}
	r.bind(m.State())
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
