package agent

import (
	"context"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/controllers"
)

// leadershipLoop runs the leader-only duties while this agent leads. raft's
// leader channel drops values for slow readers, so the loop also re-checks
// leadership on a ticker.
func (a *Agent) leadershipLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var (
		stop func()
		done chan struct{}
	)
	stopDuties := func() {
		if stop != nil {
			stop()
			<-done
			stop, done = nil, nil
			a.log.Info("stopped leader duties")
		}
	}
	defer stopDuties()
	for {
		leading := a.store.IsLeader()
		switch {
		case leading && stop == nil:
			dctx, cancel := context.WithCancel(ctx)
			stop, done = cancel, make(chan struct{})
			go func() {
				defer close(done)
				a.leaderDuties(dctx)
			}()
		case !leading && stop != nil:
			stopDuties()
		}
		select {
		case <-ctx.Done():
			return
		case <-a.store.LeaderCh():
		case <-tick.C:
		}
	}
}

// leaderDuties keeps the Raft configuration and the Node objects in step
// with gossip for as long as ctx lives. It first waits for every entry of
// the previous term to be applied, so it never acts on a stale State.
func (a *Agent) leaderDuties(ctx context.Context) {
	a.log.Info("became leader; starting leader duties")
	for ctx.Err() == nil {
		if err := a.store.Barrier(a.cfg.Raft.ApplyTimeout); err != nil {
			a.log.Warn("leader barrier failed, retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		break
	}
	// The cluster's Pod Security default is recorded before any controller
	// creates a pod, so that the state machine holds the first pods of a
	// new cluster to it too; a failure is retried on every tick below.
	commit := controllers.CommitFunc(a.commitForControllers)
	podSecurity := &controllers.PodSecurityDefaults{State: a.store.State(), Commit: commit,
		Log: a.log.With("component", "pod-security-admission"), Enforce: a.cfg.PodSecurityDefault}
	podSecurity.Reconcile(ctx)
	placementDone := make(chan struct{})
	go func() {
		defer close(placementDone)
		scheduler := &controllers.Scheduler{State: a.store.State(), Gossip: a.members,
			Commit: controllers.CommitFunc(a.commitForControllers), Log: a.log.With("component", "scheduler"), Config: a.cfg.Placement}
		scheduler.Run(ctx)
	}()
	defer func() { <-placementDone }()

	deploymentsDone := make(chan struct{})
	go func() {
		defer close(deploymentsDone)
		a.appsLoop(ctx)
	}()
	defer func() { <-deploymentsDone }()

	endpointSlicesDone := make(chan struct{})
	go func() {
		defer close(endpointSlicesDone)
		c := &controllers.EndpointSlices{State: a.store.State(), Commit: controllers.CommitFunc(a.commitForControllers),
			Log: a.log.With("component", "endpointslice-controller"), NewUID: apiserver.NewUID}
		c.Run(ctx)
	}()
	defer func() { <-endpointSlicesDone }()

	up := &upkeep{missingSince: map[string]time.Time{}}
	podCIDRs := &controllers.PodCIDRs{State: a.store.State(), Commit: commit, Log: a.log.With("component", "pod-cidr-controller"),
		Network: consensus.ClusterNetwork{ClusterCIDR: a.cfg.ClusterCIDR, NodeCIDRMaskSize: a.cfg.NodeCIDRMaskSize, ServiceCIDR: a.cfg.ServiceCIDR}}
	namespaces := &controllers.Namespaces{State: a.store.State(), Commit: commit, Log: a.log.With("component", "namespace-controller"),
		RootCA: a.tls.ca.CertPEM(), NewUID: apiserver.NewUID}
	nodeLifecycle := &controllers.NodeLifecycle{State: a.store.State(), Members: a.members, Commit: commit,
		Log: a.log.With("component", "node-lifecycle-controller"), LostTimeout: a.cfg.NodeLostTimeout}
	apiService := &controllers.APIServerService{State: a.store.State(), Servers: a.members, Port: int32(a.cfg.APIPort),
		Commit: commit, Log: a.log.With("component", "kubernetes-service-controller"), NewUID: apiserver.NewUID}
	podGC := &controllers.PodGC{State: a.store.State(), Commit: commit, Log: a.log.With("component", "pod-garbage-collector"),
		Quarantine: a.cfg.OrphanedPodTimeout}
	tick := time.NewTicker(a.cfg.ReconcileInterval)
	defer tick.Stop()
	lostTimer := time.NewTimer(time.Hour)
	lostTimer.Stop()
	defer lostTimer.Stop()
	for {
		changed := a.members.Changed()
		a.reconcileRaft(up)
		a.reconcileNodes(ctx)
		podCIDRs.Reconcile(ctx)
		podSecurity.Reconcile(ctx)
		namespaces.Reconcile(ctx)
		apiService.Reconcile(ctx)
		// Wake exactly when the next dead node becomes lost (or the next
		// orphaned pod is due), so its pods are replaced
		// --node-lost-timeout after its death, not up to a tick later.
		next := nodeLifecycle.Reconcile(ctx)
		if nextOrphan := podGC.Reconcile(ctx); nextOrphan > 0 && (next == 0 || nextOrphan < next) {
			next = nextOrphan
		}
		if next > 0 {
			lostTimer.Reset(next)
		} else {
			lostTimer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		case <-lostTimer.C:
		}
	}
}

// upkeep is the leader's memory between reconcile passes of the Raft
// configuration.
type upkeep struct {
	// missingSince records when a Raft server was first seen without a
	// gossip member, e.g. because this leader started after it died.
	missingSince map[string]time.Time
}

// reconcileRaft keeps the Raft configuration in step with gossip:
//  1. remove servers dead, left or unknown for longer than DeadServerTimeout;
//  2. add live members that are not servers: voters while there are fewer
//     than RaftVoters, non-voters after that;
//  3. promote live non-voters, by name, until there are RaftVoters voters.
//
// Removal comes first so that the voter count it frees is refilled in the
// same pass. Errors are logged and the pass retried at the next event.
func (a *Agent) reconcileRaft(up *upkeep) {
	servers, err := a.store.Servers()
	if err != nil {
		a.log.Warn("read raft configuration", "error", err)
		return
	}
	now := time.Now()
	inRaft := map[string]consensus.Server{}
	voters := 0
	for _, s := range servers {
		inRaft[s.ID] = s
		if s.Suffrage == consensus.Voter {
			voters++
		}
	}

	// Step 1: remove servers that are gone.
	for _, s := range servers {
		if s.ID == a.cfg.NodeName {
			continue
		}
		m, known := a.members.Get(s.ID)
		var goneFor time.Duration
		switch {
		case !known:
			first, ok := up.missingSince[s.ID]
			if !ok {
				first = now
				up.missingSince[s.ID] = now
			}
			goneFor = now.Sub(first)
		case m.Status == api.MemberDead || m.Status == api.MemberLeft:
			delete(up.missingSince, s.ID)
			goneFor = now.Sub(m.Since)
		default:
			delete(up.missingSince, s.ID)
			continue
		}
		if goneFor < a.cfg.DeadServerTimeout {
			continue
		}
		if err := a.store.RemoveServer(s.ID); err != nil {
			a.log.Warn("remove dead raft server", "server", s.ID, "error", err)
			return
		}
		a.log.Info("removed dead raft server", "server", s.ID, "suffrage", s.Suffrage, "gone_for", goneFor.Round(time.Second))
		delete(inRaft, s.ID)
		delete(up.missingSince, s.ID)
		if s.Suffrage == consensus.Voter {
			voters--
		}
	}

	// Step 2: add live members that are not servers yet, or whose Raft
	// address changed (an agent restarted on a new address).
	for _, m := range a.members.List() {
		if m.Status != api.MemberAlive || !m.MetaOK {
			continue
		}
		s, isServer := inRaft[m.Name]
		if isServer && s.Address == m.raftAddr() {
			continue
		}
		var err error
		suffrage := consensus.Nonvoter
		if isServer && s.Suffrage == consensus.Voter || !isServer && voters < a.cfg.RaftVoters {
			suffrage = consensus.Voter
		}
		if suffrage == consensus.Voter {
			err = a.store.AddVoter(m.Name, m.raftAddr())
		} else {
			err = a.store.AddNonvoter(m.Name, m.raftAddr())
		}
		if err != nil {
			a.log.Warn("add raft server", "server", m.Name, "suffrage", suffrage, "error", err)
			return
		}
		a.log.Info("added raft server", "server", m.Name, "address", m.raftAddr(), "suffrage", suffrage)
		if suffrage == consensus.Voter && !isServer {
			voters++
		}
		inRaft[m.Name] = consensus.Server{ID: m.Name, Address: m.raftAddr(), Suffrage: suffrage}
	}

	// Step 3: promote non-voters to restore the voter count.
	for _, m := range a.members.List() {
		if voters >= a.cfg.RaftVoters {
			break
		}
		s, ok := inRaft[m.Name]
		if !ok || s.Suffrage != consensus.Nonvoter || m.Status != api.MemberAlive {
			continue
		}
		if err := a.store.AddVoter(s.ID, s.Address); err != nil {
			a.log.Warn("promote non-voter", "server", s.ID, "error", err)
			return
		}
		a.log.Info("promoted non-voter to voter", "server", s.ID)
		voters++
	}
}
