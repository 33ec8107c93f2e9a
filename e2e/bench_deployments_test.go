package e2e

import (
	"fmt"
	"testing"
	"time"
)

// benchPoll is how often the benchmarks look at the pods: a reading's resolution.
const benchPoll = 100 * time.Millisecond

// BenchmarkHostLossRecovery measures self-healing after a host is lost: 3 hosts run a
// 4-replica Deployment; the agent of a follower host that runs at least one replica is
// SIGKILLed and the host cut off (so its pods are gone from the network too). Reported:
// seconds from the kill until the Deployment has 4 Running replicas on the live hosts
// (s/recovery), and on the way until the leader marked the node NotReady (s/notready:
// gossip's failure detection) and the lost host's pods Failed (s/nodelost, which adds
// --node-lost-timeout, 10 s, to the detection). Anchors: Kubernetes' defaults take about 6
// minutes, Nomad about 20 s to even mark the node down; the aim is under 15 s.
//
//	go test ./e2e -run '^$' -bench BenchmarkHostLossRecovery -benchtime 1x -v
func BenchmarkHostLossRecovery(b *testing.B) {
	c := NewCluster(b, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	leader := c.Index(waitFormed(b, c, 3, 0))
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name, replicas = "web", 4
	c.MustApply(leader, example(b, "deployment.yaml"))
	pods := c.WaitSettled(leader, name, replicas, "", settleTimeout)

	var recovery, notReady, nodeLost time.Duration
	b.ResetTimer()
	for range b.N {
		leader = leaderIndex(b, c, hostsExcept(c, -1))
		spread := podsByNode(pods)
		victim := -1
		for i := range c.N() {
			if i != leader && spread[c.Name(i)] > 0 && (victim < 0 || spread[c.Name(i)] > spread[c.Name(victim)]) {
				victim = i
			}
		}
		if victim < 0 {
			b.Fatalf("no follower runs a replica: %v", pods)
		}
		lost := map[string]bool{}
		for _, p := range pods {
			if p.Spec.NodeName == c.Name(victim) {
				lost[p.Metadata.UID] = true
			}
		}

		c.Kill(victim)
		start := time.Now()
		c.Cut(victim)
		var notReadyAt, markedAt, doneAt time.Time
		deadline := start.Add(2 * recoverTimeout)
		for doneAt.IsZero() {
			if time.Now().After(deadline) {
				b.Fatalf("no %d Running replicas on the live hosts %v after the loss of %s", replicas, deadline.Sub(start), c.Name(victim))
			}
			now := time.Now()
			if notReadyAt.IsZero() {
				var nodes NodeList
				if err := c.apiGet(leader, "/api/v1/nodes", &nodes); err == nil {
					for _, n := range nodes.Items {
						if n.Metadata.Name == c.Name(victim) && !n.Ready() {
							notReadyAt = now
						}
					}
				}
			}
			current, err := c.DeploymentPods(leader, name)
			if err != nil {
				time.Sleep(benchPoll)
				continue
			}
			running, stale := 0, 0
			for _, p := range current {
				switch {
				case lost[p.Metadata.UID]:
					if !p.Finished() {
						stale++
					}
				case p.Status.Phase == "Running" && !p.Terminating():
					running++
				}
			}
			if markedAt.IsZero() && stale == 0 {
				markedAt = now
			}
			if running >= replicas && stale == 0 {
				doneAt = now
			}
			time.Sleep(benchPoll)
		}
		if notReadyAt.IsZero() {
			notReadyAt = markedAt // not seen between two polls
		}
		recovery += doneAt.Sub(start)
		notReady += notReadyAt.Sub(start)
		nodeLost += markedAt.Sub(start)
		b.Logf("lost %s (%d replicas): node NotReady after %v, its pods Failed (NodeLost) after %v, %d replicas Running on the others after %v",
			c.Name(victim), len(lost), notReadyAt.Sub(start).Round(benchPoll), markedAt.Sub(start).Round(benchPoll), replicas, doneAt.Sub(start).Round(benchPoll))

		// Bring the host back for the next round (and for the cleanup): it stops
		// its stale pods.
		b.StopTimer()
		c.Heal(victim)
		c.Start(victim)
		var uids []string
		for u := range lost {
			uids = append(uids, u)
		}
		c.WaitNoLeftovers(uids...)
		pods = c.WaitSettled(leader, name, replicas, "", settleTimeout)
		b.StartTimer()
	}
	b.ReportMetric(recovery.Seconds()/float64(b.N), "s/recovery")
	b.ReportMetric(notReady.Seconds()/float64(b.N), "s/notready")
	b.ReportMetric(nodeLost.Seconds()/float64(b.N), "s/nodelost")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRollout20 measures a rolling update of a 20-replica Deployment (25% surge,
// 25% unavailable) over 3 hosts: from the template change (a new env var value,
// applied) until `rollout status` returns (updated = available = 20; s/rollout), and
// until no pod of the old template is left in the API (s/oldgone).
//
//	go test ./e2e -run '^$' -bench BenchmarkRollout20 -benchtime 1x -v
func BenchmarkRollout20(b *testing.B) {
	c := NewCluster(b, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	waitFormed(b, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	const name, replicas = "r20", 20
	version := 1
	c.MustApply(0, deploymentManifest(name, replicas, fmt.Sprint(version)))
	pods := c.WaitSettled(0, name, replicas, "", 3*settleTimeout)

	var rollout, oldGone time.Duration
	b.ResetTimer()
	for range b.N {
		oldHash := pods[0].Hash()
		version++
		start := time.Now()
		c.MustApply(0, deploymentManifest(name, replicas, fmt.Sprint(version)))
		res := c.RunOn(0, "rollout", "status", "deployment", name, "--timeout", (3 * settleTimeout).String())
		statusDone := time.Now()
		if err := res.Err(); err != nil {
			b.Fatalf("rollout status: %v", err)
		}
		var goneAt time.Time
		for goneAt.IsZero() {
			current, err := c.DeploymentPods(0, name)
			now := time.Now()
			if err == nil {
				old := 0
				for _, p := range current {
					if p.Hash() == oldHash {
						old++
					}
				}
				if old == 0 {
					goneAt = now
				}
			}
			if now.Sub(statusDone) > podGoneTimeout {
				b.Fatalf("old pods still in the API %v after rollout status returned: %v (%v)", podGoneTimeout, current, err)
			}
			time.Sleep(benchPoll)
		}
		rollout += statusDone.Sub(start)
		oldGone += goneAt.Sub(start)
		b.StopTimer()
		pods = c.WaitSettled(0, name, replicas, oldHash, settleTimeout)
		b.Logf("rolled %d replicas to %s: rollout status done after %v, old pods gone after %v; per node %v",
			replicas, pods[0].Hash(), statusDone.Sub(start).Round(benchPoll), goneAt.Sub(start).Round(benchPoll), podsByNode(pods))
		b.StartTimer()
	}
	b.ReportMetric(rollout.Seconds()/float64(b.N), "s/rollout")
	b.ReportMetric(oldGone.Seconds()/float64(b.N), "s/oldgone")
	b.ReportMetric(0, "ns/op")
}
