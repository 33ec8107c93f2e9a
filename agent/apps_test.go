package agent

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
)

// deploymentBody is a Deployment as kubectl sends it; pods of 1Gi, so
// that they are bound (in-process agents run no pods: a bound pod stays
// Terminating when deleted until deleted again with grace 0).
func deploymentBody(name, image string, replicas int) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": image,
					"resources": map[string]any{"requests": map[string]any{"memory": "1Gi"}}}}},
			},
		},
	}
}

// ownedReplicaSets lists name's ReplicaSets as kubectl rollout history
// does: by the Deployment's selector, controlled by it.
func ownedReplicaSets(ctx context.Context, cl *client.Client, d *api.Deployment) ([]api.ReplicaSet, error) {
	list, err := cl.ReplicaSets(ctx, client.ListOptions{Namespace: d.Namespace, LabelSelector: "app=" + d.Name})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(rs api.ReplicaSet) bool { return !api.IsControlledBy(&rs.ObjectMeta, d.UID) }), nil
}

// podsOf lists the pods a ReplicaSet controls.
func podsOf(ctx context.Context, cl *client.Client, rs *api.ReplicaSet) ([]api.Pod, error) {
	list, err := cl.Pods(ctx, client.ListOptions{Namespace: rs.Namespace})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(p api.Pod) bool { return !api.IsControlledBy(&p.ObjectMeta, rs.UID) }), nil
}

// TestDeploymentControllers runs the leader's controllers in an agent:
// a Deployment gets a ReplicaSet (revision 1) that owns its pods; a new
// template a second one (revision 2), the Deployment's revision with it;
// a foreground delete keeps the Deployment until its pods are gone; an
// orphaning delete leaves the ReplicaSet and its pods, which a Deployment
// made again adopts without replacing a pod.
func TestDeploymentControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const base = "/apis/apps/v1/namespaces/default/deployments"

	var d api.Deployment
	if err := cl.Do(ctx, http.MethodPost, base, deploymentBody("web", "busybox:1", 2), &d); err != nil {
		t.Fatal(err)
	}
	var first api.ReplicaSet
	eventually(t, 20*time.Second, func() error {
		rss, err := ownedReplicaSets(ctx, cl, &d)
		if err != nil || len(rss) != 1 {
			return fmt.Errorf("ReplicaSets %v (%v), want 1", rss, err)
		}
		first = rss[0]
		pods, err := podsOf(ctx, cl, &first)
		if err != nil || len(pods) != 2 {
			return fmt.Errorf("%d pods of %s (%v), want 2", len(pods), first.Name, err)
		}
		cur, err := cl.Deployment(ctx, "default", "web")
		if err != nil || cur.Annotations[api.AnnotationRevision] != "1" || cur.Status.Replicas != 2 {
			return fmt.Errorf("deployment %v %+v (%v), want revision 1 and 2 replicas", cur.Annotations, cur.Status, err)
		}
		return nil
	})
	hash := api.TemplateHash(&d.Spec.Template)
	if first.Name != "web-"+hash || first.Annotations[api.AnnotationRevision] != "1" || first.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] != hash ||
		first.Annotations[api.AnnotationDesiredReplicas] != "2" || first.Annotations[api.AnnotationMaxReplicas] != "3" {
		t.Fatalf("first ReplicaSet %s: annotations %v selector %v", first.Name, first.Annotations, first.Spec.Selector)
	}

	// A new template: a second ReplicaSet, revision 2. In-process agents
	// run no pod, so none becomes available and the rollout stays at its
	// first step: the new ReplicaSet surges by one, the old one keeps both.
	cur, _ := cl.Deployment(ctx, "default", "web")
	cur.Spec.Template.Spec.Containers[0].Image = "busybox:2"
	if err := cl.Do(ctx, http.MethodPut, base+"/web", cur, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		rss, err := ownedReplicaSets(ctx, cl, &d)
		if err != nil || len(rss) != 2 {
			return fmt.Errorf("ReplicaSets %d (%v), want 2", len(rss), err)
		}
		revisions := map[string]string{}
		for _, rs := range rss {
			revisions[rs.Name] = fmt.Sprintf("%s:%d", rs.Annotations[api.AnnotationRevision], *rs.Spec.Replicas)
		}
		if revisions[first.Name] != "1:2" || len(revisions) != 2 {
			return fmt.Errorf("revisions and replicas %v, want %s at 1:2 and a new one at 2:1", revisions, first.Name)
		}
		for name, r := range revisions {
			if name != first.Name && r != "2:1" {
				return fmt.Errorf("revisions and replicas %v", revisions)
			}
		}
		dep, err := cl.Deployment(ctx, "default", "web")
		if err != nil || dep.Annotations[api.AnnotationRevision] != "2" {
			return fmt.Errorf("deployment revision %v (%v), want 2", dep.Annotations, err)
		}
		bound, err := cl.Pods(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=web", FieldSelector: "spec.nodeName!="})
		if err != nil || len(bound.Items) != 3 {
			return fmt.Errorf("%d pods bound (%v), want 3", len(bound.Items), err)
		}
		return nil
	})

	// Foreground: the Deployment stays, marked, while its pods terminate.
	fg, err := cl.DeleteDeployment(ctx, "default", "web", api.DeletePropagationForeground)
	if err != nil || fg.DeletionTimestamp == nil || !slices.Contains(fg.Finalizers, api.FinalizerForegroundDeletion) {
		t.Fatalf("foreground delete: %v, deletionTimestamp %v finalizers %v", err, fg.DeletionTimestamp, fg.Finalizers)
	}
	time.Sleep(500 * time.Millisecond) // the controllers must not recreate anything meanwhile
	left, err := cl.Pods(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=web"})
	if err != nil || len(left.Items) != 3 {
		t.Fatalf("pods after the foreground delete: %d (%v), want the 3 terminating", len(left.Items), err)
	}
	zero := int64(0)
	for _, p := range left.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s not terminating", p.Name)
		}
		if _, err := cl.DeletePod(ctx, "default", p.Name, &zero); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, func() error {
		if _, err := cl.Deployment(ctx, "default", "web"); !isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("deployment after its pods went: %v, want 404", err)
		}
		if rss, _ := cl.ReplicaSets(ctx, client.ListOptions{Namespace: "default"}); len(rss.Items) != 0 {
			return fmt.Errorf("%d ReplicaSets left", len(rss.Items))
		}
		return nil
	})

	// Orphan: the ReplicaSet and its pods stay; a new Deployment adopts it.
	if err := cl.Do(ctx, http.MethodPost, base, deploymentBody("api", "busybox:1", 1), &d); err != nil {
		t.Fatal(err)
	}
	var pod api.Pod
	eventually(t, 20*time.Second, func() error {
		rss, err := ownedReplicaSets(ctx, cl, &d)
		if err != nil || len(rss) != 1 {
			return fmt.Errorf("ReplicaSets %d (%v)", len(rss), err)
		}
		pods, err := podsOf(ctx, cl, &rss[0])
		if err != nil || len(pods) != 1 {
			return fmt.Errorf("pods %d (%v)", len(pods), err)
		}
		pod = pods[0]
		return nil
	})
	if _, err := cl.DeleteDeployment(ctx, "default", "api", api.DeletePropagationOrphan); err != nil {
		t.Fatal(err)
	}
	rs, err := cl.ReplicaSet(ctx, "default", "api-"+api.TemplateHash(&d.Spec.Template))
	if err != nil || len(rs.OwnerReferences) != 0 {
		t.Fatalf("orphaned ReplicaSet: %v, owners %v", err, rs.OwnerReferences)
	}
	if p, err := cl.Pod(ctx, "default", pod.Name); err != nil || p.DeletionTimestamp != nil || !api.IsControlledBy(&p.ObjectMeta, rs.UID) {
		t.Fatalf("the orphaned ReplicaSet's pod: %v", err)
	}
	if err := cl.Do(ctx, http.MethodPost, base, deploymentBody("api", "busybox:1", 1), &d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		got, err := cl.ReplicaSet(ctx, "default", rs.Name)
		if err != nil || !api.IsControlledBy(&got.ObjectMeta, d.UID) {
			return fmt.Errorf("ReplicaSet not adopted: %v %v", err, got.OwnerReferences)
		}
		pods, err := podsOf(ctx, cl, got)
		if err != nil || len(pods) != 1 || pods[0].UID != pod.UID {
			return fmt.Errorf("pods %v (%v), want the same one", pods, err)
		}
		return nil
	})
	if list, err := cl.Pods(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=api"}); err != nil || len(list.Items) != 1 {
		t.Fatalf("after the adoption: %d pods (%v), want the one", len(list.Items), err)
	}
	var events api.EventList
	if err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DReplicaSet", nil, &events); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events.Items, func(e api.Event) bool {
		return e.Reason == "SuccessfulCreate" && strings.HasPrefix(e.Message, "Created pod: "+rs.Name+"-")
	}) {
		t.Errorf("no SuccessfulCreate event of the ReplicaSet controller: %+v", events.Items)
	}
}

// TestLegacyDeploymentAdoption: a Deployment whose pods it owns directly,
// as the controller before ReplicaSets made them, is moved to ReplicaSets
// by the leader (one per template hash, the pods re-pointed, none
// replaced), even while paused.
func TestLegacyDeploymentAdoption(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	cl := adminClient(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	body := deploymentBody("legacy", "busybox:1", 2)
	body["spec"].(map[string]any)["paused"] = true // nothing rolls out meanwhile
	var d api.Deployment
	if err := cl.Do(ctx, http.MethodPost, "/apis/apps/v1/namespaces/default/deployments", body, &d); err != nil {
		t.Fatal(err)
	}
	current := api.TemplateHash(&d.Spec.Template)
	controller := true
	legacyPod := func(hash, image, suffix string) api.Pod {
		spec := d.Spec.Template.Spec
		spec.Containers = slices.Clone(spec.Containers)
		spec.Containers[0].Image = image
		api.SetPodServiceAccount(&spec)
		return api.Pod{
			TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{Name: "legacy-" + hash + "-" + suffix, Namespace: "default", UID: apiserver.NewUID(),
				Labels:          map[string]string{"app": "legacy", api.LabelPodTemplateHash: hash},
				OwnerReferences: []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "legacy", UID: d.UID, Controller: &controller}}},
			Spec: spec,
		}
	}
	pods := []api.Pod{legacyPod("oldhash", "busybox:0", "a"), legacyPod(current, "busybox:1", "b"), legacyPod(current, "busybox:1", "c")}
	if err := a.commitPayload(ctx, consensus.CmdCreatePods, consensus.CreatePods{Pods: pods}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		rss, err := ownedReplicaSets(ctx, cl, &d)
		if err != nil || len(rss) != 2 {
			return fmt.Errorf("ReplicaSets %d (%v), want 2", len(rss), err)
		}
		for _, rs := range rss {
			want := map[string]string{"legacy-oldhash": "1:1", "legacy-" + current: "2:2"}[rs.Name]
			if got := fmt.Sprintf("%s:%d", rs.Annotations[api.AnnotationRevision], *rs.Spec.Replicas); got != want {
				return fmt.Errorf("%s at revision:replicas %s, want %s", rs.Name, got, want)
			}
		}
		return nil
	})
	for _, p := range pods {
		got, err := cl.Pod(ctx, "default", p.Name)
		if err != nil || got.UID != p.UID {
			t.Fatalf("pod %s replaced or gone: %v", p.Name, err)
		}
		if r := api.ControllerOf(&got.ObjectMeta); r == nil || r.Kind != "ReplicaSet" || r.Name != "legacy-"+p.Labels[api.LabelPodTemplateHash] {
			t.Errorf("pod %s controlled by %+v", p.Name, r)
		}
	}
	if list, _ := cl.Pods(ctx, client.ListOptions{Namespace: "default", LabelSelector: "app=legacy"}); len(list.Items) != 3 {
		t.Errorf("%d pods after the move, want the same 3", len(list.Items))
	}
}
