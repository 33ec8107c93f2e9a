package controllers

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// isActive is Kubernetes' FilterActivePods: a pod that counts towards its
// ReplicaSet's replicas, neither finished nor being deleted. A pod being
// deleted is replaced at once, as in Kubernetes, while it terminates.
func isActive(p *api.Pod) bool {
	return !api.IsTerminal(p) && p.DeletionTimestamp == nil
}

// isReady: the pod's Ready condition is True.
func isReady(p *api.Pod) bool {
	c := api.GetPodCondition(p, api.PodReady)
	return c != nil && c.Status == api.ConditionTrue
}

// availability is Kubernetes' IsPodAvailable with the time it changes: a
// running pod, not being deleted, Ready for at least minReadySeconds. When
// the pod is Ready but not yet for long enough, wait is how long until it
// is available, so the controller can look again then.
func availability(p *api.Pod, minReadySeconds int32, now time.Time) (available bool, wait time.Duration) {
	if p.DeletionTimestamp != nil || p.Status.Phase != api.PodRunning {
		return false, 0
	}
	c := api.GetPodCondition(p, api.PodReady)
	if c == nil || c.Status != api.ConditionTrue {
		return false, 0
	}
	if minReadySeconds <= 0 || c.LastTransitionTime.IsZero() {
		return true, 0
	}
	due := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second)
	if !now.Before(due) {
		return true, 0
	}
	return false, due.Sub(now)
}

// podCounts are the counts of a set of pods that statuses and rollouts
// read: active pods, those ready, those available, and how soon the next
// one becomes available (0: none is waiting).
type podCounts struct {
	active, ready, available int
	recheck                  time.Duration
}

func countPods(pods []*api.Pod, minReadySeconds int32, now time.Time) podCounts {
	var c podCounts
	for _, p := range pods {
		if !isActive(p) {
			continue
		}
		c.active++
		if isReady(p) {
			c.ready++
		}
		ok, wait := availability(p, minReadySeconds, now)
		if ok {
			c.available++
		}
		c.recheck = soonest(c.recheck, wait)
	}
	return c
}

// scaleDownOrder ranks pods for deletion as Kubernetes' ReplicaSet
// controller does: unbound before bound, not available before available,
// pods on nodes that hold more related pods before those on emptier nodes,
// newer before older; then by name, for a deterministic order. related are
// the pods whose spread matters (those of all the ReplicaSets of the same
// Deployment, Kubernetes' "indirectly related pods"); pods is included in
// them. The per-node count is taken anew after each pick, so deleting
// several keeps the spread (3/2/2 down to 4 leaves 2/1/1 or 1/2/1, never
// 0/2/2).
func scaleDownOrder(pods, related []*api.Pod) []*api.Pod {
	rest := slices.Clone(pods)
	perNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" && isActive(p) {
			perNode[p.Spec.NodeName]++
		}
	}
	rank := func(p *api.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case p.Status.Phase != api.PodRunning || !isReady(p):
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

// burstReplicas is how many pods one controller pass creates at most, as
// kube-controller-manager's ReplicaSet controller (BurstReplicas, 500); it
// is also the FSM's bound on one CreatePods entry.
const burstReplicas = consensus.MaxPodsPerEntry

// slowStartBatch calls create for count pods in batches of 1, 2, 4, ...
// (at most burstReplicas each), as kube-controller-manager's slowStartBatch
// does: a ReplicaSet that cannot create pods (a template the FSM refuses,
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

// randomUID returns a random RFC 4122 version 4 UUID, the form Kubernetes
// uids take.
func randomUID() types.UID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
