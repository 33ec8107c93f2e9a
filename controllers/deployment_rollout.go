package controllers

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

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
	c := r.obj.DeepCopy()
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
	template := *d.Spec.Template.DeepCopy()
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[api.LabelPodTemplateHash] = hash
	var selector api.LabelSelector
	if d.Spec.Selector != nil {
		selector = *d.Spec.Selector.DeepCopy()
	}
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
