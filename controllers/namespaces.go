package controllers

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// NamespacesState is what the namespace and service account controller
// reads.
type NamespacesState interface {
	Namespace(name string) (*api.Namespace, bool)
	Namespaces() ([]api.Namespace, uint64)
	ServiceAccount(namespace, name string) (*api.ServiceAccount, bool)
	ConfigMap(namespace, name string) (*api.ConfigMap, bool)
	Pods(keep func(*api.Pod) bool) ([]*api.Pod, uint64)
	Deployments(keep func(*api.Deployment) bool) ([]*api.Deployment, uint64)
	ReplicaSets(keep func(*api.ReplicaSet) bool) ([]*api.ReplicaSet, uint64)
}

// Namespaces is the leader's share of the namespace lifecycle and
// Kubernetes' service account controller in one pass:
//   - the system namespaces exist, and so does every namespace an object
//     stored before namespaces were objects lives in (an upgraded cluster
//     keeps its pods reachable by namespace);
//   - every active namespace has a "default" service account, made again
//     if deleted;
//   - every active namespace has the kube-root-ca.crt ConfigMap with the
//     cluster CA, made again if deleted and put back if changed, as
//     Kubernetes' root CA certificate publisher keeps it (pods' token
//     volumes project its ca.crt).
//
// It commits only when something is missing. Deleting a namespace (and
// what is in it) is the state machine's, in the entry of the deletion.
type Namespaces struct {
	State  NamespacesState
	Commit Committer
	Log    *slog.Logger
	// RootCA is the cluster CA certificate, PEM, that kube-root-ca.crt
	// holds; nothing is published when it is empty.
	RootCA []byte
	// NewUID makes the uids of what it creates; random RFC 4122 UUIDs
	// when nil.
	NewUID func() types.UID
}

// Reconcile creates the missing namespaces, then the missing default
// service accounts and root CA ConfigMaps.
func (c *Namespaces) Reconcile(ctx context.Context) {
	c.ensureNamespaces(ctx)
	c.ensureServiceAccounts(ctx)
	c.ensureRootCA(ctx)
}

// rootCADescription is the annotation Kubernetes' publisher puts on
// kube-root-ca.crt.
const rootCADescription = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."

func (c *Namespaces) ensureRootCA(ctx context.Context) {
	if len(c.RootCA) == 0 {
		return
	}
	namespaces, _ := c.State.Namespaces()
	for _, ns := range namespaces {
		if ns.Status.Phase != api.NamespaceActive {
			continue
		}
		want := map[string]string{api.RootCAConfigMapKey: string(c.RootCA)}
		have, ok := c.State.ConfigMap(ns.Name, api.RootCAConfigMapName)
		var err error
		switch {
		case !ok:
			cm := api.ConfigMap{
				ObjectMeta: api.ObjectMeta{Name: api.RootCAConfigMapName, Namespace: ns.Name, UID: c.newUID(),
					Annotations: map[string]string{"kubernetes.io/description": rootCADescription}},
				Data: want,
			}
			_, err = c.Commit.Commit(ctx, consensus.CmdCreateConfigMap, consensus.CreateConfigMap{ConfigMap: cm})
		case !maps.Equal(have.Data, want) || len(have.BinaryData) > 0:
			cm := have.DeepCopy()
			cm.Data, cm.BinaryData = want, nil
			_, err = c.Commit.Commit(ctx, consensus.CmdUpdateConfigMap, consensus.UpdateConfigMap{ConfigMap: *cm})
		}
		if err != nil {
			c.Log.Warn("publish the root CA", "namespace", ns.Name, "error", err)
		}
	}
}

func (c *Namespaces) ensureNamespaces(ctx context.Context) {
	want := map[string]bool{}
	for _, name := range api.SystemNamespaces {
		want[name] = true
	}
	pods, _ := c.State.Pods(nil)
	for _, p := range pods {
		want[p.Namespace] = true
	}
	deps, _ := c.State.Deployments(nil)
	for _, d := range deps {
		want[d.Namespace] = true
	}
	rss, _ := c.State.ReplicaSets(nil)
	for _, rs := range rss {
		want[rs.Namespace] = true
	}
	var ensure consensus.EnsureNamespaces
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := c.State.Namespace(name); !ok {
			ns := api.Namespace{ObjectMeta: api.ObjectMeta{Name: name, UID: c.newUID()}}
			api.SetNamespaceDefaults(&ns)
			ensure.Namespaces = append(ensure.Namespaces, ns)
		}
	}
	if len(ensure.Namespaces) == 0 {
		return
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdEnsureNamespaces, ensure); err != nil {
		c.Log.Warn("create missing namespaces", "error", err)
	}
}

func (c *Namespaces) ensureServiceAccounts(ctx context.Context) {
	namespaces, _ := c.State.Namespaces()
	var ensure consensus.EnsureServiceAccounts
	for _, ns := range namespaces {
		if ns.Status.Phase != api.NamespaceActive {
			continue
		}
		if _, ok := c.State.ServiceAccount(ns.Name, api.DefaultServiceAccountName); !ok {
			ensure.ServiceAccounts = append(ensure.ServiceAccounts, api.ServiceAccount{ObjectMeta: api.ObjectMeta{
				Name: api.DefaultServiceAccountName, Namespace: ns.Name, UID: c.newUID()}})
		}
	}
	if len(ensure.ServiceAccounts) == 0 {
		return
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdEnsureServiceAccounts, ensure); err != nil {
		c.Log.Warn("create default service accounts", "error", err)
	}
}

func (c *Namespaces) newUID() types.UID {
	if c.NewUID != nil {
		return c.NewUID()
	}
	return randomUID()
}
