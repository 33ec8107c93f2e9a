package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// maxPodEvents bounds the SuccessfulCreate and SuccessfulDelete events one
// pass records per ReplicaSet, as Kubernetes' event correlator stops
// recording similar events after ten: scaling to thousands of pods must
// not add thousands of events to the log.
const maxPodEvents = 10

// replicaSetPlan is one pass of the ReplicaSet controller over one
// ReplicaSet.
type replicaSetPlan struct {
	// claim, when set, is all the pass does: adopt orphans and release
	// relabelled pods first, then size the ReplicaSet on the new ownership.
	claim *consensus.ClaimObjects
	// create is how many pods to add; deletes are the pods to remove:
	// finished ones at once, then the surplus, gracefully.
	create  int
	deletes []consensus.DeletePod
	// status is what the pass observed (conditions aside, which the
	// execution sets from its errors).
	status  api.ReplicaSetStatus
	recheck time.Duration
}

// planReplicaSet is Kubernetes' syncReplicaSet without I/O:
//  1. claim: adopt the active orphans of the namespace that the selector
//     matches (unless the ReplicaSet is being deleted), release owned
//     pods it no longer matches;
//  2. remove finished pods (a NodeLost pod's node cannot confirm, so it
//     goes at once), which frees their names and slots;
//  3. unless the ReplicaSet is being deleted, create pods up to
//     spec.replicas, or delete the surplus in scaleDownOrder (related
//     pods decide the spread);
//  4. observe the status.
func planReplicaSet(rs *api.ReplicaSet, owned, orphans, related []*api.Pod, now time.Time) replicaSetPlan {
	var plan replicaSetPlan
	sel, err := api.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		sel = labels.Nothing() // the FSM validated it; never adopt on a bad one
	}

	// Step 1: claim.
	claim := consensus.ClaimObjects{Namespace: rs.Namespace, OwnerKind: "ReplicaSet", OwnerName: rs.Name, OwnerUID: rs.UID}
	if rs.DeletionTimestamp == nil {
		for _, p := range orphans {
			if isActive(p) && sel.Matches(labels.Set(p.Labels)) {
				claim.Adopt = append(claim.Adopt, consensus.ObjectKey{Name: p.Name, UID: p.UID})
			}
		}
	}
	for _, p := range owned {
		if isActive(p) && !sel.Matches(labels.Set(p.Labels)) {
			claim.Release = append(claim.Release, consensus.ObjectKey{Name: p.Name, UID: p.UID})
		}
	}
	if len(claim.Adopt)+len(claim.Release) > 0 {
		plan.claim = &claim
		return plan
	}

	// Step 2: finished pods.
	var active []*api.Pod
	zero := int64(0)
	for _, p := range owned {
		switch {
		case api.IsTerminal(p):
			plan.deletes = append(plan.deletes, consensus.DeletePod{Namespace: p.Namespace, Name: p.Name, UID: p.UID, GracePeriodSeconds: &zero})
		case p.DeletionTimestamp == nil:
			active = append(active, p)
		}
	}

	// Step 3: replicas.
	if rs.DeletionTimestamp == nil {
		want := int(replicasOf(rs.Spec.Replicas))
		switch diff := len(active) - want; {
		case diff < 0:
			plan.create = -diff
		case diff > 0:
			for _, p := range scaleDownOrder(active, related)[:min(diff, burstReplicas)] {
				plan.deletes = append(plan.deletes, consensus.DeletePod{Namespace: p.Namespace, Name: p.Name, UID: p.UID})
			}
		}
	}

	// Step 4: status, of the pods as they were (the next pass sees the
	// result of this one, as Kubernetes' status lags its actions).
	counts := countPods(owned, rs.Spec.MinReadySeconds, now)
	templateLabels := labels.SelectorFromSet(rs.Spec.Template.Labels)
	fully := 0
	for _, p := range active {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fully++
		}
	}
	plan.status = api.ReplicaSetStatus{
		Replicas:             int32(counts.active),
		FullyLabeledReplicas: int32(fully),
		ReadyReplicas:        int32(counts.ready),
		AvailableReplicas:    int32(counts.available),
		ObservedGeneration:   rs.Generation,
		Conditions:           rs.Status.Conditions,
	}
	plan.recheck = counts.recheck
	return plan
}

// replicasOf is spec.replicas, 1 when unset (the API defaults it).
func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// newReplicaSetPod is a pod of rs's template, named and owned as
// Kubernetes' ReplicaSet controller makes it: <replicaset>-<suffix>, its
// template's labels and annotations, rs as its controller; with the
// ServiceAccount token volume unless the pod or sa (nil when it does not
// exist) opts out, as ServiceAccount admission adds it to the pods
// kube-controller-manager creates; and, on the host's network, hostPorts
// defaulted as kube-apiserver defaults those pods'.
func newReplicaSetPod(rs *api.ReplicaSet, uid types.UID, sa *api.ServiceAccount) api.Pod {
	spec := *rs.Spec.Template.Spec.DeepCopy()
	api.SetPodServiceAccount(&spec)
	api.SetPodHostNetworkPorts(&spec)
	if api.ShouldAutomountServiceAccountToken(&spec, sa) {
		api.MountServiceAccountToken(&spec, api.ServiceAccountTokenVolumePrefix+randomSuffix())
	}
	return api.Pod{
		TypeMeta: api.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{
			Name:            rs.Name + "-" + randomSuffix(),
			Namespace:       rs.Namespace,
			UID:             uid,
			Labels:          maps.Clone(rs.Spec.Template.Labels),
			Annotations:     maps.Clone(rs.Spec.Template.Annotations),
			OwnerReferences: []api.OwnerReference{api.NewControllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)},
		},
		Spec: spec,
	}
}

// The ReplicaSet controller's back-off after a failed pass, that of
// kube-controller-manager's workqueue (DefaultControllerRateLimiter's
// per-item exponential limiter): 5 ms, doubling at each consecutive
// failure, up to 1,000 s.
const (
	replicaSetBackoffBase = 5 * time.Millisecond
	replicaSetBackoffMax  = 1000 * time.Second
)

// replicaSetBackoff is the retry state of a ReplicaSet whose last pass
// failed (a pod template the state machine refuses: Pod Security, a
// missing ServiceAccount). Kubernetes requeues such a ReplicaSet with a
// growing delay; here every pass is triggered by any change of the state,
// and each failure itself changes it (its FailedCreate event), so without
// the back-off a refused template would be retried, and an event written,
// as fast as the log commits.
type replicaSetBackoff struct {
	failures int
	until    time.Time
	// generation is the ReplicaSet's when it failed: a new spec is
	// tried at once, as an update enqueues the ReplicaSet upstream.
	generation int64
}

// backingOff returns how long rs is still to be left alone after its last
// failure, or 0 when it is due.
func (c *Apps) backingOff(rs *api.ReplicaSet, now time.Time) time.Duration {
	b := c.backoff[rs.UID]
	if b == nil {
		return 0
	}
	if b.generation != rs.Generation {
		delete(c.backoff, rs.UID)
		return 0
	}
	return b.until.Sub(now)
}

// failed records a failed pass of rs and returns the delay before the
// next one.
func (c *Apps) failed(rs *api.ReplicaSet, now time.Time) time.Duration {
	if c.backoff == nil {
		c.backoff = map[types.UID]*replicaSetBackoff{}
	}
	b := c.backoff[rs.UID]
	if b == nil || b.generation != rs.Generation {
		b = &replicaSetBackoff{generation: rs.Generation}
		c.backoff[rs.UID] = b
	}
	delay := replicaSetBackoffMax
	if b.failures < 30 { // 5 ms << 30 is far past the cap
		delay = min(replicaSetBackoffBase<<b.failures, replicaSetBackoffMax)
	}
	b.failures++
	b.until = now.Add(delay)
	return delay
}

// syncReplicaSets is the ReplicaSet controller's pass over every
// ReplicaSet; the statuses it observed are committed in one entry.
func (c *Apps) syncReplicaSets(ctx context.Context) time.Duration {
	now := c.now()
	replicaSets, _ := c.State.ReplicaSets(nil)
	pods, _ := c.State.Pods(nil)
	owned := map[types.UID][]*api.Pod{}
	orphans := map[string][]*api.Pod{}
	for _, p := range pods {
		if r := api.ControllerOf(&p.ObjectMeta); r != nil {
			owned[r.UID] = append(owned[r.UID], p)
		} else if isActive(p) {
			orphans[p.Namespace] = append(orphans[p.Namespace], p)
		}
	}
	// The pods of the ReplicaSets of one Deployment spread together.
	siblings := map[types.UID][]*api.ReplicaSet{}
	for _, rs := range replicaSets {
		if r := api.ControllerOf(&rs.ObjectMeta); r != nil {
			siblings[r.UID] = append(siblings[r.UID], rs)
		}
	}

	var next time.Duration
	var statuses consensus.SetReplicaSetStatuses
	for _, rs := range replicaSets {
		related := owned[rs.UID]
		if r := api.ControllerOf(&rs.ObjectMeta); r != nil {
			related = nil
			for _, sib := range siblings[r.UID] {
				related = append(related, owned[sib.UID]...)
			}
		}
		if wait := c.backingOff(rs, now); wait > 0 {
			next = soonest(next, wait)
			continue
		}
		plan := planReplicaSet(rs, owned[rs.UID], orphans[rs.Namespace], related, now)
		next = soonest(next, plan.recheck)
		if plan.claim != nil {
			if err := c.commit(ctx, consensus.CmdClaimObjects, *plan.claim); err != nil {
				c.warn(ctx, "claim pods", "replicaset", &rs.ObjectMeta, err)
				next = soonest(next, errorRetry)
			}
			continue
		}
		err := c.manageReplicas(ctx, rs, plan)
		if err != nil {
			c.warn(ctx, "reconcile replicaset", "replicaset", &rs.ObjectMeta, err)
			next = soonest(next, c.failed(rs, now))
		} else {
			delete(c.backoff, rs.UID)
		}
		st := plan.status
		st.Conditions = failureConditions(rs.Status.Conditions, err, plan, now)
		if !equality.Semantic.DeepEqual(st, rs.Status) {
			statuses.Updates = append(statuses.Updates, consensus.ReplicaSetStatusUpdate{
				Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID, Status: st})
		}
	}
	if len(c.backoff) > 0 {
		live := make(map[types.UID]bool, len(replicaSets))
		for _, rs := range replicaSets {
			live[rs.UID] = true
		}
		for uid := range c.backoff {
			if !live[uid] {
				delete(c.backoff, uid) // the ReplicaSet is gone
			}
		}
	}
	if len(statuses.Updates) > 0 {
		if err := c.commit(ctx, consensus.CmdSetReplicaSetStatuses, statuses); err != nil && ctx.Err() == nil {
			c.Log.Warn("record replicaset statuses", "error", err)
			next = soonest(next, errorRetry)
		}
	}
	return next
}

// manageReplicas carries out a plan's creations and deletions: pods are
// created in slow-start batches (at most burstReplicas per pass; the
// commits change the state, which runs the next pass for the rest), and
// the deletions go in one entry. Events say what happened, in Kubernetes'
// words, up to maxPodEvents of each kind per pass.
func (c *Apps) manageReplicas(ctx context.Context, rs *api.ReplicaSet, plan replicaSetPlan) error {
	var events []api.Event
	defer func() { c.recordEvents(ctx, rs.Namespace+"/"+rs.Name, events) }()
	event := func(typ, reason, msg string) {
		events = append(events, newEvent("ReplicaSet", &rs.ObjectMeta, typ, reason, msg, "replicaset-controller"))
	}
	if plan.create > 0 {
		want := min(plan.create, burstReplicas)
		_, err := slowStartBatch(want, func(n int) error {
			batch := make([]api.Pod, n)
			sa, _ := c.State.ServiceAccount(rs.Namespace, serviceAccountOf(&rs.Spec.Template.Spec))
			for i := range batch {
				batch[i] = newReplicaSetPod(rs, c.newUID(), sa)
			}
			if err := c.createPods(ctx, batch); err != nil {
				return err
			}
			for _, p := range batch {
				if len(events) < maxPodEvents {
					event(api.EventTypeNormal, "SuccessfulCreate", "Created pod: "+p.Name)
				}
			}
			return nil
		})
		if err != nil {
			event(api.EventTypeWarning, "FailedCreate", "Error creating: "+err.Error())
			return &replicaFailure{reason: "FailedCreate", err: errStep("create pods", err)}
		}
	}
	if len(plan.deletes) > 0 {
		if err := c.commit(ctx, consensus.CmdDeletePods, consensus.DeletePods{Deletes: plan.deletes}); err != nil {
			event(api.EventTypeWarning, "FailedDelete", "Error deleting: "+err.Error())
			return &replicaFailure{reason: "FailedDelete", err: errStep("delete pods", err)}
		}
		for i, d := range plan.deletes {
			if i < maxPodEvents {
				event(api.EventTypeNormal, "SuccessfulDelete", "Deleted pod: "+d.Name)
			}
		}
	}
	return nil
}

// createPods commits one batch: a single pod as CreatePod, so that the
// state machine's refusal comes back with its reason (slow start always
// tries one pod first), a larger batch as CreatePods, which skips the pods
// it refuses and answers how many it created.
func (c *Apps) createPods(ctx context.Context, batch []api.Pod) error {
	if len(batch) == 1 {
		return c.commit(ctx, consensus.CmdCreatePod, consensus.CreatePod{Pod: batch[0]})
	}
	resp, err := c.Commit.Commit(ctx, consensus.CmdCreatePods, consensus.CreatePods{Pods: batch})
	if err != nil {
		return err
	}
	var created int
	if err := json.Unmarshal(resp, &created); err != nil {
		return fmt.Errorf("decode CreatePods response %q: %w", resp, err)
	}
	if created < len(batch) {
		return fmt.Errorf("the state machine created %d of %d pods", created, len(batch))
	}
	return nil
}

// replicaFailure is a failed creation or deletion, with the reason of the
// ReplicaFailure condition it sets.
type replicaFailure struct {
	reason string
	err    error
}

// Error is the failure's own message: the condition's and the event's.
func (e *replicaFailure) Error() string { return e.err.Error() }

// Unwrap lets callers find the state machine's *api.Status inside.
func (e *replicaFailure) Unwrap() error { return e.err }

// failureConditions is Kubernetes' ReplicaFailure bookkeeping: set (True,
// FailedCreate or FailedDelete, the error) when the pass failed to create
// or delete pods, removed once a pass that had something to do succeeds.
func failureConditions(conds []api.ReplicaSetCondition, err error, plan replicaSetPlan, now time.Time) []api.ReplicaSetCondition {
	var out []api.ReplicaSetCondition
	var old *api.ReplicaSetCondition
	for i := range conds {
		if conds[i].Type == api.ReplicaSetReplicaFailure {
			old = &conds[i]
			continue
		}
		out = append(out, conds[i])
	}
	var rf *replicaFailure
	switch {
	case errors.As(err, &rf):
		c := api.ReplicaSetCondition{Type: api.ReplicaSetReplicaFailure, Status: api.ConditionTrue,
			Reason: rf.reason, Message: rf.err.Error(), LastTransitionTime: api.NewTime(now)}
		if old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		out = append(out, c)
	case err == nil && (plan.create > 0 || len(plan.deletes) > 0):
		// Succeeded: the failure is over.
	case old != nil:
		out = append(out, *old)
	}
	return out
}

// serviceAccountOf is the ServiceAccount pods of a template run as.
func serviceAccountOf(spec *api.PodSpec) string {
	s := api.PodSpec{ServiceAccountName: spec.ServiceAccountName, DeprecatedServiceAccount: spec.DeprecatedServiceAccount}
	api.SetPodServiceAccount(&s)
	return s.ServiceAccountName
}
