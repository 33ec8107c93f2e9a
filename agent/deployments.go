package agent

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/placement"
)

// deploymentLoop is the leader's Deployment controller. Like every leader
// loop it is event-driven: it reconciles all Deployments whenever the
// replicated state changes, and writes only what differs, so it settles.
// Everything it knows is in the log, so a new leader picks up a rollout
// exactly where the last one stopped.
func (a *Agent) deploymentLoop(ctx context.Context) {
	for {
		changed := a.store.State().Changed()
		deployments, _ := a.store.State().Deployments(nil)
		for _, d := range deployments {
			if err := a.reconcileDeployment(ctx, d); err != nil && ctx.Err() == nil {
				a.log.Warn("reconcile deployment", "deployment", d.Namespace+"/"+d.Name, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// deploymentPods sorts a Deployment's pods for the controller.
type deploymentPods struct {
	newPods, oldPods []*api.Pod // active: not finished, not being deleted
	terminating      []*api.Pod
	finished         []*api.Pod // Succeeded or Failed (e.g. NodeLost)
}

func (a *Agent) podsOf(d *api.Deployment, hash string) deploymentPods {
	var out deploymentPods
	pods, _ := a.store.State().Pods(func(p *api.Pod) bool {
		return p.Namespace == d.Namespace && placement.ControllerUID(p) == d.UID
	})
	for _, p := range pods {
		switch {
		case p.IsTerminal():
			out.finished = append(out.finished, p)
		case p.DeletionTimestamp != nil:
			out.terminating = append(out.terminating, p)
		case p.Labels[api.LabelPodTemplateHash] == hash:
			out.newPods = append(out.newPods, p)
		default:
			out.oldPods = append(out.oldPods, p)
		}
	}
	return out
}

// reconcileDeployment moves one Deployment one step towards its spec:
//  1. remove finished pods (a NodeLost pod's node cannot confirm, so it
//     goes at once), which frees their names and slots;
//  2. Recreate: delete every old pod, wait until they are gone, then
//     create the new ones;
//  3. RollingUpdate: create new pods while the total stays within
//     replicas + maxSurge, delete old pods while the available ones stay
//     at least replicas − maxUnavailable (unavailable old pods first);
//  4. without old pods, scale the new ones to replicas;
//  5. record the status.
func (a *Agent) reconcileDeployment(ctx context.Context, d *api.Deployment) error {
	hash := api.TemplateHash(&d.Spec.Template)
	pods := a.podsOf(d, hash)
	plan := planDeployment(d, pods)
	var events []api.Event
	if plan.create > 0 {
		// At most burstReplicas per pass; the commits change the state,
		// which runs the next pass for the rest.
		want := min(plan.create, burstReplicas)
		created, err := slowStartBatch(want, func(n int) error {
			creates := make([]api.Pod, n)
			for i := range creates {
				creates[i] = newDeploymentPod(d, hash)
			}
			return a.commitPayload(ctx, consensus.CmdCreatePods, consensus.CreatePods{Pods: creates})
		})
		if created > 0 {
			a.log.Info("deployment scaled up", "deployment", d.Namespace+"/"+d.Name, "created", created, "template", hash)
			n := len(pods.newPods)
			events = append(events, deploymentEvent(d, fmt.Sprintf("Scaled up replica set %s-%s from %d to %d", d.Name, hash, n, n+created)))
		}
		if err != nil {
			a.recordEvents(ctx, d, events)
			return fmt.Errorf("create pods (%d of %d created): %w", created, want, err)
		}
	}
	if len(plan.deletes) > 0 {
		if err := a.commitPayload(ctx, consensus.CmdDeletePods, consensus.DeletePods{Deletes: plan.deletes}); err != nil {
			return fmt.Errorf("delete pods: %w", err)
		}
		a.log.Info("deployment scaled down", "deployment", d.Namespace+"/"+d.Name, "deleted", len(plan.deletes))
		events = append(events, scaleDownEvents(d, pods, plan.deletes)...)
	}
	a.recordEvents(ctx, d, events)

	// Step 5: status.
	status := deploymentStatus(d, hash, pods, consensus.DesiredReplicas(d), consensus.MaxUnavailable(d), time.Now())
	if sameStatus(d.Status, status) {
		return nil
	}
	return a.commitPayload(ctx, consensus.CmdSetDeploymentStatus, consensus.SetDeploymentStatus{
		Namespace: d.Namespace, Name: d.Name, UID: d.UID, Status: status})
}

// recordEvents commits the events of one pass over d, if any; failing to
// record them does not fail the pass.
func (a *Agent) recordEvents(ctx context.Context, d *api.Deployment, events []api.Event) {
	if len(events) == 0 {
		return
	}
	if err := a.commitPayload(ctx, consensus.CmdRecordEvents, consensus.RecordEvents{Events: events}); err != nil {
		a.log.Warn("record deployment events", "deployment", d.Namespace+"/"+d.Name, "error", err)
	}
}

// burstReplicas is how many pods one controller pass creates at most, as
// kube-controller-manager's ReplicaSet controller (BurstReplicas, 500); it
// is also the FSM's bound on one CreatePods entry.
const burstReplicas = consensus.MaxPodsPerEntry

// slowStartBatch calls create for count pods in batches of 1, 2, 4, ...
// (at most burstReplicas each), as kube-controller-manager's slowStartBatch
// does: a Deployment that cannot create pods (a template the FSM refuses,
// no leader) fails after one pod instead of committing thousands, and one
// that can reaches its size in a logarithmic number of log entries. It
// stops at the first batch that fails and returns how many pods the
// batches before it created.
func slowStartBatch(count int, create func(n int) error) (int, error) {
	created := 0
	for batch := 1; created < count; batch = min(2*batch, burstReplicas) {
		n := min(batch, count-created)
		if err := create(n); err != nil {
			return created, err
		}
		created += n
	}
	return created, nil
}

// deploymentEvent is a ScalingReplicaSet event about d, in the words of
// Kubernetes' Deployment controller (gossipod's "replica sets" are the pods
// of one template hash).
func deploymentEvent(d *api.Deployment, message string) api.Event {
	return api.Event{
		ObjectMeta:     api.ObjectMeta{Namespace: d.Namespace},
		InvolvedObject: api.ObjectReference{Kind: "Deployment", Namespace: d.Namespace, Name: d.Name, UID: d.UID},
		Reason:         "ScalingReplicaSet",
		Message:        message,
		Type:           api.EventTypeNormal,
		Source:         api.EventSource{Component: "deployment-controller"},
	}
}

// scaleDownEvents reports deletions of active pods per template hash.
func scaleDownEvents(d *api.Deployment, pods deploymentPods, deletes []consensus.DeletePod) []api.Event {
	active := map[string]int{}
	byName := map[string]string{}
	for _, p := range slices.Concat(pods.newPods, pods.oldPods) {
		h := p.Labels[api.LabelPodTemplateHash]
		active[h]++
		byName[p.Name] = h
	}
	removed := map[string]int{}
	for _, del := range deletes {
		if h, ok := byName[del.Name]; ok {
			removed[h]++
		}
	}
	var out []api.Event
	for _, h := range slices.Sorted(maps.Keys(removed)) {
		out = append(out, deploymentEvent(d, fmt.Sprintf("Scaled down replica set %s-%s from %d to %d", d.Name, h, active[h], active[h]-removed[h])))
	}
	return out
}

// deploymentPlan is one controller step: how many new pods to create and
// which pods to delete.
type deploymentPlan struct {
	create  int
	deletes []consensus.DeletePod
}

// planDeployment computes steps 1–4 of reconcileDeployment, without I/O.
func planDeployment(d *api.Deployment, pods deploymentPods) deploymentPlan {
	replicas := consensus.DesiredReplicas(d)
	surge, unavailable := consensus.MaxSurge(d), consensus.MaxUnavailable(d)
	zero := int64(0)
	var plan deploymentPlan
	del := func(p *api.Pod, grace *int64) {
		plan.deletes = append(plan.deletes, consensus.DeletePod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: grace})
	}

	// Step 1: remove finished pods.
	for _, p := range pods.finished {
		del(p, &zero)
	}
	newCount, oldCount := len(pods.newPods), len(pods.oldPods)
	availNew, availOld := countAvailable(pods.newPods), countAvailable(pods.oldPods)
	hash := api.TemplateHash(&d.Spec.Template)

	switch {
	case d.Spec.Paused:
		// A paused Deployment keeps its pods as they are.
	case d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType && (oldCount > 0 || hasOldTerminating(pods.terminating, hash)):
		// Step 2: Recreate.
		for _, p := range pods.oldPods {
			del(p, nil)
		}
	case oldCount > 0:
		// Step 3: RollingUpdate.
		total := newCount + oldCount
		if room := replicas + surge - total; newCount < replicas && room > 0 {
			plan.create = min(replicas-newCount, room)
		}
		minAvailable := replicas - unavailable
		maxScaledDown := total - minAvailable - (newCount - availNew)
		canRemoveAvailable := availNew + availOld - minAvailable
		for _, p := range scaleDownOrder(pods.oldPods) {
			if maxScaledDown <= 0 {
				break
			}
			if podIsAvailable(p) {
				if canRemoveAvailable <= 0 {
					continue
				}
				canRemoveAvailable--
			}
			maxScaledDown--
			del(p, nil)
		}
	default:
		// Step 4: scale.
		if newCount < replicas {
			plan.create = replicas - newCount
		}
		if newCount > replicas {
			for _, p := range scaleDownOrder(pods.newPods)[:newCount-replicas] {
				del(p, nil)
			}
		}
	}
	return plan
}

// deploymentStatus computes a Deployment's status from its pods, in the
// words of Kubernetes' Deployment controller.
func deploymentStatus(d *api.Deployment, hash string, pods deploymentPods, replicas, unavailable int, now time.Time) api.DeploymentStatus {
	active := slices.Concat(pods.newPods, pods.oldPods)
	ready, available := 0, 0
	for _, p := range active {
		if c := p.Condition(api.PodReady); c != nil && c.Status == api.ConditionTrue {
			ready++
		}
		if podIsAvailable(p) {
			available++
		}
	}
	st := api.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            int32(len(active)),
		UpdatedReplicas:     int32(len(pods.newPods)),
		ReadyReplicas:       int32(ready),
		AvailableReplicas:   int32(available),
		UnavailableReplicas: int32(max(replicas-available, 0)),
	}
	rsName := d.Name + "-" + hash
	availableCond := api.DeploymentCondition{Type: api.DeploymentAvailable, Status: api.ConditionTrue,
		Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}
	if available < replicas-unavailable {
		availableCond = api.DeploymentCondition{Type: api.DeploymentAvailable, Status: api.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability."}
	}
	progressing := api.DeploymentCondition{Type: api.DeploymentProgressing, Status: api.ConditionTrue,
		Reason: "ReplicaSetUpdated", Message: fmt.Sprintf("ReplicaSet %q is progressing.", rsName)}
	if len(pods.newPods) == replicas && len(pods.oldPods) == 0 && available == replicas {
		progressing.Reason = "NewReplicaSetAvailable"
		progressing.Message = fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName)
	}
	for _, c := range []api.DeploymentCondition{availableCond, progressing} {
		c.LastUpdateTime = api.NewTime(now)
		c.LastTransitionTime = api.NewTime(now)
		for _, old := range d.Status.Conditions {
			if old.Type != c.Type {
				continue
			}
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
				c.LastUpdateTime = old.LastUpdateTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st
}

// sameStatus compares statuses ignoring nothing: timestamps only move when
// something else does, so equal means nothing to write.
func sameStatus(a, b api.DeploymentStatus) bool {
	if a.ObservedGeneration != b.ObservedGeneration || a.Replicas != b.Replicas || a.UpdatedReplicas != b.UpdatedReplicas ||
		a.ReadyReplicas != b.ReadyReplicas || a.AvailableReplicas != b.AvailableReplicas || a.UnavailableReplicas != b.UnavailableReplicas ||
		len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message ||
			!x.LastTransitionTime.Equal(y.LastTransitionTime.Time) || !x.LastUpdateTime.Equal(y.LastUpdateTime.Time) {
			return false
		}
	}
	return true
}

// newDeploymentPod is a pod of the Deployment's template, named and
// labelled as Kubernetes names a ReplicaSet's pods:
// <deployment>-<template hash>-<random suffix>.
func newDeploymentPod(d *api.Deployment, hash string) api.Pod {
	controller := true
	labels := maps.Clone(d.Spec.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[api.LabelPodTemplateHash] = hash
	spec := d.Spec.Template.Spec
	api.SetPodServiceAccount(&spec)
	return api.Pod{
		TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name:        d.Name + "-" + hash + "-" + randomSuffix(),
			Namespace:   d.Namespace,
			UID:         newUID(),
			Labels:      labels,
			Annotations: maps.Clone(d.Spec.Template.Annotations),
			OwnerReferences: []api.OwnerReference{{
				APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller,
			}},
		},
		Spec: spec,
	}
}

// randomSuffix is five characters of Kubernetes' name-suffix alphabet,
// which avoids vowels and look-alike digits.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

func countAvailable(pods []*api.Pod) int {
	n := 0
	for _, p := range pods {
		if podIsAvailable(p) {
			n++
		}
	}
	return n
}

// podIsAvailable: running, Ready and not being deleted.
func podIsAvailable(p *api.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != api.PodRunning {
		return false
	}
	c := p.Condition(api.PodReady)
	return c != nil && c.Status == api.ConditionTrue
}

func hasOldTerminating(terminating []*api.Pod, hash string) bool {
	for _, p := range terminating {
		if p.Labels[api.LabelPodTemplateHash] != hash {
			return true
		}
	}
	return false
}

// scaleDownOrder ranks pods for deletion as Kubernetes' ReplicaSet
// controller does: unbound before bound, not ready before ready, pods on
// nodes that hold more of these pods before those on emptier nodes, newer
// before older; then by name, for a deterministic order. The per-node
// count is taken anew after each pick, so deleting several keeps the
// spread (3/2/2 down to 4 leaves 2/1/1 or 1/2/1, never 0/2/2).
func scaleDownOrder(pods []*api.Pod) []*api.Pod {
	rest := slices.Clone(pods)
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	rank := func(p *api.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case !podIsAvailable(p):
			return 1
		default:
			return 2
		}
	}
	before := func(x, y *api.Pod) int {
		if c := cmp.Compare(rank(x), rank(y)); c != 0 {
			return c
		}
		if c := cmp.Compare(perNode[y.Spec.NodeName], perNode[x.Spec.NodeName]); c != 0 {
			return c
		}
		if c := y.CreationTimestamp.Compare(x.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	}
	out := make([]*api.Pod, 0, len(pods))
	for len(rest) > 0 {
		i := 0
		for j := 1; j < len(rest); j++ {
			if before(rest[j], rest[i]) < 0 {
				i = j
			}
		}
		p := rest[i]
		out = append(out, p)
		rest = slices.Delete(rest, i, i+1)
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]--
		}
	}
	return out
}
