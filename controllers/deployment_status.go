package controllers

import (
	"fmt"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// status is Kubernetes' calculateStatus and its conditions, from the pods
// of the Deployment's ReplicaSets as read (fresher than their statuses):
// replicas counts the active pods of every ReplicaSet, updatedReplicas
// those of the new one; Available is True while at least replicas −
// maxUnavailable are available; Progressing says ReplicaSetUpdated during
// a rollout and NewReplicaSetAvailable once the new ReplicaSet has every
// replica available and no old pod is left. It also returns how soon a
// pod becomes available (minReadySeconds), or 0.
func (p *planner) status() (api.DeploymentStatus, time.Duration) {
	d := p.d
	var active, ready, available, updated int
	var recheck time.Duration
	for _, r := range p.all {
		active += r.counts.active
		ready += r.counts.ready
		available += r.counts.available
		recheck = soonest(recheck, r.counts.recheck)
	}
	if p.newRS != nil {
		updated = p.newRS.counts.active
	}
	replicas := int(p.replicas)
	st := api.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            int32(active),
		UpdatedReplicas:     int32(updated),
		ReadyReplicas:       int32(ready),
		AvailableReplicas:   int32(available),
		UnavailableReplicas: int32(max(replicas-available, 0)),
	}
	rsName := d.Name + "-" + api.TemplateHash(&d.Spec.Template)
	if p.newRS != nil {
		rsName = p.newRS.obj.Name
	}
	availableCond := api.DeploymentCondition{Type: api.DeploymentAvailable, Status: api.ConditionTrue,
		Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."}
	if available < replicas-consensus.MaxUnavailable(d) {
		availableCond = api.DeploymentCondition{Type: api.DeploymentAvailable, Status: api.ConditionFalse,
			Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability."}
	}
	progressing := api.DeploymentCondition{Type: api.DeploymentProgressing, Status: api.ConditionTrue,
		Reason: "ReplicaSetUpdated", Message: fmt.Sprintf("ReplicaSet %q is progressing.", rsName)}
	if updated == replicas && active == updated && available == replicas {
		progressing.Reason = "NewReplicaSetAvailable"
		progressing.Message = fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName)
	}
	for _, c := range []api.DeploymentCondition{availableCond, progressing} {
		c.LastUpdateTime = api.NewTime(p.now)
		c.LastTransitionTime = api.NewTime(p.now)
		if old := api.GetDeploymentCondition(d, c.Type); old != nil {
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
				c.LastUpdateTime = old.LastUpdateTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	return st, recheck
}
