package controllers

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

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
	pods    map[string][]*api.Pod
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
		r.obj = cloneReplicaSet(r.stored)
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
	return slices.ContainsFunc(r.pods, func(p *api.Pod) bool { return !p.IsTerminal() })
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
	return r.stored == nil || r.obj != r.stored && (!sameJSON(r.obj.Spec, r.stored.Spec) || !maps.Equal(r.obj.Annotations, r.stored.Annotations))
}

// planner carries one Deployment's plan while the steps of Kubernetes'
// syncDeployment fill it in.
type planner struct {
	d        *api.Deployment
	now      time.Time
	newUID   func() string
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
func planDeployment(v deploymentView, now time.Time, newUID func() string) deploymentPlan {
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
	return sameJSON(&t, dTemplate)
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

// isScalingEvent is Kubernetes' isScalingEvent: an active ReplicaSet
// whose desired-replicas annotation is not the Deployment's replicas means
// the Deployment itself was scaled since.
func (p *planner) isScalingEvent() bool {
	for _, r := range p.all {
		if r.replicas() == 0 {
			continue
		}
		if v, ok := r.obj.Annotations[api.AnnotationDesiredReplicas]; ok && v != strconv.Itoa(int(p.replicas)) {
			return true
		}
	}
	return false
}

// skipCopyAnnotations are the Deployment annotations Kubernetes never
// copies to its ReplicaSets.
var skipCopyAnnotations = map[string]bool{
	api.AnnotationLastApplied:           true,
	api.AnnotationRevision:              true,
	api.AnnotationRevisionHistory:       true,
	api.AnnotationDesiredReplicas:       true,
	api.AnnotationMaxReplicas:           true,
	"deprecated.deployment.rollback.to": true,
}

// maxRevisionHistoryChars bounds the revision-history annotation, as
// Kubernetes does (its --deployment-controller revision history limit).
const maxRevisionHistoryChars = 2000

// syncNewAnnotations is Kubernetes' SetNewReplicaSetAnnotations for the
// existing new ReplicaSet, and the minReadySeconds it shares with the
// Deployment: the Deployment's annotations are copied, and its revision
// becomes the highest, the revisions it had before kept in
// revision-history (a rollback made it new again).
func (p *planner) syncNewAnnotations(r *rsState, newRevision string) {
	c := cloneReplicaSet(r.obj)
	setNewReplicaSetAnnotations(p.d, c, newRevision)
	c.Spec.MinReadySeconds = p.d.Spec.MinReadySeconds
	if c.Spec.MinReadySeconds != r.obj.Spec.MinReadySeconds || !maps.Equal(c.Annotations, r.obj.Annotations) {
		r.obj = c
	}
}

func setNewReplicaSetAnnotations(d *api.Deployment, rs *api.ReplicaSet, newRevision string) {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if !skipCopyAnnotations[k] {
			rs.Annotations[k] = v
		}
	}
	oldRevision, had := rs.Annotations[api.AnnotationRevision]
	oldN, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil && oldRevision != "" {
		return // not a number: Kubernetes leaves it alone too
	}
	newN, _ := strconv.ParseInt(newRevision, 10, 64)
	if oldN >= newN {
		return
	}
	rs.Annotations[api.AnnotationRevision] = newRevision
	if !had {
		return
	}
	history := rs.Annotations[api.AnnotationRevisionHistory]
	if history == "" {
		history = oldRevision
	} else {
		history += "," + oldRevision
	}
	for len(history) > maxRevisionHistoryChars {
		_, rest, ok := strings.Cut(history, ",")
		if !ok {
			break
		}
		history = rest
	}
	rs.Annotations[api.AnnotationRevisionHistory] = history
}

// scaleTo sets a ReplicaSet's replicas, and with them the replicas
// annotations: the Deployment's replicas and replicas + maxSurge
// (Kubernetes' scaleReplicaSet).
func (p *planner) scaleTo(r *rsState, n int32) {
	n = max(n, 0)
	desired, most := strconv.Itoa(int(p.replicas)), strconv.Itoa(int(p.replicas+p.surge))
	if r.replicas() == n && r.obj.Spec.Replicas != nil &&
		r.obj.Annotations[api.AnnotationDesiredReplicas] == desired && r.obj.Annotations[api.AnnotationMaxReplicas] == most {
		return
	}
	rs := r.edit()
	rs.Spec.Replicas = &n
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[api.AnnotationDesiredReplicas] = desired
	rs.Annotations[api.AnnotationMaxReplicas] = most
}

// createNewRS makes the Deployment's ReplicaSet for its current template,
// as Kubernetes' getNewReplicaSet does: named <deployment>-<hash>, its
// template, labels and selector carrying pod-template-hash, controlled by
// the Deployment, with the Deployment's annotations, revision and
// replicas annotations. It joins p.all as the newest.
func (p *planner) createNewRS(revision string, replicas int32) *rsState {
	d := p.d
	hash := api.TemplateHash(&d.Spec.Template)
	var template api.PodTemplateSpec
	cloneInto(&d.Spec.Template, &template)
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[api.LabelPodTemplateHash] = hash
	var selector api.LabelSelector
	cloneInto(d.Spec.Selector, &selector)
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[api.LabelPodTemplateHash] = hash
	rs := &api.ReplicaSet{
		TypeMeta: api.TypeMeta{Kind: "ReplicaSet", APIVersion: "apps/v1"},
		ObjectMeta: api.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			UID:             p.newUID(),
			Labels:          maps.Clone(template.Labels),
			OwnerReferences: []api.OwnerReference{api.NewControllerRef("apps/v1", "Deployment", d.Name, d.UID)},
		},
		Spec: api.ReplicaSetSpec{MinReadySeconds: d.Spec.MinReadySeconds, Selector: &selector, Template: template},
	}
	setNewReplicaSetAnnotations(d, rs, revision)
	r := &rsState{obj: rs}
	rs.Spec.Replicas = new(int32)
	p.scaleTo(r, replicas)
	p.newRS = r
	p.all = append(p.all, r)
	return r
}

// totalReplicas is the sum of the ReplicaSets' replicas as planned.
func totalReplicas(rss []*rsState) int32 {
	var n int32
	for _, r := range rss {
		n += r.replicas()
	}
	return n
}

func totalAvailable(rss []*rsState) int32 {
	var n int32
	for _, r := range rss {
		n += r.available()
	}
	return n
}

// newRSNewReplicas is Kubernetes' NewRSNewReplicas for a rolling update:
// the new ReplicaSet grows while all ReplicaSets together stay within
// replicas + maxSurge, and never beyond replicas.
func (p *planner) newRSNewReplicas(newReplicas int32) int32 {
	maxTotal := p.replicas + p.surge
	current := totalReplicas(p.all)
	if current >= maxTotal {
		return newReplicas
	}
	return newReplicas + min(maxTotal-current, p.replicas-newReplicas)
}

// rolloutRolling is Kubernetes' rolloutRolling: create the new ReplicaSet
// if needed, scale it up within maxSurge, then scale the old ones down
// within maxUnavailable. Kubernetes does the two halves in two syncs; one
// plan does both, the second seeing the sizes the first chose, which is
// the same decision one pass sooner.
func (p *planner) rolloutRolling(newRevision string) {
	if p.newRS == nil {
		p.createNewRS(newRevision, 0)
	}
	// reconcileNewReplicaSet.
	r := p.newRS
	switch {
	case r.replicas() > p.replicas:
		p.scaleTo(r, p.replicas)
	case r.replicas() < p.replicas:
		p.scaleTo(r, p.newRSNewReplicas(r.replicas()))
	}
	p.reconcileOldReplicaSets()
}

// reconcileOldReplicaSets is Kubernetes' reconcileOldReplicaSets: old
// ReplicaSets shrink while replicas − maxUnavailable pods stay available,
// the unhealthy replicas going first (they cost no availability).
func (p *planner) reconcileOldReplicaSets() {
	if totalReplicas(p.old) == 0 {
		return
	}
	minAvailable := p.replicas - int32(consensus.MaxUnavailable(p.d))
	newUnavailable := p.newRS.replicas() - p.newRS.available()
	maxScaledDown := totalReplicas(p.all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return
	}
	// cleanupUnhealthyReplicas: oldest first.
	var cleaned int32
	for _, r := range p.old {
		if cleaned >= maxScaledDown {
			break
		}
		unhealthy := r.replicas() - r.available()
		if r.replicas() == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unhealthy)
		p.scaleTo(r, r.replicas()-n)
		cleaned += n
	}
	// scaleDownOldReplicaSetsForRollingUpdate: oldest first, within what
	// availability allows.
	available := totalAvailable(p.all)
	if available <= minAvailable {
		return
	}
	budget := available - minAvailable
	var done int32
	for _, r := range p.old {
		if done >= budget {
			break
		}
		if r.replicas() == 0 {
			continue
		}
		n := min(r.replicas(), budget-done)
		p.scaleTo(r, r.replicas()-n)
		done += n
	}
}

// rolloutRecreate is Kubernetes' rolloutRecreate: scale every old
// ReplicaSet to zero, wait until none of their pods is left (terminating
// ones included), then create or scale the new ReplicaSet to replicas.
// It reports whether the new ReplicaSet was sized (the rollout's last
// step).
func (p *planner) rolloutRecreate(newRevision string) bool {
	scaledDown := false
	for _, r := range p.old {
		if r.replicas() > 0 {
			p.scaleTo(r, 0)
			scaledDown = true
		}
	}
	if scaledDown {
		return false
	}
	for _, r := range p.old {
		if r.hasPods() {
			return false
		}
	}
	if p.newRS == nil {
		p.createNewRS(newRevision, p.replicas)
		return true
	}
	if p.newRS.replicas() != p.replicas {
		p.scaleTo(p.newRS, p.replicas)
	}
	return true
}

// scale is Kubernetes' DeploymentController.scale, for a paused Deployment
// or one whose replicas changed: the only active ReplicaSet (or the
// newest) takes the replicas; a saturated new ReplicaSet lets the old ones
// go; otherwise, in a rolling update, the difference is shared among the
// active ReplicaSets in proportion to their size, so that scaling in the
// middle of a rollout neither hastens nor slows it.
func (p *planner) scale() {
	if r := p.activeOrLatest(); r != nil {
		if r.replicas() != p.replicas || r.obj.Annotations[api.AnnotationDesiredReplicas] != strconv.Itoa(int(p.replicas)) {
			p.scaleTo(r, p.replicas)
		}
		return
	}
	if p.isSaturated() {
		for _, r := range p.old {
			if r.replicas() > 0 {
				p.scaleTo(r, 0)
			}
		}
		return
	}
	if p.d.Spec.Strategy.Type == api.RecreateDeploymentStrategyType {
		return
	}
	var active []*rsState
	for _, r := range p.all {
		if r.replicas() > 0 {
			active = append(active, r)
		}
	}
	allowed := int32(0)
	if p.replicas > 0 {
		allowed = p.replicas + p.surge
	}
	toAdd := allowed - totalReplicas(active)
	// Larger first; on a tie, newer first when growing, older first when
	// shrinking (Kubernetes' ReplicaSetsBySizeNewer and BySizeOlder).
	slices.SortStableFunc(active, func(a, b *rsState) int {
		if c := cmp.Compare(b.replicas(), a.replicas()); c != 0 {
			return c
		}
		if toAdd > 0 {
			return byCreation(b, a)
		}
		return byCreation(a, b)
	})
	sizes := make([]int32, len(active))
	var added int32
	for i, r := range active {
		sizes[i] = r.replicas()
		if toAdd != 0 {
			share := p.proportion(r, toAdd, added)
			sizes[i] += share
			added += share
		}
	}
	if len(active) > 0 && toAdd != 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0) // leftovers to the largest
	}
	for i, r := range active {
		p.scaleTo(r, sizes[i])
	}
}

// activeOrLatest is Kubernetes' FindActiveOrLatest: the only ReplicaSet
// with replicas, or the newest when none has any, or nil when several do.
func (p *planner) activeOrLatest() *rsState {
	if len(p.all) == 0 {
		return nil
	}
	var active []*rsState
	for _, r := range p.all {
		if r.replicas() > 0 {
			active = append(active, r)
		}
	}
	switch len(active) {
	case 0:
		if p.newRS != nil {
			return p.newRS
		}
		return p.old[len(p.old)-1]
	case 1:
		return active[0]
	}
	return nil
}

// isSaturated is Kubernetes' IsSaturated: the new ReplicaSet has all the
// replicas, says so, and has them all available.
func (p *planner) isSaturated() bool {
	r := p.newRS
	return r != nil && r.replicas() == p.replicas &&
		r.obj.Annotations[api.AnnotationDesiredReplicas] == strconv.Itoa(int(p.replicas)) &&
		int32(r.counts.available) == p.replicas
}

// proportion is Kubernetes' GetProportion: the share of toAdd for r, by
// its size against the max-replicas it was scaled for, never more than
// what is left to add (or remove).
func (p *planner) proportion(r *rsState, toAdd, added int32) int32 {
	if r.replicas() == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if p.replicas == 0 {
		fraction = -r.replicas()
	} else {
		annotated, err := strconv.Atoi(r.obj.Annotations[api.AnnotationMaxReplicas])
		if err != nil || annotated <= 0 {
			annotated = int(p.d.Status.Replicas)
		}
		if annotated <= 0 {
			return 0
		}
		size := float64(r.replicas()) * float64(p.replicas+p.surge) / float64(annotated)
		fraction = int32(size+0.5) - r.replicas()
	}
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

// cleanup is Kubernetes' cleanupDeployment: the old ReplicaSets beyond
// revisionHistoryLimit, lowest revision first, are deleted if they are
// scaled to zero, have no pod left and their status is current.
func (p *planner) cleanup() []consensus.DeleteReplicaSet {
	limit := p.d.Spec.RevisionHistoryLimit
	if limit == nil {
		return nil
	}
	var alive []*rsState
	for _, r := range p.old {
		if r.stored != nil && r.stored.DeletionTimestamp == nil {
			alive = append(alive, r)
		}
	}
	diff := len(alive) - int(*limit)
	if diff <= 0 {
		return nil
	}
	slices.SortStableFunc(alive, func(a, b *rsState) int {
		if c := cmp.Compare(api.Revision(&a.obj.ObjectMeta), api.Revision(&b.obj.ObjectMeta)); c != 0 {
			return c
		}
		return byCreation(a, b)
	})
	var out []consensus.DeleteReplicaSet
	for _, r := range alive[:diff] {
		rs := r.stored
		if replicasOf(rs.Spec.Replicas) != 0 || r.replicas() != 0 || rs.Status.Replicas != 0 || len(r.pods) > 0 ||
			rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, consensus.DeleteReplicaSet{Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID})
	}
	return out
}

// claimReplicaSets is Kubernetes' ClaimReplicaSets: the Deployment adopts
// the ReplicaSets of its namespace that no controller owns and its
// selector matches (unless it is being deleted), and releases those it
// owns that the selector no longer matches. nil when there is nothing to
// claim.
func claimReplicaSets(v deploymentView) *consensus.ClaimObjects {
	d := v.d
	sel, err := api.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil
	}
	c := consensus.ClaimObjects{Namespace: d.Namespace, OwnerKind: "Deployment", OwnerName: d.Name, OwnerUID: d.UID}
	if d.DeletionTimestamp == nil {
		for _, rs := range v.orphans {
			if rs.DeletionTimestamp == nil && sel.Matches(labels.Set(rs.Labels)) {
				c.Adopt = append(c.Adopt, consensus.ObjectKey{Name: rs.Name, UID: rs.UID})
			}
		}
	}
	for _, rs := range v.owned {
		if !sel.Matches(labels.Set(rs.Labels)) {
			c.Release = append(c.Release, consensus.ObjectKey{Name: rs.Name, UID: rs.UID})
		}
	}
	if len(c.Adopt)+len(c.Release) == 0 {
		return nil
	}
	return &c
}

// adoptLegacyPods plans the move of a Deployment stored before ReplicaSets
// (its pods name it as their controller) to one ReplicaSet per
// pod-template-hash its pods carry, sized to the active pods of that hash
// so that nothing is created, deleted or restarted: the rollout goes on
// from where it was. The current template's ReplicaSet is made as a new
// one would be; an older template, which the Deployment no longer holds,
// is taken from its oldest pod (spec without the node). Revisions follow
// the age of each hash's oldest pod, the current template's last. nil if
// no pod carries a hash (nothing to move them to).
func adoptLegacyPods(d *api.Deployment, legacy []*api.Pod, newUID func() string) *consensus.AdoptLegacyPods {
	current := api.TemplateHash(&d.Spec.Template)
	type group struct {
		hash   string
		oldest *api.Pod
		active int32
	}
	groups := map[string]*group{}
	for _, pod := range legacy {
		h := pod.Labels[api.LabelPodTemplateHash]
		if h == "" {
			continue
		}
		g := groups[h]
		if g == nil {
			g = &group{hash: h}
			groups[h] = g
		}
		if g.oldest == nil || pod.CreationTimestamp.Before(g.oldest.CreationTimestamp.Time) ||
			pod.CreationTimestamp.Equal(g.oldest.CreationTimestamp.Time) && pod.Name < g.oldest.Name {
			g.oldest = pod
		}
		if isActive(pod) {
			g.active++
		}
	}
	if len(groups) == 0 {
		return nil
	}
	ordered := slices.SortedFunc(maps.Values(groups), func(a, b *group) int {
		switch {
		case a.hash == current:
			return 1
		case b.hash == current:
			return -1
		}
		if c := a.oldest.CreationTimestamp.Compare(b.oldest.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.hash, b.hash)
	})
	p := &planner{d: d, newUID: newUID, replicas: int32(consensus.DesiredReplicas(d)), surge: int32(consensus.MaxSurge(d))}
	out := &consensus.AdoptLegacyPods{Namespace: d.Namespace, Name: d.Name, UID: d.UID}
	for i, g := range ordered {
		revision := strconv.Itoa(i + 1)
		r := p.createNewRS(revision, g.active)
		if g.hash != current {
			// The template of an older revision, as its pods show it.
			t := &r.obj.Spec.Template
			t.Labels = maps.Clone(g.oldest.Labels)
			t.Annotations = maps.Clone(g.oldest.Annotations)
			t.Spec = api.PodSpec{}
			cloneInto(&g.oldest.Spec, &t.Spec)
			t.Spec.NodeName = ""
			r.obj.Name = d.Name + "-" + g.hash
			r.obj.Labels = maps.Clone(t.Labels)
			r.obj.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] = g.hash
			r.obj.Labels[api.LabelPodTemplateHash] = g.hash
			t.Labels[api.LabelPodTemplateHash] = g.hash
		}
		out.ReplicaSets = append(out.ReplicaSets, *r.obj)
	}
	return out
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
	byController := map[string][]*api.Pod{}
	for _, p := range pods {
		if r := api.ControllerOf(&p.ObjectMeta); r != nil {
			byController[r.UID] = append(byController[r.UID], p)
		}
	}
	owned := map[string][]*api.ReplicaSet{}
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
	if sameJSON(d.Status, plan.status) && (plan.revision == "" || d.Annotations[api.AnnotationRevision] == plan.revision) {
		return nil
	}
	return errStep("record status", c.commit(ctx, consensus.CmdSetDeploymentStatus, consensus.SetDeploymentStatus{
		Namespace: d.Namespace, Name: d.Name, UID: d.UID, Status: plan.status, Revision: plan.revision}))
}

// cloneReplicaSet deep-copies a ReplicaSet.
func cloneReplicaSet(rs *api.ReplicaSet) *api.ReplicaSet {
	var out api.ReplicaSet
	cloneInto(rs, &out)
	return &out
}

// cloneInto deep-copies in into out through their JSON form, which stays
// in step with the types' fields as they grow.
func cloneInto(in, out any) {
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		panic(fmt.Sprintf("deep copy %T: %v", in, err))
	}
}
