package controllers

import (
	"cmp"
	"maps"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

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
func adoptLegacyPods(d *api.Deployment, legacy []*api.Pod, newUID func() types.UID) *consensus.AdoptLegacyPods {
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
		if g.oldest == nil || pod.CreationTimestamp.Time.Before(g.oldest.CreationTimestamp.Time) ||
			pod.CreationTimestamp.Time.Equal(g.oldest.CreationTimestamp.Time) && pod.Name < g.oldest.Name {
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
			t.Spec = *g.oldest.Spec.DeepCopy()
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
