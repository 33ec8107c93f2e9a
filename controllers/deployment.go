package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// deploymentView is what the Deployment controller reads about one
// Deployment: its ReplicaSets, the pods by controller uid, and the
// ReplicaSets of its namespace that no controller owns (which it may
// adopt).
type deploymentView struct {
	d       *api.Deployment
	owned   []*api.ReplicaSet
	pods    map[types.UID][]*api.Pod
	orphans []*api.ReplicaSet
}

// deploymentPlan is one pass of the Deployment controller over one
// Deployment, in the order it is carried out.
type deploymentPlan struct {
	// adopt, when set, is all the pass does: a Deployment stored before
	// ReplicaSets moves to them first.
	adopt *consensus.AdoptLegacyPods
	// claim, when set, is all the pass does: adopt orphaned ReplicaSets,
	// release relabelled ones.
	claim *consensus.ClaimObjects
	// writes are the ReplicaSets to create or update, new one first.
	writes []rsWrite
	// cleanup deletes old ReplicaSets beyond revisionHistoryLimit.
	cleanup []consensus.DeleteReplicaSet
	// status and revision are the Deployment's observed status and the
	// revision of its newest ReplicaSet ("" when it has none).
	status   api.DeploymentStatus
	revision string
	recheck  time.Duration
}

// rsWrite is one ReplicaSet the plan creates or changes, with the
// ScalingReplicaSet event its commit earns.
type rsWrite struct {
	create bool
	rs     *api.ReplicaSet
	event  string
}

// rsState is one of a Deployment's ReplicaSets as a plan works on it: the
// stored object (nil for the one the plan creates), the object as the
// plan wants it, and its pods.
type rsState struct {
	stored *api.ReplicaSet
	obj    *api.ReplicaSet
	pods   []*api.Pod
	counts podCounts
}

func (r *rsState) replicas() int32 { return replicasOf(r.obj.Spec.Replicas) }

// edit returns the planned object for the plan to change, copying the
// stored one first: most passes change nothing, and copy nothing.
func (r *rsState) edit() *api.ReplicaSet {
	if r.obj == r.stored {
		r.obj = r.stored.DeepCopy()
	}
	return r.obj
}

// available is how many of its pods count as available for the rollout:
// no more than its replicas, since the ReplicaSet controller is about to
// delete the surplus (the unavailable ones first).
func (r *rsState) available() int32 { return min(int32(r.counts.available), r.replicas()) }

// hasPods reports whether any of its pods has not finished, terminating
// ones included: Recreate waits for them.
func (r *rsState) hasPods() bool {
	return slices.ContainsFunc(r.pods, func(p *api.Pod) bool { return !api.IsTerminal(p) })
}

// notYetCreated is the creation time of the ReplicaSet a plan creates:
// later than any stored one.
var notYetCreated = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func (r *rsState) created() time.Time {
	if r.stored == nil {
		return notYetCreated
	}
	return r.stored.CreationTimestamp.Time
}

func (r *rsState) changed() bool {
	return r.stored == nil || r.obj != r.stored && (!equality.Semantic.DeepEqual(r.obj.Spec, r.stored.Spec) || !maps.Equal(r.obj.Annotations, r.stored.Annotations))
}

// planner carries one Deployment's plan while the steps of Kubernetes'
// syncDeployment fill it in.
type planner struct {
	d        *api.Deployment
	now      time.Time
	newUID   func() types.UID
	replicas int32
	surge    int32
	all      []*rsState // oldest first
	newRS    *rsState
	old      []*rsState // oldest first
}

// planDeployment is Kubernetes' syncDeployment without I/O:
//  1. a Deployment stored before ReplicaSets gets them (adoptLegacyPods);
//  2. claims: adopt orphaned ReplicaSets its selector matches, release
//     those it no longer matches;
//  3. the new ReplicaSet is the one whose template is the Deployment's
//     (the hash label aside); its revision becomes the highest, and it
//     takes the Deployment's annotations;
//  4. a Deployment being deleted only gets its status;
//  5. a paused Deployment, or one whose replicas changed (a ReplicaSet's
//     desired-replicas annotation differs), is scaled proportionally
//     across its ReplicaSets, without rolling out;
//  6. otherwise Recreate or RollingUpdate rolls the template out;
//  7. when the rollout is complete, old ReplicaSets beyond
//     revisionHistoryLimit are deleted;
//  8. the status.
func planDeployment(v deploymentView, now time.Time, newUID func() types.UID) deploymentPlan {
	d := v.d
	var plan deploymentPlan
	// Step 1.
	if legacy := v.pods[d.UID]; len(legacy) > 0 && d.DeletionTimestamp == nil {
		if a := adoptLegacyPods(d, legacy, newUID); a != nil {
			plan.adopt = a
			return plan
		}
	}
	// Step 2.
	if c := claimReplicaSets(v); c != nil {
		plan.claim = c
		return plan
	}

	// Step 3.
	p := &planner{d: d, now: now, newUID: newUID,
		replicas: int32(consensus.DesiredReplicas(d)), surge: int32(consensus.MaxSurge(d))}
	for _, rs := range v.owned {
		st := &rsState{stored: rs, obj: rs, pods: v.pods[rs.UID]}
		st.counts = countPods(st.pods, d.Spec.MinReadySeconds, now)
		p.all = append(p.all, st)
	}
	slices.SortFunc(p.all, byCreation)
	for _, r := range p.all {
		if p.newRS == nil && equalIgnoreHash(&r.obj.Spec.Template, &d.Spec.Template) {
			p.newRS = r
			continue
		}
		p.old = append(p.old, r)
	}
	newRevision := strconv.FormatInt(maxRevision(p.old)+1, 10)

	switch {
	case d.DeletionTimestamp != nil:
		// Step 4.
	case d.Spec.Paused || p.isScalingEvent():
		// Step 5.
		if p.newRS != nil {
			p.syncNewAnnotations(p.newRS, newRevision)
		}
		p.scale()
		if d.Spec.Paused {
			plan.cleanup = p.cleanup()
		}
	case d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType:
		// Step 6.
		if p.newRS != nil {
			p.syncNewAnnotations(p.newRS, newRevision)
		}
		if p.rolloutRecreate(newRevision) && deploymentComplete(d) {
			plan.cleanup = p.cleanup() // Step 7.
		}
	default:
		if p.newRS != nil {
			p.syncNewAnnotations(p.newRS, newRevision)
		}
		p.rolloutRolling(newRevision)
		if deploymentComplete(d) {
			plan.cleanup = p.cleanup() // Step 7.
		}
	}

	// The writes: the new ReplicaSet first, as Kubernetes scales up before
	// it scales down.
	writes := p.old
	if p.newRS != nil {
		writes = append([]*rsState{p.newRS}, p.old...)
	}
	for _, r := range writes {
		if r.changed() {
			plan.writes = append(plan.writes, rsWrite{create: r.stored == nil, rs: r.obj, event: scalingEvent(r)})
		}
	}
	if p.newRS != nil {
		plan.revision = p.newRS.obj.Annotations[api.AnnotationRevision]
	}
	// Step 8.
	plan.status, plan.recheck = p.status()
	return plan
}

// byCreation orders ReplicaSets oldest first, then by name.
func byCreation(a, b *rsState) int {
	if c := a.created().Compare(b.created()); c != 0 {
		return c
	}
	return cmp.Compare(a.obj.Name, b.obj.Name)
}

// scalingEvent is the ScalingReplicaSet message for a ReplicaSet whose
// replicas the plan changes, in Kubernetes' words, or "".
func scalingEvent(r *rsState) string {
	from := int32(0)
	if r.stored != nil {
		from = replicasOf(r.stored.Spec.Replicas)
	}
	to := r.replicas()
	switch {
	case to > from:
		return fmt.Sprintf("Scaled up replica set %s from %d to %d", r.obj.Name, from, to)
	case to < from:
		return fmt.Sprintf("Scaled down replica set %s from %d to %d", r.obj.Name, from, to)
	}
	return ""
}

// equalIgnoreHash is Kubernetes' EqualIgnoreHash: a ReplicaSet's template
// is the Deployment's when they are equal but for the pod-template-hash
// label, compared by their stored (JSON) forms.
func equalIgnoreHash(rsTemplate, dTemplate *api.PodTemplateSpec) bool {
	t := *rsTemplate
	if _, ok := t.Labels[api.LabelPodTemplateHash]; ok {
		t.Labels = maps.Clone(t.Labels)
		delete(t.Labels, api.LabelPodTemplateHash)
	}
	return equality.Semantic.DeepEqual(&t, dTemplate)
}

// maxRevision is the highest revision among the ReplicaSets.
func maxRevision(rss []*rsState) int64 {
	var m int64
	for _, r := range rss {
		m = max(m, api.Revision(&r.obj.ObjectMeta))
	}
	return m
}

// deploymentComplete is Kubernetes' DeploymentComplete, on the status the
// Deployment has: every replica updated and available, none old, for the
// current generation.
func deploymentComplete(d *api.Deployment) bool {
	st, replicas := d.Status, int32(consensus.DesiredReplicas(d))
	return st.UpdatedReplicas == replicas && st.Replicas == replicas && st.AvailableReplicas == replicas &&
		st.ObservedGeneration >= d.Generation
}

// syncDeployments is the Deployment controller's pass over every
// Deployment.
func (c *Apps) syncDeployments(ctx context.Context) time.Duration {
	now := c.now()
	deployments, _ := c.State.Deployments(nil)
	if len(deployments) == 0 {
		return 0
	}
	replicaSets, _ := c.State.ReplicaSets(nil)
	pods, _ := c.State.Pods(nil)
	byController := map[types.UID][]*api.Pod{}
	for _, p := range pods {
		if r := api.ControllerOf(&p.ObjectMeta); r != nil {
			byController[r.UID] = append(byController[r.UID], p)
		}
	}
	owned := map[types.UID][]*api.ReplicaSet{}
	orphans := map[string][]*api.ReplicaSet{}
	for _, rs := range replicaSets {
		if r := api.ControllerOf(&rs.ObjectMeta); r != nil {
			owned[r.UID] = append(owned[r.UID], rs)
		} else {
			orphans[rs.Namespace] = append(orphans[rs.Namespace], rs)
		}
	}
	var next time.Duration
	for _, d := range deployments {
		plan := planDeployment(deploymentView{d: d, owned: owned[d.UID], pods: byController, orphans: orphans[d.Namespace]}, now, c.newUID)
		next = soonest(next, plan.recheck)
		if err := c.executeDeployment(ctx, d, plan); err != nil {
			c.warn(ctx, "reconcile deployment", "deployment", &d.ObjectMeta, err)
			next = soonest(next, errorRetry)
		}
	}
	return next
}

// executeDeployment commits a plan in its order and stops at the first
// failure; the next pass plans again from the state that failure left.
func (c *Apps) executeDeployment(ctx context.Context, d *api.Deployment, plan deploymentPlan) error {
	switch {
	case plan.adopt != nil:
		resp, err := c.Commit.Commit(ctx, consensus.CmdAdoptLegacyPods, *plan.adopt)
		if err != nil {
			return errStep("move pods to ReplicaSets", err)
		}
		var res consensus.AdoptResult
		_ = json.Unmarshal(resp, &res)
		c.Log.Info("deployment moved to ReplicaSets", "deployment", d.Namespace+"/"+d.Name,
			"replicasets", res.ReplicaSets, "pods", res.Adopted)
		return nil
	case plan.claim != nil:
		return errStep("claim replicasets", c.commit(ctx, consensus.CmdClaimObjects, *plan.claim))
	}

	var events []api.Event
	defer func() { c.recordEvents(ctx, d.Namespace+"/"+d.Name, events) }()
	event := func(typ, reason, msg string) {
		events = append(events, newEvent("Deployment", &d.ObjectMeta, typ, reason, msg, "deployment-controller"))
	}
	for _, w := range plan.writes {
		if w.create {
			if err := c.commit(ctx, consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *w.rs}); err != nil {
				if ctx.Err() == nil {
					event(api.EventTypeWarning, "ReplicaSetCreateError", fmt.Sprintf("Failed to create new replica set %q: %v", w.rs.Name, err))
				}
				return errStep("create replicaset "+w.rs.Name, err)
			}
			c.Log.Info("created replicaset", "deployment", d.Namespace+"/"+d.Name, "replicaset", w.rs.Name,
				"replicas", replicasOf(w.rs.Spec.Replicas), "revision", w.rs.Annotations[api.AnnotationRevision])
		} else if err := c.commit(ctx, consensus.CmdUpdateReplicaSet, consensus.UpdateReplicaSet{ReplicaSet: *w.rs}); err != nil {
			return errStep("update replicaset "+w.rs.Name, err)
		}
		if w.event != "" {
			event(api.EventTypeNormal, "ScalingReplicaSet", w.event)
		}
	}
	for _, del := range plan.cleanup {
		if err := c.commit(ctx, consensus.CmdDeleteReplicaSet, del); err != nil {
			return errStep("delete old replicaset "+del.Name, err)
		}
		c.Log.Info("deleted old replicaset beyond the revision history limit", "deployment", d.Namespace+"/"+d.Name, "replicaset", del.Name)
	}
	if equality.Semantic.DeepEqual(d.Status, plan.status) && (plan.revision == "" || d.Annotations[api.AnnotationRevision] == plan.revision) {
		return nil
	}
	return errStep("record status", c.commit(ctx, consensus.CmdSetDeploymentStatus, consensus.SetDeploymentStatus{
		Namespace: d.Namespace, Name: d.Name, UID: d.UID, Status: plan.status, Revision: plan.revision}))
}
