package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestNamespacesAPI drives the namespace lifecycle through one agent's API
// as kubectl does: the system namespaces exist, `create namespace`, a pod in
// it, its "default" service account and one created, a pod naming a missing
// service account refused (403), a pod in a namespace that does not exist
// refused with 404, delete of the namespace cascading to its pods, and
// default refused with 403.
func TestNamespacesAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	cl := adminClient(t, agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	eventually(t, 20*time.Second, func() error {
		var list api.NamespaceList
		if err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces", nil, &list); err != nil {
			return err
		}
		have := map[string]bool{}
		for _, ns := range list.Items {
			have[ns.Name] = ns.Status.Phase == api.NamespaceActive && ns.UID != ""
		}
		for _, name := range api.SystemNamespaces {
			if !have[name] {
				return fmt.Errorf("system namespace %s not there (Active, with a uid) yet: %v", name, have)
			}
		}
		return nil
	})

	var created api.Namespace
	body := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop", "creationTimestamp": nil}, "spec": map[string]any{}, "status": map[string]any{}}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces", body, &created); err != nil {
		t.Fatalf("create namespace as kubectl sends it: %v", err)
	}
	if created.Status.Phase != api.NamespaceActive {
		t.Fatalf("created: %+v", created.Status)
	}
	// The service account controller gives the namespace its "default";
	// a pod naming another account of it is refused until that exists.
	eventually(t, 20*time.Second, func() error {
		var sa api.ServiceAccount
		return cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/shop/serviceaccounts/default", nil, &sa)
	})
	builder := testPodSpec("build", "1Gi")
	builder.Namespace = "shop"
	builder.Spec.ServiceAccountName = "builder"
	builder.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/shop/pods", builder, nil); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("pod naming a missing service account: %v, want 403", err)
	}
	sa := map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "builder"},
		"imagePullSecrets": []map[string]string{{"name": "regcred"}}}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/shop/serviceaccounts", sa, nil); err != nil {
		t.Fatalf("create service account: %v", err)
	}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/shop/pods", builder, nil); err != nil {
		t.Fatalf("pod naming its service account: %v", err)
	}
	var stored api.Pod
	if err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/shop/pods/build", nil, &stored); err != nil || stored.Spec.ServiceAccountName != "builder" {
		t.Fatalf("stored pod: %v, serviceAccountName %q", err, stored.Spec.ServiceAccountName)
	}
	// The ServiceAccount admission gave the pod its account's pull secrets.
	if ps := stored.Spec.ImagePullSecrets; len(ps) != 1 || ps[0].Name != "regcred" {
		t.Fatalf("stored pod's imagePullSecrets %+v, want its service account's [regcred]", ps)
	}

	// In-process agents run no pods: one that no node matches stays
	// unbound, so its delete needs no node to confirm it.
	pod := testPodSpec("web", "1Gi")
	pod.Namespace = "shop"
	pod.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/shop/pods", pod, nil); err != nil {
		t.Fatalf("pod in the new namespace: %v", err)
	}
	pod.Namespace = "nowhere"
	err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/nowhere/pods", pod, nil)
	if !isStatus(err, http.StatusNotFound) || err.Error() != `namespaces "nowhere" not found` {
		t.Fatalf("pod in a missing namespace: %v, want 404 namespaces \"nowhere\" not found", err)
	}
	if err := cl.Do(ctx, http.MethodDelete, "/api/v1/namespaces/default", nil, nil); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("delete default: %v, want 403", err)
	}
	if err := cl.Do(ctx, http.MethodDelete, "/api/v1/namespaces/shop", nil, nil); err != nil {
		t.Fatalf("delete namespace: %v", err)
	}
	// The pod goes, and with it the namespace.
	eventually(t, 20*time.Second, func() error {
		var ns api.Namespace
		err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/shop", nil, &ns)
		switch {
		case isStatus(err, http.StatusNotFound):
			return nil
		case err != nil:
			return err
		}
		return errors.New("namespace shop still there, phase " + string(ns.Status.Phase))
	})
	if err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/shop/pods/web", nil, nil); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("pod of a deleted namespace: %v, want 404", err)
	}
}
