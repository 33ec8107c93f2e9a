package e2e

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// ReplicaSet is the part of an apps/v1 ReplicaSet the tests read.
type ReplicaSet struct {
	Metadata struct {
		Name              string            `json:"name"`
		UID               string            `json:"uid"`
		Annotations       map[string]string `json:"annotations"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
		OwnerReferences   []struct {
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			UID        string `json:"uid"`
			Controller bool   `json:"controller"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		Replicas int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		Replicas          int `json:"replicas"`
		AvailableReplicas int `json:"availableReplicas"`
	} `json:"status"`
}

// Revision is the ReplicaSet's deployment.kubernetes.io/revision.
func (rs ReplicaSet) Revision() string {
	return rs.Metadata.Annotations["deployment.kubernetes.io/revision"]
}

// String is a one-line summary for failure messages.
func (rs ReplicaSet) String() string {
	return fmt.Sprintf("%s(rev %s, %d/%d replicas, %d available)", rs.Metadata.Name, rs.Revision(), rs.Status.Replicas, rs.Spec.Replicas, rs.Status.AvailableReplicas)
}

// ReplicaSets lists the ReplicaSets labelled app=app in the default namespace, as
// host i sees them, sorted by revision.
func (c *Cluster) ReplicaSets(i int, app string) ([]ReplicaSet, error) {
	var list struct {
		Items []ReplicaSet `json:"items"`
	}
	if err := c.apiGet(i, "/apis/apps/v1/namespaces/default/replicasets?labelSelector="+url.QueryEscape("app="+app), &list); err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b ReplicaSet) int { return strings.Compare(a.Revision(), b.Revision()) })
	return list.Items, nil
}

// deploymentMeta reads Deployment name's deletionTimestamp and finalizers.
func (c *Cluster) deploymentMeta(i int, name string) (deletion string, finalizers []string, err error) {
	var d struct {
		Metadata struct {
			DeletionTimestamp string   `json:"deletionTimestamp"`
			Finalizers        []string `json:"finalizers"`
		} `json:"metadata"`
	}
	err = c.apiGet(i, "/apis/apps/v1/namespaces/default/deployments/"+url.PathEscape(name), &d)
	return d.Metadata.DeletionTimestamp, d.Metadata.Finalizers, err
}

// TestDeploymentReplicaSets is issue 11's ReplicaSets and garbage collection on three
// hosts: a rolling update leaves two ReplicaSets, revisions 1 and 2, the old one
// scaled to 0 and every pod owned by the new one; `delete --cascade=foreground` keeps
// the Deployment, with its deletionTimestamp and the foregroundDeletion finalizer,
// until its pods are gone; `delete --cascade=orphan` leaves its ReplicaSet and pods
// running, ownerless.
func TestDeploymentReplicaSets(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	// Runs first: a ReplicaSet left by a failure would recreate the pods CleanupPods
	// deletes.
	t.Cleanup(func() {
		for i := range c.N() {
			if c.Running(i) {
				if res := c.RunOn(i, "delete", "rs", "--all", "--wait=false"); res.Err() != nil {
					t.Errorf("clean up replicasets: %v", res.Err())
				}
				return
			}
		}
	})
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}

	// Revision 1, then a rolling update to revision 2.
	const name, replicas = "history", 3
	c.MustApply(0, deploymentManifest(name, replicas, "1"))
	v1 := c.WaitSettled(0, name, replicas, "", settleTimeout)
	oldHash := v1[0].Hash()
	c.MustApply(1, deploymentManifest(name, replicas, "2"))
	v2 := c.WaitSettled(2, name, replicas, oldHash, settleTimeout)
	newHash := v2[0].Hash()
	var rss []ReplicaSet
	Eventually(t, settleTimeout, func() error {
		var err error
		if rss, err = c.ReplicaSets(2, name); err != nil {
			return err
		}
		if len(rss) != 2 {
			return fmt.Errorf("%d ReplicaSets of %s, want 2: %v", len(rss), name, rss)
		}
		old, cur := rss[0], rss[1]
		switch {
		case old.Revision() != "1" || old.Metadata.Name != name+"-"+oldHash:
			return fmt.Errorf("revision 1 is %v, want %s-%s", old, name, oldHash)
		case cur.Revision() != "2" || cur.Metadata.Name != name+"-"+newHash:
			return fmt.Errorf("revision 2 is %v, want %s-%s", cur, name, newHash)
		case old.Spec.Replicas != 0 || old.Status.Replicas != 0:
			return fmt.Errorf("the old ReplicaSet is not scaled to 0: %v", old)
		case cur.Spec.Replicas != replicas || cur.Status.AvailableReplicas != replicas:
			return fmt.Errorf("the new ReplicaSet is not at %d available: %v", replicas, cur)
		}
		return nil
	})
	t.Logf("ReplicaSets after the rollout: %v", rss)
	for _, rs := range rss {
		if len(rs.Metadata.OwnerReferences) != 1 || !rs.Metadata.OwnerReferences[0].Controller || rs.Metadata.OwnerReferences[0].Kind != "Deployment" ||
			rs.Metadata.OwnerReferences[0].Name != name {
			t.Errorf("ReplicaSet %s owners %+v, want Deployment %s as controller", rs.Metadata.Name, rs.Metadata.OwnerReferences, name)
		}
	}
	for _, p := range v2 {
		owners := p.Metadata.OwnerReferences
		if len(owners) != 1 || owners[0].Kind != "ReplicaSet" || owners[0].UID != rss[1].Metadata.UID {
			t.Errorf("pod %s owned by %+v, want the new ReplicaSet %s", p.Metadata.Name, owners, rss[1].Metadata.Name)
		}
	}
	c.WaitNoLeftovers(uidsOf(v1)...)
	res := c.RunOn(0, "get", "rs", "-l", "app="+name)
	if err := res.Err(); err != nil || !strings.Contains(res.Stdout, name+"-"+oldHash) || !strings.Contains(res.Stdout, name+"-"+newHash) {
		t.Errorf("get rs: %v\n%s", err, res.Stdout)
	}
	res = c.RunOn(1, "describe", "deployment", name)
	if err := res.Err(); err != nil || !strings.Contains(res.Stdout, fmt.Sprintf("NewReplicaSet:   %s-%s (3/3 replicas created)", name, newHash)) ||
		!strings.Contains(res.Stdout, "OldReplicaSets:  <none>") {
		t.Errorf("describe deployment: %v\n%s", err, res.Stdout)
	}

	// Foreground: the Deployment stays, marked, while its pods stop (2 s each).
	if res := c.RunOn(1, "delete", "deployment", name, "--cascade=foreground", "--wait=false"); res.Err() != nil {
		t.Fatalf("delete --cascade=foreground: %v", res.Err())
	}
	deletion, finalizers, err := c.deploymentMeta(0, name)
	if err != nil || deletion == "" || !slices.Contains(finalizers, "foregroundDeletion") {
		t.Errorf("right after a foreground delete: %v, deletionTimestamp %q finalizers %v, want both", err, deletion, finalizers)
	}
	Eventually(t, podGoneTimeout, func() error {
		if _, err := c.GetDeployment(0, name); !errors.Is(err, errNotFound) {
			return fmt.Errorf("deployment %s still readable (%v)", name, err)
		}
		if pods, err := c.DeploymentPods(0, name); err != nil || len(pods) > 0 {
			return fmt.Errorf("the deployment went before its pods (%v): %v", err, pods)
		}
		if rss, err := c.ReplicaSets(0, name); err != nil || len(rss) > 0 {
			return fmt.Errorf("ReplicaSets left (%v): %v", err, rss)
		}
		return nil
	})
	c.WaitNoLeftovers(uidsOf(v2)...)

	// Orphan: the ReplicaSet and its pods stay, running, with no owner.
	const orphaned = "orphaned"
	c.MustApply(2, deploymentManifest(orphaned, 2, "1"))
	pods := c.WaitSettled(2, orphaned, 2, "", settleTimeout)
	if res := c.RunOn(0, "delete", "deployment", orphaned, "--cascade=orphan"); res.Err() != nil {
		t.Fatalf("delete --cascade=orphan: %v", res.Err())
	}
	Eventually(t, settleTimeout, func() error {
		if _, err := c.GetDeployment(1, orphaned); !errors.Is(err, errNotFound) {
			return fmt.Errorf("deployment %s still readable (%v)", orphaned, err)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // nothing stops them
	rss, err = c.ReplicaSets(1, orphaned)
	if err != nil || len(rss) != 1 || len(rss[0].Metadata.OwnerReferences) != 0 || rss[0].Metadata.DeletionTimestamp != "" || rss[0].Spec.Replicas != 2 {
		t.Fatalf("orphaned ReplicaSet (%v): %v, want one, ownerless, of 2 replicas", err, rss)
	}
	for i := range c.N() {
		var p Pod
		for _, dp := range pods {
			if err := c.apiGet(i, "/api/v1/namespaces/default/pods/"+url.PathEscape(dp.Metadata.Name), &p); err != nil {
				t.Fatalf("%s: pod %s of the orphaned ReplicaSet: %v", c.Name(i), dp.Metadata.Name, err)
			}
			if err := p.Running(); err != nil || p.Metadata.DeletionTimestamp != "" || p.Metadata.UID != dp.Metadata.UID {
				t.Errorf("%s: pod %s after the orphaning delete: %v (deletion %q)", c.Name(i), dp.Metadata.Name, err, p.Metadata.DeletionTimestamp)
			}
		}
	}
	// The ReplicaSet itself, deleted, takes its pods.
	if res := c.RunOn(2, "delete", "rs", rss[0].Metadata.Name, "--timeout", podGoneTimeout.String()); res.Err() != nil {
		t.Fatalf("delete rs: %v", res.Err())
	}
	c.WaitNoLeftovers(uidsOf(pods)...)
}
